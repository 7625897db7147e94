"""Property tests for receivables mapping (issue 8): amounts kept to the cent, decisions recorded.

Random invoices (lines with quantities, prices and totals of many decimals, discounts, tax,
negative totals) and payments (applications, remainders) go through the real mapping functions.
Whenever a payload comes out, its lines and distributions add up to the invoice total to the cent
and every promised decision is in the list; whenever it does not, the reason is one a person can
act on — never an arithmetic exception.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as hs

from ml_connector.errors import NeedsAttentionError
from ml_connector.mapping.invoices import BillTo, map_invoice
from ml_connector.mapping.payments import map_payment
from ml_connector.sandbox.data import sandbox_mapping
from ml_connector.systems.servicetitan import models as st

BASE = sandbox_mapping(None).receivables
MAPPING = BASE.model_copy(update={"default_revenue_account": "4000", "tax_account": "2200"})
CENT = Decimal("0.01")
BU = int(next(iter(MAPPING.business_units)))
PAY_TYPE = next(iter(MAPPING.payment_types))
BILL_TO = BillTo(account_number="10001", site_number="S1", how="test")
REASONS = {"amount_mismatch", "amount_out_of_range"}

amounts = hs.decimals(
    min_value=Decimal("-100000"), max_value=Decimal("100000"), places=6, allow_nan=False
)
quantities = hs.decimals(min_value=Decimal("0"), max_value=Decimal("50"), places=3)


@hs.composite
def invoices(draw: hs.DrawFn) -> tuple[st.Invoice, bool]:
    n = draw(hs.integers(1, 6))
    items: list[dict[str, Any]] = []
    for i in range(n):
        qty = draw(quantities)
        price = draw(amounts)
        exact = draw(hs.booleans())
        total = (qty * price).quantize(CENT) if exact else draw(amounts)
        items.append(
            {"id": i + 1, "quantity": str(qty), "price": str(price), "total": str(total),
             "type": draw(hs.sampled_from(["Service", "Material", 7, None])), "order": i}
        )  # fmt: skip
    tax = draw(hs.one_of(hs.just(Decimal(0)), amounts))
    consistent = draw(hs.booleans())
    cents = sum((Decimal(i["total"]).quantize(CENT) for i in items), Decimal(0))
    total = cents + tax.quantize(CENT) if consistent else draw(amounts)
    raw = {
        "id": 77, "referenceNumber": "R-77", "total": str(total), "salesTax": str(tax),
        "invoiceDate": "2026-11-02T00:00:00Z", "businessUnit": {"id": BU, "name": "HVAC"},
        "items": items,
    }  # fmt: skip
    return st.Invoice.model_validate(raw), consistent


@settings(max_examples=300, deadline=None)
@given(invoices())
def test_a_mapped_invoice_adds_up_to_its_total_to_the_cent(drawn: tuple[st.Invoice, bool]) -> None:
    invoice, consistent = drawn
    refused: str | None = None
    try:
        mapped = map_invoice(invoice, BILL_TO, MAPPING, timezone="America/Chicago")
    except NeedsAttentionError as exc:
        refused = exc.reason
    if refused is not None:
        assert refused in REASONS
        assert not consistent or refused == "amount_out_of_range"
        return
    payload = mapped.payload
    total = Decimal(str(invoice.total)).quantize(CENT)
    lines = payload["receivablesInvoiceLines"]
    assert sum((line["LineAmount"] for line in lines), Decimal(0)) == total
    for line in lines:
        assert line["LineAmount"] == line["LineAmount"].quantize(CENT)
        if "Quantity" in line:
            assert (line["Quantity"] * line["UnitSellingPrice"]).quantize(CENT) == line[
                "LineAmount"
            ]
    dists = payload["receivablesInvoiceDistributions"]
    non_receivable = [d for d in dists if d["AccountClass"] != "Receivable"]
    assert sum((d["Amount"] for d in non_receivable), Decimal(0)) == total
    rules = [d.rule for d in mapped.decisions]
    for promised in ("business_unit", "transaction_type", "transaction_number", "customer",
                     "transaction_date"):  # fmt: skip
        assert promised in rules
    assert rules.count("revenue_account") == len(invoice.items)
    assert ("tax" in rules) == (Decimal(str(invoice.salesTax)).quantize(CENT) != 0)
    if total < 0:  # a negative total posts as a credit memo (negative_invoices = "credit_memo")
        bu = MAPPING.business_units[str(BU)]
        assert payload["TransactionType"] == bu.credit_memo_transaction_type


@hs.composite
def payments(draw: hs.DrawFn) -> st.Payment:
    total = draw(amounts)
    apps = draw(hs.lists(amounts.map(abs), max_size=4))
    raw = {
        "id": 5, "total": str(total), "typeId": PAY_TYPE, "date": "2026-11-02T15:30:00Z",
        "businessUnit": {"id": BU},
        "appliedTo": [{"appliedTo": 100 + i, "appliedAmount": str(a)} for i, a in enumerate(apps)],
    }  # fmt: skip
    return st.Payment.model_validate(raw)


@settings(max_examples=300, deadline=None)
@given(payments())
def test_a_mapped_payment_keeps_every_cent_applied_or_on_account(payment: st.Payment) -> None:
    refused: str | None = None
    try:
        mapped = map_payment(payment, "10001", MAPPING, timezone="America/Chicago")
    except NeedsAttentionError as exc:
        refused = exc.reason
    if refused is not None:
        assert refused in {"refund_or_reversal", "over_applied", "amount_out_of_range"}
        return
    plan = mapped.payload
    total = plan.payload["Amount"]
    assert total == Decimal(str(payment.total)).quantize(CENT) >= 0
    assert sum((a.amount for a in plan.applications), Decimal(0)) + plan.unapplied == total
    assert plan.unapplied >= 0
    rules = [d.rule for d in mapped.decisions]
    assert rules.count("application") == len(plan.applications)
    assert ("on_account" in rules) == (plan.unapplied > 0)
    for promised in ("payment_type", "business_unit", "receipt_number", "customer"):
        assert promised in rules
