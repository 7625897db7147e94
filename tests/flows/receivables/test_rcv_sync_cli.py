"""``ml-connector sync invoices|payments`` as a real process against the served sandbox: the
summary's counts equal the manifest, and a second run writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cli_kit import cli_text, serving, summary_row
from ml_connector.sandbox.server import Sandbox, build_sandbox


@pytest.fixture
async def served() -> AsyncIterator[tuple[dict[str, str], Sandbox]]:
    box = build_sandbox()
    async with serving(box) as env:
        yield env, box


async def test_sync_invoices_then_payments_matches_the_manifest(
    tmp_path: Path, served: tuple[dict[str, str], Sandbox]
) -> None:
    env, sandbox = served
    expected = sandbox.dataset.expected
    code, out = await cli_text(tmp_path, env, "init")
    assert code == 0, out
    code, out = await cli_text(tmp_path, env, "sync", "invoices")
    assert code == 0, out
    row = summary_row(out)
    assert row["created"] == len(expected.invoices.eligible)
    assert row["attention"] == len(expected.invoices.attention)
    assert row["skipped"] == len(expected.invoices.skipped)
    code, out = await cli_text(tmp_path, env, "sync", "payments")
    assert code == 0, out
    row = summary_row(out)
    assert row["created"] == len(expected.payments.eligible)
    assert row["attention"] == len(expected.payments.attention)
    assert len(sandbox.fusion.invoices) == len(expected.invoices.eligible)
    assert len(sandbox.fusion.receipts) == len(expected.payments.eligible)
    for flow in ("invoices", "payments"):
        code, out = await cli_text(tmp_path, env, "sync", flow)
        assert code == 0, out
        again = summary_row(out)
        assert again["created"] == again["updated"] == 0
