"""B2: write throughput against the bound — vendors into ServiceTitan, AR invoices into Fusion.

    .venv/bin/python bench/write_bench.py --write      # 1,200 vendors, 400 invoices (~40 s)
    .venv/bin/python bench/write_bench.py --smoke      # 40 vendors, 16 invoices

Two child processes serve the simulators on 127.0.0.1 (the simulators' minimal seed):

- ServiceTitan with 150 ms added to every request (DESIGN §5) and its own limit of 60 requests/s
  per app key and tenant. ``--vendors`` ``create_vendor`` calls go out from ``--workers`` tasks
  through one ``STClient`` per rate in ``--st-rates``; its token bucket has that rate and, as the
  connector sets it, a burst of 60 minus the rate (so no second holds more than 60). Target: at
  least 90 % of 60/s sustained, with no 429 storm (429s counted by the simulator).
- Fusion with 400 ms added to each ``POST receivablesInvoices``. ``--invoices`` ``create_invoice``
  calls go out from more tasks than the cap through one ``FusionClient`` with
  ``max_concurrency = 8``: the cap allows 8 / 0.4 s = 20 POSTs/s. Target: at least 85 % of that.

Rates are counted over the whole run (first request to last answer), token request included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import benchkit

ST_LATENCY_MS = 150.0
POST_LATENCY_MS = 400.0
FUSION_CAP = 8
NOTE = (
    "How to read the vendor rows: the client's bucket releases `rate` requests a second with a "
    "burst of 60 − rate, so no one-second window can hold more than the gateway's 60. The "
    "connector's default is 50/s (burst 10, DESIGN §5); a connection that needs more sets "
    "`rate_limit_per_second` up to 55 (burst 5). A bucket above 55/s leaves too little room for the scheduling jitter between "
    "release and arrival: the simulator's sliding second then counts 61 now and then, and each "
    "429 costs its task the whole `Retry-After`. On a machine whose cores are busy with other "
    "work the event loop releases late and the rate falls below the bucket's.\n"
)


def serve(args: argparse.Namespace) -> int:
    from ml_connector.sandbox.faults import FaultConfig
    from ml_connector.sandbox.faults.config import Latency, RouteLatency
    from ml_connector.sandbox.fusion import seed_minimal
    from ml_connector.sandbox.server import build_sandbox

    box = build_sandbox(
        populate=False,  # the minimal seed: the business unit, customer and accounts below
        st_faults=FaultConfig(latency=Latency(fixed_ms=ST_LATENCY_MS)),
        fusion_faults=FaultConfig(
            route_latency=[
                RouteLatency(
                    path="*/receivablesInvoices",
                    method="POST",
                    latency=Latency(fixed_ms=POST_LATENCY_MS),
                )
            ]
        ),
    )
    seed_minimal(box.fusion)
    print(f"ready {args.serve}", flush=True)
    benchkit.run_uvicorn(box.fusion_app if args.serve == "fusion" else box.st_app, args.port)
    return 0


def counts(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/__admin/counts", timeout=30) as answer:  # noqa: S310 - loopback
        data: dict[str, Any] = json.loads(answer.read())
    return data


async def vendors(settings: Any, n: int, workers: int, rate: float, run: str) -> dict[str, Any]:
    from ml_connector.clock import SystemClock
    from ml_connector.http import RateLimiterRegistry
    from ml_connector.systems.servicetitan.payloads import AddressInput, VendorInput

    clock = SystemClock()
    st_settings = settings.servicetitan.model_copy(update={"rate_limit_per_second": rate})
    # a registry of this run's own, the bucket as the connector builds it (burst: 60 − rate)
    limiters = RateLimiterRegistry(clock=clock, rate=rate, burst=st_settings.rate_limit_burst)
    st = benchkit.st_client(
        settings.model_copy(update={"servicetitan": st_settings}), clock, limiters=limiters
    )
    queue = list(range(n))
    ids: list[int] = []

    async def worker() -> None:
        while queue:
            i = queue.pop()
            vendor = VendorInput(
                name=f"Bench Vendor {run} {i:06d}",
                address=AddressInput(street=f"{i} Main St", city="Austin", state="TX", zip="78701"),
                tax_rate=Decimal("0"),
            )
            ids.append(await st.create_vendor(vendor))

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        await st.aclose()
    return {"seconds": time.perf_counter() - started, "created": len(set(ids))}


async def invoices(settings: Any, n: int, workers: int, run: str) -> dict[str, Any]:
    from ml_connector.clock import SystemClock
    from ml_connector.sandbox.fusion import SEED

    fusion = benchkit.fusion_client(settings, SystemClock())
    queue = list(range(n))
    made: list[int] = []

    async def worker() -> None:
        while queue:
            i = queue.pop()
            created = await fusion.create_invoice(
                {
                    "TransactionNumber": f"{run}-{i:06d}",
                    "TransactionSource": SEED.transaction_source,
                    "TransactionType": SEED.transaction_type,
                    "BusinessUnit": SEED.business_units[0],
                    "BillToCustomerNumber": SEED.customer,
                    "BillToSite": "Acme Phoenix",
                    "InvoiceCurrencyCode": "USD",
                    "TransactionDate": "2026-11-02",
                    "PaymentTerms": "30 Net",
                    "receivablesInvoiceLines": [
                        {
                            "LineNumber": 1,
                            "Description": "AC repair",
                            "Quantity": 1,
                            "UnitSellingPrice": "100.00",
                        }
                    ],
                    "receivablesInvoiceDistributions": [
                        {
                            "AccountClass": "Revenue",
                            "AccountCombination": SEED.revenue,
                            "InvoiceLineNumber": 1,
                        },
                        {"AccountClass": "Receivable", "AccountCombination": SEED.receivable},
                    ],
                }
            )
            made.append(created.CustomerTransactionId)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(workers)))
    finally:
        peak = fusion.concurrency_cap.peak
        await fusion.aclose()
    return {"seconds": time.perf_counter() - started, "created": len(set(made)), "peak": peak}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendors", type=int, default=1200)
    parser.add_argument("--invoices", type=int, default=400)
    parser.add_argument(
        "--st-rates",
        default="50,55",
        help="client bucket rates to try, requests/s (50 is the connector's default; the burst "
        "is 60 − rate)",
    )
    parser.add_argument("--workers", type=int, default=16, help="vendor tasks (invoices: 2x cap)")
    parser.add_argument("--smoke", action="store_true", help="40 vendors, 16 invoices")
    parser.add_argument("--write", action="store_true", help="update ## B2 in RESULTS.md")
    parser.add_argument("--serve", choices=("fusion", "servicetitan"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args)
    if args.smoke:
        args.vendors, args.invoices = 40, 16
    print(benchkit.machine())
    script = Path(__file__).resolve()
    with benchkit.serve_children(script, ["fusion", "servicetitan"], []) as kids:
        base = benchkit.connection_settings(kids["fusion"].url, kids["servicetitan"].url)
        settings = base.model_copy(
            update={"fusion": base.fusion.model_copy(update={"max_concurrency": FUSION_CAP})}
        )
        runs = []
        for n, text in enumerate(args.st_rates.split(",")):
            rate = float(text)
            spec = f"{rate:g}:{max(1.0, 60.0 - rate):g}"
            before = counts(kids["servicetitan"].url)
            cpu0, own0 = kids["servicetitan"].cpu(), time.process_time()
            v = asyncio.run(vendors(settings, args.vendors, args.workers, rate, f"r{n}"))
            after = counts(kids["servicetitan"].url)
            v["sim_cpu"] = kids["servicetitan"].cpu() - cpu0
            v["own_cpu"] = time.process_time() - own0
            v.update(
                bucket=spec,
                rate=v["created"] / v["seconds"],
                share=v["created"] / v["seconds"] / 60,
            )
            v["requests"] = after["apiRequestsTotal"] - before["apiRequestsTotal"]
            v["limited"] = after["rateLimited"] - before["rateLimited"]
            runs.append(v)
            print(
                f"B2 servicetitan vendors, bucket {spec}: {v['created']} in {v['seconds']:.1f} s = "
                f"{v['rate']:.1f}/s ({100 * v['share']:.0f} % of 60/s), {v['requests']} API "
                f"requests, {v['limited']} answered 429; CPU simulator {v['sim_cpu']:.1f} s, "
                f"client {v['own_cpu']:.1f} s"
            )
        f_before = counts(kids["fusion"].url)
        inv = asyncio.run(invoices(settings, args.invoices, 2 * FUSION_CAP, f"B2{time.time_ns()}"))
        f_after = counts(kids["fusion"].url)
    f_posts = sum(f_after["api_requests"].values()) - sum(f_before["api_requests"].values())
    inv["rate"] = inv["created"] / inv["seconds"]
    inv["requests"] = f_posts
    inv["bound"] = FUSION_CAP / (POST_LATENCY_MS / 1000)
    inv["share"] = inv["rate"] / inv["bound"]
    print(
        f"B2 fusion AR invoices: {inv['created']} in {inv['seconds']:.1f} s = {inv['rate']:.1f}/s "
        f"({100 * inv['share']:.0f} % of {inv['bound']:.0f}/s), peak in flight {inv['peak']}, "
        f"{f_posts} API requests"
    )
    if args.write:
        write(runs, inv, args)
    return 0


def write(runs: list[dict[str, Any]], inv: dict[str, Any], args: argparse.Namespace) -> None:
    verdicts = [
        f"bucket {v['bucket']}: "
        + (
            "met"
            if v["share"] >= 0.9 and v["limited"] <= max(1, v["requests"] // 100)
            else "NOT met"
        )
        for v in runs
    ]
    body = (
        "## B2 Write throughput against the bound\n\n"
        f"- Machine: {benchkit.machine()}; load average at the end {benchkit.load_average()}.\n"
        f"- Date: {benchkit.now_text()}.\n"
        f"- Command: `{benchkit.command_line()}`.\n"
        f"- What: ServiceTitan simulator with {ST_LATENCY_MS:.0f} ms per request and its 60 "
        f"requests/s limit; {args.vendors:,} `create_vendor` calls from {args.workers} tasks "
        f"through one `STClient` per run, its token bucket rate:burst as in the table (burst = 60 − rate; the connector's default is 50:10, DESIGN §5, and a benchmark of the ceiling sets the rate it aims at). Fusion simulator with "
        f"{POST_LATENCY_MS:.0f} ms per `POST receivablesInvoices`; {args.invoices:,} "
        f"`create_invoice` calls from {2 * FUSION_CAP} tasks through one `FusionClient` with "
        f"`max_concurrency = {FUSION_CAP}`. Simulators in child processes on 127.0.0.1; requests "
        "and 429s counted by the simulators.\n\n"
        + benchkit.table(
            ["writes", "records", "wall", "rate", "bound", "share", "requests", "429s"],
            [
                *(
                    [
                        f"ServiceTitan vendors, bucket {v['bucket']}",
                        f"{v['created']:,}",
                        f"{v['seconds']:.1f} s",
                        f"{v['rate']:.1f}/s",
                        "60/s",
                        f"{100 * v['share']:.0f} %",
                        f"{v['requests']:,}",
                        f"{v['limited']}",
                    ]
                    for v in runs
                ),
                [
                    "Fusion AR invoices",
                    f"{inv['created']:,}",
                    f"{inv['seconds']:.1f} s",
                    f"{inv['rate']:.1f}/s",
                    f"{inv['bound']:.0f}/s",
                    f"{100 * inv['share']:.0f} %",
                    f"{inv['requests']:,}",
                    "—",
                ],
            ],
        )
        + "\n\nTargets: vendors ≥ 90 % of 60/s with no 429 storm: "
        + "; ".join(verdicts)
        + "; AR invoices ≥ 85 % of what the cap allows: "
        + f"{'met' if inv['share'] >= 0.85 else 'NOT met'} (peak in flight {inv['peak']}).\n\n"
        + NOTE
    )
    benchkit.write_section("B2", body)


if __name__ == "__main__":
    sys.exit(main())
