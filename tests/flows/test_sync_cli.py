"""``ml-connector sync`` as a real process against the served sandbox (issue 5 acceptance: the
summary's counts equal the sandbox manifest and what the simulator holds)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from cli_kit import ST_URL, cli_text, serving, summary_row
from ml_connector.sandbox.server import Sandbox, build_sandbox


@pytest.fixture
async def served() -> AsyncIterator[tuple[dict[str, str], str, Sandbox]]:
    box = build_sandbox()
    async with serving(box) as env:
        yield env, env[ST_URL], box


async def test_sync_suppliers_summary_equals_the_manifest_and_the_simulator(
    tmp_path: Path, served: tuple[dict[str, str], str, Sandbox]
) -> None:
    env, st, sandbox = served
    dataset = sandbox.dataset
    assert dataset is not None
    code, out = await cli_text(tmp_path, env, "init")
    assert code == 0, out
    code, out = await cli_text(tmp_path, env, "sync", "suppliers")
    assert code == 0, out
    row = summary_row(out)
    expected = dataset.expected.suppliers
    assert row["created"] == len(expected.eligible)
    assert row["attention"] == len(expected.attention)
    assert row["skipped"] == len(expected.skipped)
    async with httpx.AsyncClient(base_url=st) as admin:
        vendors = (await admin.get("/__admin/state", params={"resource": "vendors"})).json()
    before = len(dataset.st_only_vendors)
    assert vendors["count"] == before + len(expected.eligible)
    code, out = await cli_text(tmp_path, env, "sync", "suppliers", "--full")
    assert code == 0, out
    again = summary_row(out)
    assert again["created"] == again["updated"] == 0
    assert again["unchanged"] == len(expected.eligible)
    code, out = await cli_text(tmp_path, env, "sync", "purchase-orders")
    assert code == 0, out
    row = summary_row(out)
    pos = dataset.expected.purchase_orders
    assert row["created"] == len(pos.eligible)
    assert row["attention"] == len(pos.attention)
    async with httpx.AsyncClient(base_url=st) as admin:
        orders = (await admin.get("/__admin/state", params={"resource": "purchase_orders"})).json()
    assert orders["count"] == len(pos.eligible)
    code, out = await cli_text(tmp_path, env, "sync", "receipts", "--dry-run")
    assert code == 0, out
    assert "dry run" in out
    code, out = await cli_text(tmp_path, env, "sync", "nonsense")
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
