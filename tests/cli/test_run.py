"""`ml-connector run` (issue 7 slice): serves its web app and stops cleanly on SIGTERM.

The proofs with the sync in progress at the SIGTERM (nothing half done, the next start resumes)
and two processes on one database are in ``test_run_processes.py``."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import httpx

from cli_kit import _cli, _free_port


async def test_run_serves_healthz_and_stops_cleanly_on_sigterm(
    tmp_path: Path, sandbox_env: dict[str, str]
) -> None:
    env = {**sandbox_env, "ML_CONNECTOR_WEB__PORT": str(_free_port())}
    assert (await _cli(tmp_path, env, "init"))[0] == 0
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ml_connector", "run", "--flow", "suppliers",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        while not any("running as" in line for line in seen):
            line = (await asyncio.wait_for(proc.stdout.readline(), timeout=60)).decode()
            assert line, "run exited early:\n" + "".join(seen)
            seen.append(line)
        async with httpx.AsyncClient(timeout=30) as client:
            health = await client.get(f"http://127.0.0.1:{env['ML_CONNECTOR_WEB__PORT']}/healthz")
        assert health.status_code == 200
        proc.send_signal(signal.SIGTERM)
        rest = (await asyncio.wait_for(proc.stdout.read(), timeout=60)).decode()
        code = await asyncio.wait_for(proc.wait(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    out = "".join(seen) + rest
    assert code == 0, out
    assert "stopped" in out
    assert "Traceback" not in out


async def test_run_says_so_when_the_web_port_is_taken(
    tmp_path: Path, sandbox_env: dict[str, str]
) -> None:
    """A port already in use is a one-line error and a non-zero exit, not a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {**sandbox_env, "ML_CONNECTOR_WEB__PORT": str(taken.getsockname()[1])}
        assert (await _cli(tmp_path, env, "init"))[0] == 0
        code, out, err = await _cli(tmp_path, env, "run", "--flow", "suppliers")
    assert code != 0
    assert "could not start" in out + err
    assert "Traceback" not in out + err
