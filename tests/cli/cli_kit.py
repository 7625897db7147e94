"""Helpers for the CLI tests: a free loopback port and a CLI process run from async code."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _cli(
    cwd: Path, env: dict[str, str], *args: str, stdin: str | None = None
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ml_connector", *args,
        cwd=cwd, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin else None), timeout=120
    )
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
