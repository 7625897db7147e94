"""Time and memory of ``ml-connector match vendors`` over N Fusion suppliers × N ServiceTitan vendors.

    .venv/bin/python bench/match_bench.py --suppliers 100000            # the issue 11 target
    .venv/bin/python bench/match_bench.py --suppliers 100000 --latency  # + DESIGN §5 page latency
    .venv/bin/python bench/match_bench.py --suppliers 2000              # a quick look

Two child processes build the same sandbox (N suppliers from the generator, and one vendor typed
by hand after each, with drift in turn: abbreviations, punctuation, a moved address, a typo, a
missing postal code, the supplier number or tax id in the memo); one serves the Fusion simulator,
the other the ServiceTitan simulator, on 127.0.0.1 free ports. This process then runs the real thing — clients over HTTP, a migrated SQLite store,
``match_entity(VENDORS)`` — and reports its wall time and its own peak RSS (the simulators' memory
is the child's, reported apart), the pairs compared, and recall against the generator's truth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the child: build and serve ----------------------------------------------------------------


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ml_connector.sandbox.data import populate
    from ml_connector.sandbox.data.existing import add_lookalike_vendors
    from ml_connector.sandbox.faults import FaultConfig
    from ml_connector.sandbox.faults.config import Latency
    from ml_connector.sandbox.server import build_sandbox

    started = time.perf_counter()
    fusion_faults = st_faults = None
    if args.latency:
        fusion_faults = FaultConfig(latency=Latency(fixed_ms=200))
        st_faults = FaultConfig(latency=Latency(fixed_ms=150))
    box = build_sandbox(populate=False, fusion_faults=fusion_faults, st_faults=st_faults)
    ds = populate(box.fusion, box.servicetitan, seed=7, suppliers=args.suppliers, invoices=3)
    eligible = sorted(ds.expected.suppliers.eligible)
    truth = add_lookalike_vendors(box.fusion, box.servicetitan, ds, 7, eligible)
    if args.truth:
        Path(args.truth).write_text(json.dumps(truth), encoding="utf-8")
    built = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    app, port = (
        (box.fusion_app, args.fusion_port) if args.serve == "fusion" else (box.st_app, args.st_port)
    )
    print(
        f"ready {args.serve}: suppliers={len(box.fusion.suppliers)} "
        f"vendors={len(box.servicetitan.tables['vendors'])} built_s={built:.1f} rss_mb={rss:.0f}",
        flush=True,
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    uvicorn.Server(config).run()
    return 0


# --- this process: match -----------------------------------------------------------------------


async def run_match(fusion_port: int, st_port: int, truth: dict[str, str]) -> dict[str, Any]:
    import httpx

    from ml_connector.clock import SystemClock
    from ml_connector.flows.base import FlowContext
    from ml_connector.matching.model import Entity
    from ml_connector.matching.run import match_entity, proposal_pages
    from ml_connector.sandbox import credentials as sb
    from ml_connector.sandbox.data import sandbox_mapping
    from ml_connector.sandbox.data.existing import VENDOR_DRIFTS
    from ml_connector.secrets import Secret
    from ml_connector.settings import ConnectionSettings, FusionSettings, ServiceTitanSettings
    from ml_connector.store import Store
    from ml_connector.store.migrate import upgrade
    from ml_connector.systems.fusion.client import FusionClient
    from ml_connector.systems.servicetitan.client import STClient

    fusion_url, st_url = f"http://127.0.0.1:{fusion_port}", f"http://127.0.0.1:{st_port}"
    settings = ConnectionSettings(
        fusion=FusionSettings(
            base_url=fusion_url,
            token_url=f"{fusion_url}/oauth2/v1/token",
            client_id=sb.FUSION_CLIENT_ID,
            scope=sb.FUSION_SCOPE,
        ),
        servicetitan=ServiceTitanSettings(
            environment="custom",
            api_base_url=st_url,
            token_url=f"{st_url}/connect/token",
            tenant_id=sb.SERVICETITAN_TENANT_ID,
            client_id=sb.SERVICETITAN_CLIENT_ID,
        ),
        mapping=sandbox_mapping(None),
    )
    clock = SystemClock()
    workdir = tempfile.mkdtemp(prefix="match-bench-")
    url = f"sqlite+aiosqlite:///{workdir}/bench.db"
    upgrade(url)
    store = Store.open(url, clock=clock)
    fusion = FusionClient.from_settings(
        settings.fusion, secret=sb.FUSION_CLIENT_SECRET, clock=clock
    )
    st = STClient.from_settings(
        settings.servicetitan,
        client_secret=Secret(sb.SERVICETITAN_CLIENT_SECRET),
        app_key=Secret(sb.SERVICETITAN_APP_KEY),
        clock=clock,
    )
    ctx = FlowContext(
        connection="default",
        settings=settings,
        application_guid="0b7c2a9e-1111-4222-8333-444455556666",
        store=store,
        clock=clock,
        fusion=fusion,
        servicetitan=st,
    )
    try:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        report = await match_entity(ctx, Entity.VENDORS)
        elapsed = time.perf_counter() - started
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        right = 0
        proposed: dict[str, str] = {}
        async for page in proposal_pages(store, "default", Entity.VENDORS, ("proposed",)):
            right += sum(1 for p in page if truth.get(p.source_id) == p.target_id)
            proposed.update((p.source_id, p.target_id) for p in page)
        missed: dict[str, int] = {}
        for n, (source, target) in enumerate(truth.items()):  # drift in turn, as generated
            if proposed.get(source) != target:
                drift = VENDOR_DRIFTS[n % len(VENDOR_DRIFTS)]
                missed[drift] = missed.get(drift, 0) + 1
    finally:
        await fusion.aclose()
        await st.aclose()
        await store.close()
        _ = httpx  # the clients' transport
    return {
        "seconds": elapsed,
        "rss_before_mb": rss_before,
        "rss_peak_mb": rss_peak,
        "targets": report.targets,
        "sources": report.sources,
        "compared": report.compared,
        "proposed": report.proposed,
        "exact": report.exact,
        "ambiguous": report.ambiguous,
        "right": right,
        "wrong": sum(1 for s, t in proposed.items() if truth.get(s) not in (None, t)),
        "missed": missed,
        "true_pairs": len(truth),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suppliers", type=int, default=100_000)
    parser.add_argument("--latency", action="store_true", help="200 ms Fusion / 150 ms ST")
    parser.add_argument("--serve", choices=("fusion", "servicetitan"), help=argparse.SUPPRESS)
    parser.add_argument("--fusion-port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--st-port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--truth", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args)

    fusion_port, st_port = _free_port(), _free_port()
    truth_file = Path(tempfile.mkdtemp(prefix="match-bench-")) / "truth.json"
    children: dict[str, subprocess.Popen[str]] = {}
    ready: dict[str, str] = {}
    try:
        for system in ("fusion", "servicetitan"):  # one process (one core) per simulator
            children[system] = subprocess.Popen(  # noqa: S603 - this script, our own arguments
                [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    f"--serve={system}",
                    f"--suppliers={args.suppliers}",
                    f"--fusion-port={fusion_port}",
                    f"--st-port={st_port}",
                    f"--truth={truth_file if system == 'servicetitan' else ''}",
                    *(["--latency"] if args.latency else []),
                ],
                stdout=subprocess.PIPE,
                text=True,
                env=dict(os.environ),
            )
        for system, child in children.items():
            assert child.stdout is not None
            ready[system] = child.stdout.readline().strip()
            if not ready[system].startswith("ready"):
                print(f"the {system} simulator did not start: {ready[system]!r}", file=sys.stderr)
                return 2
        cpu_before = {s: _cpu_seconds(c.pid) for s, c in children.items()}
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        out = asyncio.run(run_match(fusion_port, st_port, truth))
        sim_cpu = {s: _cpu_seconds(c.pid) - cpu_before[s] for s, c in children.items()}
    finally:
        for child in children.values():
            child.terminate()
            child.wait(timeout=30)
    own_cpu = resource.getrusage(resource.RUSAGE_SELF)
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    for line in ready.values():
        print(f"sandbox {line}")
    print(
        f"match vendors {out['sources']} x {out['targets']}"
        f"{' (latency 200/150 ms)' if args.latency else ''}: {out['seconds']:.1f} s, "
        f"peak RSS {out['rss_peak_mb']:.0f} MB (before matching {out['rss_before_mb']:.0f} MB)"
    )
    print(
        f"compared {out['compared']} pairs ({out['compared'] / max(out['sources'], 1):.1f} per "
        f"supplier), proposed {out['proposed']} (exact {out['exact']}, ambiguous "
        f"{out['ambiguous']}), right {out['right']} of {out['true_pairs']} true pairs "
        f"({100 * out['right'] / max(out['true_pairs'], 1):.1f} %), {out['wrong']} naming "
        f"another vendor; missed by drift: {out['missed']}"
    )
    print(
        f"cpu: this process {own_cpu.ru_utime + own_cpu.ru_stime:.1f} s, "
        f"simulators while matching: fusion {sim_cpu['fusion']:.1f} s, "
        f"servicetitan {sim_cpu['servicetitan']:.1f} s"
    )
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    sys.exit(main())
