"""CSV, HTML and the terminal table of a reconciliation (issue 7)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

from recon_kit import doc, record
from rich.console import Console

from ml_connector.reconcile import Period, Reconciliation, as_csv, as_html, as_table
from ml_connector.reconcile.compare import SourceFact, compare

OCT = Period.parse("2026-10")


def built() -> Reconciliation:
    nasty = SourceFact(
        kind="invoice",
        id="3",
        reference='ST-<script>alert("x")</script>&Co',
        date=date(2026, 10, 9),
        amount=Decimal("12.34"),
    )
    rows = compare(
        [record(1, "100.00"), record(2, "-89.00"), nasty, record(4, "5.00", kind="payment")],
        [doc(501, 1, "100.00"), doc(502, 2, "-89.10", label="credit memo")],
        period=OCT,
    )
    return Reconciliation(
        connection="acme & co",
        period=OCT,
        rows=rows,
        generated_at=datetime(2026, 11, 2, 12, tzinfo=UTC),
    )


def test_csv_has_one_line_per_row_problems_first_and_cents() -> None:
    rows = list(csv.DictReader(io.StringIO(as_csv(built()))))
    assert [r["status"] for r in rows] == [
        "missing in Fusion",
        "missing in Fusion",
        "amount mismatch",
        "matched",
    ]
    by_id = {r["servicetitan_id"]: r for r in rows}
    assert by_id["2"]["servicetitan_amount"] == "-89.00"
    assert by_id["2"]["fusion_amount"] == "-89.10"
    assert by_id["1"]["fusion_ids"] == "501"
    assert by_id["4"]["kind"] == "payment"
    assert by_id["4"]["fusion_amount"] == ""
    assert by_id["3"]["reference"] == 'ST-<script>alert("x")</script>&Co'  # CSV keeps text as is
    assert list(rows[0]) == [
        "kind",
        "status",
        "servicetitan_id",
        "reference",
        "date",
        "servicetitan_amount",
        "fusion_ids",
        "fusion_amount",
        "attention_id",
        "detail",
    ]


def test_html_is_a_standalone_page_that_escapes_what_servicetitan_typed() -> None:
    page = as_html(built())
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page
    assert "ST-&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;Co" in page
    assert "acme &amp; co" in page
    assert "3 problem(s)" in page
    assert page.count('<tr class="problem">') == 3
    assert "amount mismatch" in page
    assert "-89.10" in page


def test_table_has_a_totals_line_per_kind_and_lists_what_is_not_matched() -> None:
    console = Console(record=True, width=250)
    console.print(as_table(built()))
    text = console.export_text()
    invoice_line = next(line for line in text.splitlines() if line.startswith("│ invoice │"))
    cells = [c.strip() for c in invoice_line.strip("│").split("│")]
    # kind, matched, missing, mismatch, duplicated, attention, only in Fusion, total, ST, Fusion
    assert cells == ["invoice", "1", "1", "1", "0", "0", "0", "3", "23.34", "10.90"]
    assert "3 problem(s)" in text
    assert "ST-PAY-4" in text
    assert "│ 501" not in text  # the matched row is left out unless asked for
    console = Console(record=True, width=250)
    console.print(as_table(built(), all_rows=True))
    assert "501" in console.export_text()
