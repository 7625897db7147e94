"""F4/F5 mapping (issue 6): amounts to the cent, every decision recorded, attention with reasons.

The end-to-end test posts every eligible sandbox invoice and payment through the Fusion client to
the Fusion simulator (oracle-fusion-api.md §4.4, §4.5).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as s

from ml_connector.clock import FakeClock
from ml_connector.errors import NeedsAttentionError
from ml_connector.mapping.invoices import BillTo, map_invoice, transaction_date
from ml_connector.mapping.payments import map_payment
from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.data import sandbox_mapping
from ml_connector.sandbox.server import build_sandbox
from ml_connector.settings import FusionSettings
from ml_connector.systems.fusion.client import FusionClient
from ml_connector.systems.servicetitan import models as st

MAPPING = sandbox_mapping().receivables
BU = next(iter(MAPPING.business_units))
BILL_TO = BillTo(account_number="1008", site_number="20001", how="custom field 'Fusion Account'")


def _invoice(items: list[dict[str, object]], **extra: object) -> st.Invoice:
    return st.Invoice.model_validate(
        {
            "id": 42,
            "referenceNumber": "1042",
            "invoiceDate": "2026-10-30T00:00:00Z",
            "businessUnit": {"id": int(BU), "name": "HVAC"},
            "total": str(
                sum(Decimal(str(i["total"])) for i in items)
                + Decimal(str(extra.get("salesTax", "0")))
            ),
            "items": items,
            **extra,
        }
    )


def test_invoice_payload_and_decisions() -> None:
    mapped = map_invoice(
        _invoice(
            [
                {
                    "id": 1,
                    "type": "Service",
                    "description": "<p>Tune&amp;up</p>",
                    "quantity": "1.0000000000000000000",
                    "price": "89.00",
                    "total": "89.00",
                },
                {
                    "id": 2,
                    "type": "Material",
                    "description": "Filter",
                    "quantity": "3",
                    "price": "9.99",
                    "total": "29.97",
                },
            ]
        ),
        BILL_TO,
        MAPPING,
        timezone="America/Chicago",
    )
    p = mapped.payload
    assert p["TransactionNumber"] == "ST-1042"
    assert p["CrossReference"] == "42"
    assert p["TransactionDate"] == "2026-10-30", (
        "a date-only value is the date it names, not shifted"
    )
    assert p["BillToCustomerNumber"] == "1008"
    assert p["receivablesInvoiceLines"][0]["Description"] == "Tune&up"
    assert p["receivablesInvoiceLines"][1]["Quantity"] == Decimal(3)
    assert [d["AccountClass"] for d in p["receivablesInvoiceDistributions"]] == [
        "Revenue",
        "Revenue",
    ]
    assert (
        p["receivablesInvoiceDistributions"][0]["AccountCombination"].split("-")[2]
        == MAPPING.revenue_accounts["Service"]
    )
    rules = {d.rule for d in mapped.decisions}
    assert {
        "business_unit",
        "transaction_type",
        "transaction_number",
        "customer",
        "transaction_date",
        "revenue_account",
    } <= rules


def test_timestamps_convert_to_the_connection_time_zone() -> None:
    assert transaction_date(datetime(2026, 10, 31, 3, 0, tzinfo=UTC), "America/Chicago") == date(
        2026, 10, 30
    )
    assert transaction_date(datetime(2026, 10, 31, 0, 0, tzinfo=UTC), "America/Chicago") == date(
        2026, 10, 31
    )


@pytest.mark.parametrize(
    ("invoice", "reason"),
    [
        (
            _invoice(
                [{"id": 1, "type": "Service", "total": "10.00"}],
                businessUnit={"id": 999, "name": "x"},
            ),
            "unmapped_business_unit",
        ),
        (_invoice([{"id": 1, "type": "Mystery", "total": "10.00"}]), "unmapped_revenue_account"),
        (
            _invoice([{"id": 1, "type": "Service", "total": "10.00"}], salesTax="0.83"),
            "unmapped_tax_account",
        ),
        (_invoice([]), "no_invoice_items"),
        (
            st.Invoice.model_validate(
                {
                    "id": 5,
                    "invoiceDate": "2026-10-30T00:00:00Z",
                    "businessUnit": {"id": int(BU)},
                    "total": "50.00",
                    "items": [{"id": 1, "type": "Service", "total": "40.00"}],
                }
            ),
            "amount_mismatch",
        ),
    ],
)
def test_unpostable_invoices_need_attention_with_a_reason(invoice: st.Invoice, reason: str) -> None:
    with pytest.raises(NeedsAttentionError) as info:
        map_invoice(invoice, BILL_TO, MAPPING, timezone="UTC")
    assert info.value.reason == reason
    assert info.value.message


def test_negative_invoice_is_a_credit_memo_or_attention_by_configuration() -> None:
    negative = _invoice([{"id": 1, "type": "Service", "total": "-25.00"}])
    assert (
        map_invoice(negative, BILL_TO, MAPPING, timezone="UTC").payload["TransactionType"]
        == "Credit Memo"
    )
    strict = MAPPING.model_copy(update={"negative_invoices": "attention"})
    with pytest.raises(NeedsAttentionError, match=r"totals -25\.00"):
        map_invoice(negative, BILL_TO, strict, timezone="UTC")


money = s.decimals(min_value=Decimal("-5000"), max_value=Decimal("5000"), places=2)


@settings(max_examples=200, deadline=None)
@given(
    items=s.lists(s.tuples(s.integers(min_value=1, max_value=20), money), min_size=1, max_size=8),
    tax=s.decimals(min_value=Decimal("0"), max_value=Decimal("500"), places=2),
)
def test_amounts_are_preserved_to_the_cent(items: list[tuple[int, Decimal]], tax: Decimal) -> None:
    rows = [
        {
            "id": n,
            "type": "Material",
            "quantity": str(q),
            "price": str(p),
            "total": str((q * p).quantize(Decimal("0.01"))),
        }
        for n, (q, p) in enumerate(items, start=1)
    ]
    invoice = _invoice(rows, salesTax=str(tax))
    mapping = MAPPING.model_copy(update={"tax_account": "2200"})
    mapped = map_invoice(invoice, BILL_TO, mapping, timezone="UTC")
    lines = mapped.payload["receivablesInvoiceLines"]
    assert sum(line["LineAmount"] for line in lines) == invoice.total
    assert (
        sum(d["Amount"] for d in mapped.payload["receivablesInvoiceDistributions"]) == invoice.total
    )
    assert all(
        line["Quantity"] * line["UnitSellingPrice"] == line["LineAmount"]
        for line in lines
        if "Quantity" in line
    )
    assert sum(1 for d in mapped.decisions if d.rule == "revenue_account") == len(rows)


def _payment(**extra: object) -> st.Payment:
    base: dict[str, object] = {
        "id": 77,
        "date": "2026-10-31T00:00:00Z",
        "typeId": next(iter(MAPPING.payment_types)),
        "total": "100.00",
        "businessUnit": {"id": int(BU)},
        "appliedTo": [
            {"appliedTo": 42, "appliedAmount": "60.00"},
            {"appliedTo": 43, "appliedAmount": "30.00"},
        ],
    }
    return st.Payment.model_validate({**base, **extra})


def test_payment_maps_to_a_receipt_with_applications_and_remainder_on_account() -> None:
    mapped = map_payment(_payment(), "1008", MAPPING, timezone="UTC")
    plan = mapped.payload
    assert plan.payload["ReceiptNumber"] == "ST-PAY-77"
    assert plan.payload["Amount"] == Decimal("100.00")
    assert [(a.st_invoice_id, a.amount) for a in plan.applications] == [
        (42, Decimal("60.00")),
        (43, Decimal("30.00")),
    ]
    assert plan.unapplied == Decimal("10.00")
    assert "on_account" in {d.rule for d in mapped.decisions}


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"refundedPaymentId": 5, "total": "-20.00", "appliedTo": []}, "refund_or_reversal"),
        ({"typeId": "999"}, "unmapped_payment_type"),
        ({"appliedTo": [{"appliedTo": 42, "appliedAmount": "150.00"}]}, "over_applied"),
    ],
)
def test_unpostable_payments_need_attention(extra: dict[str, object], reason: str) -> None:
    with pytest.raises(NeedsAttentionError) as info:
        map_payment(_payment(**extra), "1008", MAPPING, timezone="UTC")
    assert info.value.reason == reason


async def test_every_eligible_sandbox_invoice_and_payment_posts_with_equal_amounts() -> None:
    clock = FakeClock()
    box = build_sandbox(clock=clock)
    assert box.dataset is not None
    expected = box.dataset.expected
    invoices = {
        r["id"]: st.Invoice.model_validate(r) for r in box.servicetitan.snapshot("invoices")
    }
    payments = {
        r["id"]: st.Payment.model_validate(r) for r in box.servicetitan.snapshot("payments")
    }
    settings_ = FusionSettings(
        base_url="http://fusion.test", auth="basic", username=sb.FUSION_USERNAME
    )
    client = FusionClient.from_settings(
        settings_,
        secret=sb.FUSION_PASSWORD,
        clock=clock,
        transport=httpx.ASGITransport(app=box.fusion_app),
    )
    installments: dict[int, int] = {}
    async with client:
        for ident, exp in expected.invoices.eligible.items():
            mapped = map_invoice(
                invoices[ident],
                BillTo(account_number=exp.account_number, site_number=None, how="manifest"),
                MAPPING,
                timezone="UTC",
            )
            created = await client.create_invoice(mapped.payload)
            assert created.EnteredAmount == exp.total
            assert created.TransactionNumber == f"ST-{invoices[ident].referenceNumber}"
            installments[ident] = (
                await client.invoice_installments(created.CustomerTransactionId)
            )[0].InstallmentId
        for ident, pay in expected.payments.eligible.items():
            plan = map_payment(payments[ident], pay.account_number, MAPPING, timezone="UTC").payload
            receipt = await client.create_receipt(plan.payload)
            assert receipt.Amount == pay.total
            for app in plan.applications:
                await client.apply_receipt(
                    receipt.StandardReceiptId, installments[app.st_invoice_id], app.amount
                )
            assert sorted((a.st_invoice_id, a.amount) for a in plan.applications) == sorted(
                pay.applications
            )
