"""``ml-connector sync`` as a real process against the served sandbox (issue 5 acceptance: the
summary's counts equal the sandbox manifest and what the simulator holds)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ml_connector.sandbox.server import build_sandbox, serve_sandbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[dict[str, str], str, object]]:
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
        yield env, st, sandbox
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
    """The summary table's header and value rows as {column: value}."""
    lines = [line for line in out.splitlines() if "│" in line or "┃" in line]
    header = [c.strip() for c in re.split("[│┃]", lines[0]) if c.strip()]
    values = [int(c.strip()) for c in re.split("[│┃]", lines[1]) if c.strip()]
    return dict(zip(header, values, strict=True))


async def test_sync_suppliers_summary_equals_the_manifest_and_the_simulator(
    tmp_path: Path, served: tuple[dict[str, str], str, object]
) -> None:
    env, st, sandbox = served
    dataset = sandbox.dataset  # type: ignore[attr-defined]
    code, out = await _cli(tmp_path, env, "init")
    assert code == 0, out
    code, out = await _cli(tmp_path, env, "sync", "suppliers")
    assert code == 0, out
    row = _row(out)
    expected = dataset.expected.suppliers
    assert row["created"] == len(expected.eligible)
    assert row["attention"] == len(expected.attention)
    assert row["skipped"] == len(expected.skipped)
    async with httpx.AsyncClient(base_url=st) as admin:
        vendors = (await admin.get("/__admin/state", params={"resource": "vendors"})).json()
    before = len(dataset.st_only_vendors)
    assert vendors["count"] == before + len(expected.eligible)
    code, out = await _cli(tmp_path, env, "sync", "suppliers", "--full")
    assert code == 0, out
    again = _row(out)
    assert again["created"] == again["updated"] == 0
    assert again["unchanged"] == len(expected.eligible)
    code, out = await _cli(tmp_path, env, "sync", "purchase-orders")
    assert code == 0, out
    row = _row(out)
    pos = dataset.expected.purchase_orders
    assert row["created"] == len(pos.eligible)
    assert row["attention"] == len(pos.attention)
    async with httpx.AsyncClient(base_url=st) as admin:
        orders = (await admin.get("/__admin/state", params={"resource": "purchase_orders"})).json()
    assert orders["count"] == len(pos.eligible)
    code, out = await _cli(tmp_path, env, "sync", "receipts", "--dry-run")
    assert code == 0, out
    assert "dry run" in out
    code, out = await _cli(tmp_path, env, "sync", "nonsense")
    assert code == 2
    assert "unknown flow" in out


def test_since_takes_a_date_or_an_aware_or_naive_datetime() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from ml_connector.cli.sync_cmd import parse_since
    from ml_connector.errors import ConfigError

    assert parse_since(None) is None
    assert parse_since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T08:30:00") == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    east = parse_since("2026-11-01T08:30:00+02:00")
    assert east is not None
    assert east.utcoffset() == timezone(timedelta(hours=2)).utcoffset(None)
    with pytest.raises(ConfigError):
        parse_since("yesterday")
