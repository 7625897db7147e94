"""Helpers for the CLI tests: a free loopback port, the sandbox served on 127.0.0.1 with the
environment that points a connector at it, and a CLI process run from async code."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from ml_connector.sandbox.server import Sandbox, serve_sandbox

#: the environment variable of the served ServiceTitan simulator's URL
ST_URL = "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__API_BASE_URL"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env(columns: int = 200) -> dict[str, str]:
    """This process's environment without ML_CONNECTOR_* settings, tables ``columns`` wide."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    env["COLUMNS"] = str(columns)
    return env


@asynccontextmanager
async def serving(box: Sandbox, *, columns: int = 200) -> AsyncIterator[dict[str, str]]:
    """Serve ``box`` on two free loopback ports; the environment of a connector pointed at it."""
    fusion_port, st_port = _free_port(), _free_port()
    started, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve_sandbox(box, fusion_port=fusion_port, st_port=st_port, started=started, stop=stop)
    )
    try:
        await asyncio.wait_for(started.wait(), timeout=30)
        fusion, st = f"http://127.0.0.1:{fusion_port}", f"http://127.0.0.1:{st_port}"
        env = cli_env(columns)
        env.update(
            {
                "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL": fusion,
                "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__TOKEN_URL": f"{fusion}/oauth2/v1/token",
                ST_URL: st,
                "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__TOKEN_URL": f"{st}/connect/token",
            }
        )
        yield env
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def _cli(
    cwd: Path, env: dict[str, str], *args: str, stdin: str | None = None, within: float = 120
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ml_connector", *args,
        cwd=cwd, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin else None), timeout=within
    )
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def cli_text(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    """A CLI run's exit code and its output, stdout then stderr."""
    code, out, err = await _cli(cwd, env, *args, within=180)
    return code, out + err


def summary_row(out: str) -> dict[str, int]:
    """A summary table's header and value rows as {column: value}."""
    lines = [line for line in out.splitlines() if "│" in line or "┃" in line]
    header = [c.strip() for c in re.split("[│┃]", lines[0]) if c.strip()]
    values = [int(c.strip()) for c in re.split("[│┃]", lines[1]) if c.strip()]
    return dict(zip(header, values, strict=True))
