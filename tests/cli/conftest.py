from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cli_kit import _free_port
from ml_connector.sandbox.server import build_sandbox, serve_sandbox

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """Run ``ml-connector`` as a real process in ``tmp_path`` with no ML_CONNECTOR_* inherited."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    base_env["COLUMNS"] = "200"

    def run(
        *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ml_connector", *args],
            cwd=tmp_path,
            input=stdin,
            capture_output=True,
            text=True,
            env={**base_env, **(env or {})},
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture
async def sandbox_env(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    fusion_port, st_port = _free_port(), _free_port()
    started, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve_sandbox(
            build_sandbox(), fusion_port=fusion_port, st_port=st_port, started=started, stop=stop
        )
    )
    await asyncio.wait_for(started.wait(), timeout=30)
    fusion = f"http://127.0.0.1:{fusion_port}"
    st = f"http://127.0.0.1:{st_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    env.update(
        {
            "COLUMNS": "200",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL": fusion,
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__TOKEN_URL": f"{fusion}/oauth2/v1/token",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__API_BASE_URL": st,
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__TOKEN_URL": f"{st}/connect/token",
        }
    )
    try:
        yield env
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)
