"""B1: read throughput — Fusion suppliers and ServiceTitan export invoices, ours and two peers.

    .venv/bin/python bench/read_bench.py --write                        # 100,000 + 200,000, all
    .venv/bin/python bench/read_bench.py --clients ours --smoke          # 500 + 1,000, seconds

Two child processes build the sandbox data (``populate``: ``--suppliers`` Fusion suppliers with
addresses, sites and contacts in one, ``--invoices`` ServiceTitan invoices in the other) and serve
one simulator each on 127.0.0.1 with DESIGN §5 latency: 200 ms per Fusion request, 150 ms per
ServiceTitan request (token requests included). Then each reader runs in its own process, one
after the other, against the same simulators:

- ``ours``: ml-connector's clients, on the event loop ``ml-connector run`` uses (uvloop) —
  ``FusionClient.read_windows("suppliers", …, windows=4)``
  (concurrent ``LastUpdateDate`` windows, keyset pages of 500, ``max_concurrency`` 4) and
  ``STClient.invoice_feed()`` (the export feed with one page of prefetch);
- ``dlt``: dlt's ``rest_api`` source (``bench/peers/dlt_read.py``), resources iterated directly;
- ``airbyte``: the airbyte-cdk declarative runner on a manifest (``bench/peers/airbyte_read.py``).

Peers are installed from PyPI by this script into ``bench/.venvs/<peer>`` on first use. All
readers use OAuth client credentials against the simulators' token endpoints. Records/s is
records read over the reader's wall time; requests and token requests are counted by the
simulators; peak RSS is the reader process's (``wait4`` rusage).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import benchkit

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
PEERS = {
    "dlt": ("dlt", HERE / "peers" / "dlt_read.py"),
    "airbyte": ("airbyte-cdk", HERE / "peers" / "airbyte_read.py"),
}
FUSION_MS, ST_MS = 200.0, 150.0
UNUSED = "http://127.0.0.1:9"  # the URL of a simulator not served in this run (never called)
NOTE = (
    "How to read the Fusion rows: the simulator answers keyset and offset pages from an index "
    "(sandbox/fusion/index.py), as a pod does, so a page costs it about 30 ms of CPU and the "
    "200 ms latency is most of what a sequential reader waits for. `ours` reads disjoint "
    "`LastUpdateDate` windows side by side under the pod's cap of 4 requests in flight; the "
    "generator stamps all 100,000 suppliers within seconds of each other, so equal slices of "
    "time would leave one window with nearly all of them: each window looks up its newest row "
    "once, and a reader with rows left while a slot is free hands the upper half of what it has "
    "left to a new reader. The peers page one offset after the other.\n\n"
    "How to read the ServiceTitan rows: every reader follows the one export cursor, page after "
    "page (401 requests at 150 ms is 60 s of latency at least); the rest is the simulator's CPU "
    "per page and the reader's, on 2 shared cores. ml-connector parses every invoice into its "
    "typed model as it reads (about 30 µs of CPU per invoice: amounts, ids, enum values and UTC "
    "timestamps are read by pydantic-core natively), "
    "where the peers hand back plain dicts; "
    "it overlaps that work with the next page's request (one page of prefetch, the parse handing "
    "the loop to the prefetch every 50 rows), which does not remove it from the shared cores.\n"
)

# --- the children: build and serve -----------------------------------------------------------------


def serve(args: argparse.Namespace) -> int:
    from ml_connector.sandbox.data import populate
    from ml_connector.sandbox.faults import FaultConfig
    from ml_connector.sandbox.faults.config import Latency
    from ml_connector.sandbox.server import build_sandbox

    started = time.perf_counter()
    box = build_sandbox(
        populate=False,
        fusion_faults=FaultConfig(latency=Latency(fixed_ms=FUSION_MS)),
        st_faults=FaultConfig(latency=Latency(fixed_ms=ST_MS)),
    )
    if args.serve == "fusion":
        populate(box.fusion, box.servicetitan, seed=7, suppliers=args.suppliers, invoices=3)
        size = f"suppliers={len(box.fusion.suppliers)}"
    else:
        populate(box.fusion, box.servicetitan, seed=7, suppliers=3, invoices=args.invoices)
        size = f"invoices={len(box.servicetitan.tables['invoices'])}"
    built = time.perf_counter() - started
    print(f"ready {args.serve}: {size} built_s={built:.0f}", flush=True)
    benchkit.run_uvicorn(box.fusion_app if args.serve == "fusion" else box.st_app, args.port)
    return 0


# --- a reader process: ours -------------------------------------------------------------------------


async def read_ours(system: str, fusion_url: str, st_url: str) -> dict[str, Any]:
    from ml_connector.clock import SystemClock
    from ml_connector.flows.base import BEGINNING

    clock = SystemClock()
    settings = benchkit.connection_settings(fusion_url, st_url)
    records = 0
    started = time.perf_counter()
    if system == "fusion":
        fusion = benchkit.fusion_client(settings, clock)
        try:
            async for page in fusion.read_windows("suppliers", BEGINNING, clock.now(), windows=4):
                records += len(page.records)
        finally:
            await fusion.aclose()
    else:
        st = benchkit.st_client(settings, clock)
        try:
            async with st.invoice_feed() as feed:
                async for batch in feed:
                    records += len(batch.items)
        finally:
            await st.aclose()
    return {"records": records, "seconds": time.perf_counter() - started}


# --- this process: run the readers ------------------------------------------------------------------


def ensure_peer(peer: str) -> Path:
    """The peer's virtualenv python, created and installed from PyPI if it is not there yet."""
    package, _ = PEERS[peer]
    venv = VENVS / package
    python = venv / "bin" / "python"
    probe = "import dlt" if peer == "dlt" else "import airbyte_cdk"
    if python.exists():
        found = subprocess.run([python, "-c", probe], capture_output=True, check=False)  # noqa: S603
        if found.returncode == 0:
            return python
    print(f"installing {package} into {venv} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)  # noqa: S603
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)  # noqa: S603
    subprocess.run([python, "-m", "pip", "install", "--quiet", package], check=True)  # noqa: S603
    return python


