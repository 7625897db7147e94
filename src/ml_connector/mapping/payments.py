"""F5: a ServiceTitan payment → a Fusion ``standardReceipts`` POST payload + its applications (pure).

- Receipt number = prefix + ``PAY-`` + the ServiceTitan payment id (unique and stable, so a retry
  finds the receipt instead of creating a second one).
- Receipt method and remittance bank account from ``mapping.receivables.payment_types``.
- Business unit through the business-unit mapping; customer account resolved by the flow.
- Applications: one per ``appliedTo`` entry (ServiceTitan invoice id, amount to the cent); what is
  not applied stays on account in Fusion.
- Refunds and reversals (a ``refundedPaymentId`` or a negative total) need a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ml_connector.errors import NeedsAttentionError
from ml_connector.mapping.config import ReceivablesMapping
from ml_connector.mapping.decisions import Decisions, Mapped
from ml_connector.mapping.invoices import business_unit, to_cents, transaction_date
from ml_connector.systems.servicetitan import models as st


@dataclass(frozen=True, kw_only=True)
class Application:
    st_invoice_id: int
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class ReceiptPlan:
    payload: dict[str, Any]
    applications: tuple[Application, ...]
    unapplied: Decimal


def receipt_number(mapping: ReceivablesMapping, payment_id: int) -> str:
    return f"{mapping.transaction_number_prefix}PAY-{payment_id}"


def map_payment(
    payment: st.Payment, account_number: str, mapping: ReceivablesMapping, *, timezone: str
) -> Mapped[ReceiptPlan]:
    d = Decisions()
    total = to_cents(payment.total, f"payment {payment.id}'s total")
    if payment.refundedPaymentId is not None or total < 0:
        raise NeedsAttentionError(
            "refund_or_reversal",
            f"payment {payment.id} is a refund or reversal ({total})",
            suggestion="record the refund in Fusion by hand; refunds are not posted automatically",
        )
    type_key = str(payment.typeId) if payment.typeId is not None else ""
    method = mapping.payment_types.get(type_key)
    if method is None:
        raise NeedsAttentionError(
            "unmapped_payment_type",
            f"payment type {type_key or '(none)'} ({payment.type}) is not mapped",
            suggestion=f'add [mapping.receivables.payment_types."{type_key}"] with a receipt method and bank account',
        )
    d.add("payment_type", "mapped", source=type_key, target=method.receipt_method)
    invoice_like = st.Invoice(id=payment.id, businessUnit=payment.businessUnit)
    target = business_unit(mapping, invoice_like, d)
    when = transaction_date(payment.date, timezone)
    if when is None:
        raise NeedsAttentionError("missing_payment_date", f"payment {payment.id} has no date")
    applications = tuple(
        Application(
            st_invoice_id=a.appliedTo,
            amount=to_cents(a.appliedAmount, f"payment {payment.id}'s application"),
        )
        for a in payment.appliedTo
        if a.appliedAmount != 0
    )
    applied = sum((a.amount for a in applications), Decimal(0))
    if applied > total:
        raise NeedsAttentionError(
            "over_applied",
            f"payment {payment.id} applies {applied} but totals {total}",
            suggestion="correct the payment's applications in ServiceTitan",
        )
    number = receipt_number(mapping, payment.id)
    d.add("receipt_number", "prefix + PAY- + payment id", source=str(payment.id), target=number)
    d.add("customer", "account of the payment's customer", target=account_number)
    for a in applications:
        d.add(
            "application", f"apply to ServiceTitan invoice {a.st_invoice_id}", target=str(a.amount)
        )
    if applied < total:
        d.add("on_account", "unapplied remainder stays on account", target=str(total - applied))
    payload: dict[str, Any] = {
        "ReceiptNumber": number,
        "BusinessUnit": target.fusion_business_unit,
        "ReceiptMethod": method.receipt_method,
        "RemittanceBankAccountNumber": method.remittance_bank_account,
        "Amount": total,
        "Currency": mapping.currency,
        "ReceiptDate": when.isoformat(),
        "CustomerAccountNumber": account_number,
        "Comments": f"ServiceTitan payment {payment.id}",
    }
    return Mapped(
        payload=ReceiptPlan(payload=payload, applications=applications, unapplied=total - applied),
        decisions=tuple(d.items),
    )
