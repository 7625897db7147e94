"""``ml-connector sync invoices|payments`` as a real process against the served sandbox: the
summary's counts equal the manifest, and a second run writes nothing."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ml_connector.sandbox.server import build_sandbox, serve_sandbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served() -> AsyncIterator[tuple[dict[str, str], Any]]:
    fusion_port, st_port = _free_port(), _free_port()
    sandbox = build_sandbox()
    started, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve_sandbox(sandbox, fusion_port=fusion_port, st_port=st_port, started=started, stop=stop)
    )
    await asyncio.wait_for(started.wait(), timeout=30)
    fusion, st = f"http://127.0.0.1:{fusion_port}", f"http://127.0.0.1:{st_port}"
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
        yield env, sandbox
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def _cli(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ml_connector", *args,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=180)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def _row(out: str) -> dict[str, int]:
    lines = [line for line in out.splitlines() if "│" in line or "┃" in line]
    header = [c.strip() for c in re.split("[│┃]", lines[0]) if c.strip()]
    values = [int(c.strip()) for c in re.split("[│┃]", lines[1]) if c.strip()]
    return dict(zip(header, values, strict=True))


async def test_sync_invoices_then_payments_matches_the_manifest(
    tmp_path: Path, served: tuple[dict[str, str], Any]
) -> None:
    env, sandbox = served
    expected = sandbox.dataset.expected
    code, out = await _cli(tmp_path, env, "init")
    assert code == 0, out
    code, out = await _cli(tmp_path, env, "sync", "invoices")
    assert code == 0, out
    row = _row(out)
    assert row["created"] == len(expected.invoices.eligible)
    assert row["attention"] == len(expected.invoices.attention)
    assert row["skipped"] == len(expected.invoices.skipped)
    code, out = await _cli(tmp_path, env, "sync", "payments")
    assert code == 0, out
    row = _row(out)
    assert row["created"] == len(expected.payments.eligible)
    assert row["attention"] == len(expected.payments.attention)
    assert len(sandbox.fusion.invoices) == len(expected.invoices.eligible)
    assert len(sandbox.fusion.receipts) == len(expected.payments.eligible)
    for flow in ("invoices", "payments"):
        code, out = await _cli(tmp_path, env, "sync", flow)
        assert code == 0, out
        again = _row(out)
        assert again["created"] == again["updated"] == 0