def counts(url: str) -> tuple[int, int]:
    """(API requests, token requests) the simulator has answered so far."""
    with urllib.request.urlopen(f"{url}/__admin/counts", timeout=60) as answer:  # noqa: S310 - loopback
        data = json.loads(answer.read())
    if "apiRequestsTotal" in data:
        return int(data["apiRequestsTotal"]), int(data["tokenRequests"])
    return sum(data["api_requests"].values()), int(data["token_requests"])


def run_reader(
    command: list[str], env: dict[str, str], timeout: float
) -> tuple[dict[str, Any], float]:
    """Run one reader process; its last stdout line is JSON. Returns it and the peak RSS in MB."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)  # noqa: S603
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.strip())
        if time.monotonic() > deadline:
            process.kill()
            break
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"{command[1]} ended with {process.returncode}: {lines[-3:]}")
    return json.loads(lines[-1]), usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suppliers", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=200_000)
    parser.add_argument("--clients", default="ours,dlt,airbyte")
    parser.add_argument("--systems", default="fusion,servicetitan", help="which simulators")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="read each system this many times per reader, the readers' order reversed every "
        "other round; the table shows the median run (the noise of a shared machine evens out)",
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="per reader run")
    parser.add_argument("--smoke", action="store_true", help="500 suppliers, 1,000 invoices")
    parser.add_argument("--write", action="store_true", help="update ## B1 in RESULTS.md")
    parser.add_argument("--serve", choices=("fusion", "servicetitan"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--read", choices=("fusion", "servicetitan"), help=argparse.SUPPRESS)
    parser.add_argument("--fusion-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--st-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args)
    if args.read:
        # on the loop the connector's long-running commands use (``cli.common.run_loop``: uvloop)
        from ml_connector.cli.common import run_loop

        out: dict[str, Any] = {}

        async def main() -> None:
            out.update(await read_ours(args.read, args.fusion_url, args.st_url))

        run_loop()(main())
        print(json.dumps(out), flush=True)
        return 0
    if args.smoke:
        args.suppliers, args.invoices = 500, 1000
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    systems = [x.strip() for x in args.systems.split(",") if x.strip()]
    pythons = {c: ensure_peer(c) for c in clients if c != "ours"}
    print(benchkit.machine(), flush=True)
    script = Path(__file__).resolve()
    extra = [f"--suppliers={args.suppliers}", f"--invoices={args.invoices}"]
    runs: list[dict[str, Any]] = []
    with benchkit.serve_children(script, systems, extra) as kids:
        urls = {name: kid.url for name, kid in kids.items()}
        ready = [k.ready for k in kids.values()]
        env = dict(os.environ)
        env.update(bench_env(urls))
        for system in systems:
            for round_no in range(max(1, args.rounds)):
                order = clients if round_no % 2 == 0 else list(reversed(clients))
                for client in order:
                    runs.append(read_once(system, client, urls, env, pythons, args, round_no))
    rows = [median_run(runs, system, client) for system in systems for client in clients]
    if args.write:
        write(rows, ready, args)
    return 0


def read_once(
    system: str,
    client: str,
    urls: dict[str, str],
    env: dict[str, str],
    pythons: dict[str, Path],
    args: argparse.Namespace,
    round_no: int,
) -> dict[str, Any]:
    """One reader over one system, in its own process; its figures, or its error."""
    script = Path(__file__).resolve()
    if client == "ours":
        command = [
            sys.executable,
            str(script),
            f"--read={system}",
            f"--fusion-url={urls.get('fusion', UNUSED)}",
            f"--st-url={urls.get('servicetitan', UNUSED)}",
        ]
    else:
        command = [str(pythons[client]), str(PEERS[client][1]), system]
    before = counts(urls[system])
    try:
        out, rss = run_reader(command, env, args.timeout)
    except RuntimeError as exc:
        print(f"B1 {system} {client} round {round_no + 1}: FAILED {exc}", flush=True)
        return {"system": system, "client": client, "error": str(exc)[:300]}
    after = counts(urls[system])
    row = {
        "system": system,
        "client": client,
        "records": out["records"],
        "seconds": out["seconds"],
        "rate": out["records"] / out["seconds"],
        "requests": after[0] - before[0],
        "tokens": after[1] - before[1],
        "rss": rss,
    }
    print(
        f"B1 {system} {client} round {round_no + 1}: {row['records']} records in "
        f"{row['seconds']:.1f} s = {row['rate']:,.0f}/s, {row['requests']} requests, "
        f"{row['tokens']} token requests, peak RSS {rss:.0f} MB",
        flush=True,
    )
    return row


def median_run(runs: list[dict[str, Any]], system: str, client: str) -> dict[str, Any]:
    """The run with the median wall time of this reader on this system (rates of all runs kept)."""
    mine = [r for r in runs if r["system"] == system and r["client"] == client]
    good = sorted((r for r in mine if "rate" in r), key=lambda r: r["seconds"])
    if not good:
        return mine[0] if mine else {"system": system, "client": client, "error": "not run"}
    chosen = dict(good[(len(good) - 1) // 2])
    chosen["all_rates"] = [r["rate"] for r in mine if "rate" in r]
    return chosen


def bench_env(urls: dict[str, str]) -> dict[str, str]:
    """What the peer readers need: URLs and the sandbox's (public, made-up) credentials."""
    from ml_connector.sandbox import credentials as sb

    return {
        "BENCH_FUSION_URL": urls.get("fusion", UNUSED),
        "BENCH_ST_URL": urls.get("servicetitan", UNUSED),
        "BENCH_FUSION_CLIENT_ID": sb.FUSION_CLIENT_ID,
        "BENCH_FUSION_CLIENT_SECRET": sb.FUSION_CLIENT_SECRET,
        "BENCH_FUSION_SCOPE": sb.FUSION_SCOPE,
        "BENCH_ST_CLIENT_ID": sb.SERVICETITAN_CLIENT_ID,
        "BENCH_ST_CLIENT_SECRET": sb.SERVICETITAN_CLIENT_SECRET,
        "BENCH_ST_APP_KEY": sb.SERVICETITAN_APP_KEY,
        "BENCH_ST_TENANT": str(sb.SERVICETITAN_TENANT_ID),
    }


