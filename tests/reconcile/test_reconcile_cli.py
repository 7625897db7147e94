"""``ml-connector reconcile`` as a real process (issue 7): exit codes 0 / 1 / 2 and the formats."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cli_kit import _cli, cli_env, serving
from ml_connector.sandbox.server import Sandbox, build_sandbox


@pytest.fixture
async def served() -> AsyncIterator[tuple[dict[str, str], Sandbox]]:
    box = build_sandbox()
    async with serving(box, columns=250) as env:
        yield env, box


@pytest.mark.parametrize("period", ["2026-13", "Nov 2026"])
async def test_a_bad_period_exits_2_with_one_clear_line(tmp_path: Path, period: str) -> None:
    code, out, err = await _cli(tmp_path, cli_env(250), "reconcile", "--period", period)
    assert code == 2
    assert out == ""
    assert f"error: --period {period!r} is not a month" in err
    assert "YYYY-MM" in err or "01 to 12" in err
    assert "Traceback" not in err


async def test_the_period_is_required(tmp_path: Path) -> None:
    code, _out, err = await _cli(tmp_path, cli_env(250), "reconcile")
    assert code == 2
    assert "--period" in err


async def test_a_run_against_the_sandbox_exits_1_on_problems_and_0_without(
    tmp_path: Path, served: tuple[dict[str, str], Sandbox]
) -> None:
    env, sandbox = served
    code, _out, err = await _cli(tmp_path, env, "init")
    assert code == 0, err
    # the month holding most ServiceTitan invoices; nothing is synced yet, so they are missing
    months = Counter(r["invoiceDate"][:7] for r in sandbox.servicetitan.snapshot("invoices"))
    month = months.most_common(1)[0][0]

    code, out, err = await _cli(tmp_path, env, "reconcile", "--period", month)
    assert code == 1, err
    assert f"default: reconciliation {month}" in out
    assert "missing in Fusion" in out
    assert "problem(s)" in out
    invoice_line = next(line for line in out.splitlines() if line.startswith("│ invoice │"))
    total = int(invoice_line.strip("│").split("│")[7])
    assert total == months[month]

    code, out, err = await _cli(tmp_path, env, "reconcile", "--period", month, "--format", "csv")
    assert code == 1, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sum(r["kind"] == "invoice" for r in rows) == months[month]
    assert {r["status"] for r in rows} <= {"missing in Fusion", "matched"}

    page = tmp_path / "recon.html"
    code, out, err = await _cli(
        tmp_path, env, "reconcile", "--period", month, "--format", "html", "--output", str(page)
    )
    assert code == 1, err
    assert out == ""
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert f"Reconciliation {month}" in html

    # a month with nothing on either side has no problems
    code, out, err = await _cli(tmp_path, env, "reconcile", "--period", "2001-01")
    assert code == 0, err
    assert "no problems" in out

    code, _out, err = await _cli(
        tmp_path, env, "reconcile", "--period", month, "--output", str(page)
    )
    assert code == 2
    assert "--output takes --format csv or html" in err
