"""Bad records from ServiceTitan (issue 8): each ends in a clear error, and nothing is lost.

The invoice (F4) and payment (F5) flows run against the seeded sandbox; one record at a time is
edited into the bad shape on the simulator, exactly as the API would then return it. "Nothing
lost" is checked where it lives: the record is posted, or it is an open attention item with a
reason a person can act on, or the run stops with an error naming the record and its cursor stays
before it — and once the record is corrected, the next run posts it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from flow_kit import Harness
from ml_connector.flows.invoices import FLOW as INVOICES
from ml_connector.flows.invoices import InvoiceFlow
from ml_connector.flows.payments import FLOW as PAYMENTS
from ml_connector.flows.payments import PaymentFlow
from ml_connector.http import TransportFailure
from ml_connector.store.states import AttentionState


def _edit(h: Harness, table: str, ident: int, **fields: Any) -> None:
    """Change fields of one record on the simulator as raw wire values (its modifiedOn moves)."""
    state = h.sandbox.servicetitan
    record = state.require(table, ident)
    record.fields.update(fields)
    state._changed(table, record)  # the simulator's one way to re-index a changed record
    h.later()


async def _attention(h: Harness, flow: str) -> dict[str, Any]:
    async with h.store.transaction() as tx:
        items = await tx.attention.list(connection="default")
    return {i.source_id: i for i in items if i.flow == flow and i.state is AttentionState.OPEN}


def _posted_invoices(h: Harness) -> dict[str, Any]:
    return {str(i.CrossReference): i for i in h.sandbox.fusion.invoices.values()}


def _receipts(h: Harness) -> dict[str, Any]:
    return {r.ReceiptNumber: r for r in h.sandbox.fusion.receipts.values()}


def _an_invoice(h: Harness, n: int = 0) -> int:
    return sorted(h.dataset.expected.invoices.eligible)[n]


def _a_payment(h: Harness, n: int = 0) -> int:
    return sorted(h.dataset.expected.payments.eligible)[n]


@pytest.mark.parametrize(
    "amount", ["1e30", "123456789012345678901234567890.12", "-9e20", "1000000000000000"]
)
async def test_a_huge_invoice_total_goes_to_attention_and_the_others_post(
    h: Harness, amount: str
) -> None:
    bad = _an_invoice(h)
    _edit(h, "invoices", bad, total=amount)
    summary = await InvoiceFlow(h.ctx()).run()
    item = (await _attention(h, INVOICES))[str(bad)]
    assert item.reason == "amount_out_of_range"
    assert "total" in item.message
    posted = _posted_invoices(h)
    assert str(bad) not in posted
    assert set(posted) == {str(i) for i in h.dataset.expected.invoices.eligible} - {str(bad)}
    assert summary.failed == 0


async def test_a_huge_payment_application_goes_to_attention(h: Harness) -> None:
    bad = _a_payment(h)
    row = next(r for r in h.table("payments") if r["id"] == bad)
    applied = [{**a, "appliedAmount": "4e40"} for a in row["appliedTo"]] or [
        {"appliedTo": _an_invoice(h), "appliedAmount": "4e40"}
    ]
    _edit(h, "payments", bad, appliedTo=applied)
    await PaymentFlow(h.ctx()).run()
    assert (await _attention(h, PAYMENTS))[str(bad)].reason == "amount_out_of_range"
    assert not any(k.endswith(f"PAY-{bad}") for k in _receipts(h))


async def test_a_negative_payment_is_a_refund_for_a_person(h: Harness) -> None:
    bad = _a_payment(h)
    _edit(h, "payments", bad, total="-40.00", appliedTo=[])
    await PaymentFlow(h.ctx()).run()
    item = (await _attention(h, PAYMENTS))[str(bad)]
    assert item.reason == "refund_or_reversal"
    assert "-40.00" in item.message


async def test_a_negative_invoice_posts_as_a_credit_memo_with_its_amount(h: Harness) -> None:
    negatives = [
        (ident, exp) for ident, exp in h.dataset.expected.invoices.eligible.items() if exp.total < 0
    ]
    assert negatives, "the seeded data set has a negative invoice"
    await InvoiceFlow(h.ctx()).run()
    posted = _posted_invoices(h)
    mapping = h.settings.mapping.receivables
    for ident, exp in negatives:
        assert posted[str(ident)].EnteredAmount == exp.total
        assert posted[str(ident)].TransactionType in {
            bu.credit_memo_transaction_type for bu in mapping.business_units.values()
        }


async def test_over_precise_amounts_that_do_not_add_up_go_to_attention(h: Harness) -> None:
    rows = {r["id"]: r for r in h.table("invoices")}
    bad = next(i for i in sorted(h.dataset.expected.invoices.eligible) if len(rows[i]["items"]) > 2)
    row = rows[bad]
    items = [dict(i) for i in row["items"]]
    # each line gains a third of a cent: every one rounds back, their sum does not
    items = [{**i, "total": f"{Decimal(str(i['total'])) + Decimal('0.0033333')}"} for i in items]
    total = sum((Decimal(i["total"]) for i in items), Decimal(0)) + Decimal(str(row["salesTax"]))
    _edit(h, "invoices", bad, items=items, total=str(total))
    await InvoiceFlow(h.ctx()).run()
    item = (await _attention(h, INVOICES))[str(bad)]
    assert item.reason == "amount_mismatch"
    assert str(bad) not in _posted_invoices(h)


async def test_an_over_precise_total_is_posted_to_the_cent(h: Harness) -> None:
    bad = _an_invoice(h)
    row = next(r for r in h.table("invoices") if r["id"] == bad)
    exact = Decimal(str(row["total"]))
    _edit(h, "invoices", bad, total=f"{exact}0000001")
    await InvoiceFlow(h.ctx()).run()
    assert _posted_invoices(h)[str(bad)].EnteredAmount == exact


async def test_non_ascii_text_reaches_fusion_intact(h: Harness) -> None:
    ident = _an_invoice(h)
    row = next(r for r in h.table("invoices") if r["id"] == ident)
    text = "Réparation de chaudière — Ñandú 東京 ✓"
    items = [{**row["items"][0], "description": f"<p>{text}</p>"}, *row["items"][1:]]
    _edit(h, "invoices", ident, items=items)
    await InvoiceFlow(h.ctx()).run()
    invoice = _posted_invoices(h)[str(ident)]
    assert text in [line.Description for line in invoice.receivablesInvoiceLines]


async def test_enums_as_integers_are_read_as_their_text(h: Harness) -> None:
    ident = _a_payment(h)
    row = next(r for r in h.table("payments") if r["id"] == ident)
    type_id = row["typeId"]
    _edit(h, "payments", ident, typeId=int(type_id), syncStatus=0)
    await PaymentFlow(h.ctx()).run()
    assert any(k.endswith(f"PAY-{ident}") for k in _receipts(h))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param({"businessUnit": None}, "unmapped_business_unit", id="no-business-unit"),
        pytest.param({"invoiceDate": None}, "missing_invoice_date", id="no-invoice-date"),
        pytest.param(
            {"items": [], "subTotal": "0", "salesTax": "0", "total": "0"},
            "no_invoice_items",
            id="no-items",
        ),
    ],
)
async def test_missing_fields_go_to_attention_with_the_field_named(
    h: Harness, fields: dict[str, Any], reason: str
) -> None:
    bad = _an_invoice(h)
    _edit(h, "invoices", bad, **fields)
    await InvoiceFlow(h.ctx()).run()
    assert (await _attention(h, INVOICES))[str(bad)].reason == reason
    assert str(bad) not in _posted_invoices(h)


async def test_a_payment_without_a_type_goes_to_attention(h: Harness) -> None:
    bad = _a_payment(h)
    _edit(h, "payments", bad, typeId=None, type=None)
    await PaymentFlow(h.ctx()).run()
    assert (await _attention(h, PAYMENTS))[str(bad)].reason == "unmapped_payment_type"


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        pytest.param({"invoiceDate": "2026-11-01T10:00:00"}, "invoiceDate", id="naive-timestamp"),
        pytest.param({"id": None}, "id", id="missing-id"),
        pytest.param({"total": "twelve dollars"}, "total", id="amount-not-a-number"),
    ],
)
async def test_a_record_that_does_not_parse_stops_the_run_before_it_and_posts_once_fixed(
    h: Harness, fields: dict[str, Any], why: str
) -> None:
    bad = _an_invoice(h)
    row = next(r for r in h.table("invoices") if r["id"] == bad)
    good = {k: row[k] for k in fields}
    _edit(h, "invoices", bad, **fields)
    with pytest.raises(TransportFailure) as raised:
        await InvoiceFlow(h.ctx()).run()
    message = str(raised.value)
    assert "servicetitan" in message
    assert "does not parse as Invoice" in message
    assert why in message
    assert str(bad) not in _posted_invoices(h)
    # corrected in ServiceTitan, the next run (from the stored cursor) posts it
    _edit(h, "invoices", bad, **good)
    await InvoiceFlow(h.ctx()).run()
    assert set(_posted_invoices(h)) == {str(i) for i in h.dataset.expected.invoices.eligible}