def write(rows: list[dict[str, Any]], ready: list[str], args: argparse.Namespace) -> None:
    table_rows = []
    for r in rows:
        if "error" in r:
            table_rows.append([f"{r['system']} / {r['client']}", "failed", "", "", "", "", "", ""])
            continue
        table_rows.append(
            [
                f"{r['system']} / {r['client']}",
                f"{r['records']:,}",
                f"{r['seconds']:.1f} s",
                f"{r['rate']:,.0f}",
                " / ".join(f"{x:,.0f}" for x in r.get("all_rates", [r["rate"]])),
                f"{r['requests']:,}",
                f"{r['tokens']}",
                f"{r['rss']:.0f} MB",
            ]
        )
    verdicts = []
    for system, factor in (("fusion", 2.0), ("servicetitan", 1.0)):
        ours = next(
            (r for r in rows if r["system"] == system and r["client"] == "ours" and "rate" in r),
            None,
        )
        peers = [r for r in rows if r["system"] == system and r["client"] != "ours" and "rate" in r]
        if ours is None or not peers:
            verdicts.append(f"{system}: no peer measured, no ratio")
            continue
        best = max(peers, key=lambda r: r["rate"])
        ratio = ours["rate"] / best["rate"]
        verdicts.append(
            f"{system}: ours / best peer ({best['client']}) = {ratio:.2f}× — target ≥ {factor:g}×: "
            f"{'met' if ratio >= factor else 'NOT met'}"
        )
    body = (
        "## B1 Read throughput\n\n"
        f"- Machine: {benchkit.machine()}; load average at the end {benchkit.load_average()}.\n"
        f"- Date: {benchkit.now_text()}.\n"
        f"- Command: `{benchkit.command_line()}`.\n"
        f"- Simulators (child processes, 127.0.0.1): {'; '.join(ready)}; latency {FUSION_MS:.0f} ms per "
        f"Fusion request and {ST_MS:.0f} ms per ServiceTitan request, token requests included.\n"
        f"- Rounds: {max(1, args.rounds)} per reader and system, the readers' order reversed every "
        "other round; each row is the reader's median run (of an even number, the faster of the "
        "middle two).\n"
        "- Readers, each in its own process, one after the other: `ours` (on uvloop, as `ml-connector run`) = "
        "`FusionClient.read_windows('suppliers', windows=4)` (keyset pages of 500, 4 in flight) and "
        "`STClient.invoice_feed()` (export feed, one page of prefetch); `dlt` = dlt's `rest_api` "
        "source; `airbyte` = airbyte-cdk's declarative source on a manifest written by "
        "`bench/peers/airbyte_read.py`. Requests and token requests counted by the simulators.\n\n"
        + benchkit.table(
            [
                "system / reader",
                "records",
                "wall",
                "records/s",
                "records/s of each round",
                "requests",
                "token requests",
                "peak RSS",
            ],
            table_rows,
        )
        + "\n\n"
        + "; ".join(verdicts)
        + ".\n\n"
        + NOTE
    )
    benchkit.write_section("B1", body)


if __name__ == "__main__":
    sys.exit(main())
