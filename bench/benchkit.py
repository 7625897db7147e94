"""What the B1–B5 scripts share: the machine line, RESULTS.md sections, settings and clients
pointed at simulators on 127.0.0.1, and simulators served from child processes.

Not a benchmark itself. Each script imports it as ``benchkit`` (``bench/`` is the script's
directory, so it is on ``sys.path``).
"""

from __future__ import annotations

import os
import platform
import re
import resource
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
REPO = HERE.parent

# --- the machine and the results file -----------------------------------------------------------


def machine() -> str:
    """``cpu model, N cores, X GiB RAM, Python 3.11.x`` from /proc."""
    model = "unknown cpu"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    return (
        f"{model}, {os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB RAM, "
        f"Python {platform.python_version()}"
    )


def load_average() -> str:
    with open("/proc/loadavg", encoding="utf-8") as f:
        return " ".join(f.read().split()[:3])


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def command_line() -> str:
    """The command that ran, as someone would type it from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(REPO))
    except ValueError:
        shown = str(script)
    return " ".join([".venv/bin/python", shown, *map(shlex.quote, sys.argv[1:])])


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; columns after the first are right-aligned."""
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_section(key: str, body: str, path: Path = RESULTS) -> None:
    """Replace the ``## <key> …`` section of RESULTS.md with ``body`` (which starts with its own
    ``## <key>`` heading), or append it; every other section is left as it is."""
    if not body.startswith(f"## {key}"):
        raise ValueError(f"the section must start with '## {key}'")
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^## {re.escape(key)}\b.*?(?=^## |\Z)", re.S | re.M)
    block = body.rstrip("\n") + "\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def rss_now_mb() -> float:
    with open("/proc/self/statm", encoding="utf-8") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- settings and clients -----------------------------------------------------------------------


def connection_settings(fusion_url: str, st_url: str, dataset: Any = None) -> Any:
    from ml_connector.sandbox import credentials as sb
    from ml_connector.sandbox.data import sandbox_mapping
    from ml_connector.settings import ConnectionSettings, FusionSettings, ServiceTitanSettings

    return ConnectionSettings(
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
        mapping=sandbox_mapping(dataset),
    )


def fusion_client(settings: Any, clock: Any, **kw: Any) -> Any:
    from ml_connector.sandbox import credentials as sb
    from ml_connector.systems.fusion.client import FusionClient

    return FusionClient.from_settings(
        settings.fusion, secret=sb.FUSION_CLIENT_SECRET, clock=clock, **kw
    )


def st_client(settings: Any, clock: Any, **kw: Any) -> Any:
    from ml_connector.sandbox import credentials as sb
    from ml_connector.secrets import Secret
    from ml_connector.systems.servicetitan.client import STClient

    return STClient.from_settings(
        settings.servicetitan,
        client_secret=Secret(sb.SERVICETITAN_CLIENT_SECRET),
        app_key=Secret(sb.SERVICETITAN_APP_KEY),
        clock=clock,
        **kw,
    )


# --- simulators in child processes --------------------------------------------------------------


@dataclass
class Served:
    """A simulator served by a child process: its URL, pid and ready line."""

    system: str
    url: str
    process: subprocess.Popen[str]
    ready: str

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)


@contextmanager
def serve_children(
    script: Path, systems: list[str], extra: list[str]
) -> Iterator[dict[str, Served]]:
    """Start ``script --serve=<system> --port=<p> *extra`` per system and wait for each child's
    ``ready …`` line (up to 15 minutes: building a large sandbox takes a while); stop them after."""
    children: dict[str, Served] = {}
    try:
        for system in systems:
            port = free_port()
            process = subprocess.Popen(  # noqa: S603 - our own script and arguments
                [sys.executable, str(script), f"--serve={system}", f"--port={port}", *extra],
                stdout=subprocess.PIPE,
                text=True,
                env=dict(os.environ),
            )
            children[system] = Served(system, f"http://127.0.0.1:{port}", process, "")
        deadline = time.monotonic() + 900
        for served in children.values():
            assert served.process.stdout is not None
            line = served.process.stdout.readline().strip()
            if not line.startswith("ready") or time.monotonic() > deadline:
                raise RuntimeError(f"the {served.system} simulator did not start: {line!r}")
            served.ready = line
        for served in children.values():
            wait_listening(served.url)
        yield children
    finally:
        for served in children.values():
            served.process.terminate()
        for served in children.values():
            try:
                served.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                served.process.kill()
                served.process.wait(timeout=30)


def wait_listening(url: str, timeout: float = 30.0) -> None:
    host, port = url.rsplit("/", 1)[-1].split(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run_uvicorn(app: Any, port: int) -> None:
    """Serve ``app`` on 127.0.0.1:port in this (child) process until terminated.

    The data built before (200,000 invoices is a heap of millions of objects) is frozen out of the
    cycle collector first, as the connector's web app does with its start-up objects: otherwise
    the full collections it sets off while serving pause whichever reader is reading at the time,
    and the readers' figures measure that luck."""
    import gc

    import uvicorn

    gc.collect()
    gc.freeze()

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    uvicorn.Server(config).run()
