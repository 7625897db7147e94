"""`ml-connector run` (issue 7 slice): serves, syncs, and stops cleanly on SIGTERM; the next start
resumes from the cursors with nothing written twice."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx
from cli_kit import _cli, _free_port


async def _run_until_synced(cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ml_connector", "run", "--flow", "suppliers", "--flow", "purchase-orders",
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    seen: list[str] = []
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=120)).decode()
        assert line, "run exited early:\n" + "".join(seen)
        seen.append(line)
        if "running as" in line:
            break
    port = env["ML_CONNECTOR_WEB__PORT"]
    async with httpx.AsyncClient(timeout=30) as client:
        health = await client.get(f"http://127.0.0.1:{port}/healthz")
        assert health.status_code == 200
    proc.send_signal(signal.SIGTERM)
    rest = (await asyncio.wait_for(proc.stdout.read(), timeout=120)).decode()
    code = await asyncio.wait_for(proc.wait(), timeout=60)
    return code, "".join(seen) + rest


async def test_run_stops_cleanly_on_sigterm_and_resumes(
    tmp_path: Path, sandbox_env: dict[str, str]
) -> None:
    env = {**sandbox_env, "ML_CONNECTOR_WEB__PORT": str(_free_port())}
    assert (await _cli(tmp_path, env, "init"))[0] == 0
    code, out = await _run_until_synced(tmp_path, env)
    assert code == 0, out
    assert "stopped" in out
    assert "Traceback" not in out
    # whatever was in flight when SIGTERM came, a second start finishes the work exactly once
    code, out = await _run_until_synced(tmp_path, env)
    assert code == 0, out
    code, synced, _ = await _cli(tmp_path, env, "sync", "suppliers")
    assert code == 0
    assert "default: sync suppliers" in synced
    code, status, _ = await _cli(tmp_path, env, "status")
    assert code == 0
    assert "create 50," in status, "each eligible supplier created exactly once across the restarts"
    assert "suppliers" in status
