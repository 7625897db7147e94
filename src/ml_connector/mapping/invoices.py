"""F4: a ServiceTitan invoice → a Fusion ``receivablesInvoices`` POST payload (pure).

Rules (issue 6, DESIGN §3.2 rule 3):

- Business unit → Fusion business unit, transaction type and source through
  ``mapping.receivables.business_units``; an unmapped business unit needs a person.
- A negative total posts as a credit memo (``credit_memo_transaction_type``) when
  ``negative_invoices = "credit_memo"``, else it goes to attention (decision record 0007).
- ``TransactionNumber`` = prefix + the ServiceTitan reference number; ``CrossReference`` = the
  ServiceTitan invoice id, so every Fusion document traces back.
- ``TransactionDate``: ServiceTitan sends date-only values as midnight UTC; such a value is taken
  as the calendar date it names. A real timestamp is converted to the connection's time zone.
- Lines keep each item's total to the cent (``LineAmount``); ``Quantity`` and
  ``UnitSellingPrice`` are sent only when they multiply to exactly that total.
- Revenue distribution per line: the business unit's cost center + the natural account of the
  item's ServiceTitan GL account number, else of its item type, else the default; none → attention.
- Sales tax, when present, is its own line with a ``Tax`` distribution on ``tax_account``.

The customer is resolved before (link, custom field, externalData — by the flow, which can read the
API); this module receives the account number and bill-to site number.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ml_connector.errors import NeedsAttentionError
from ml_connector.mapping.accounts import revenue_combination
from ml_connector.mapping.config import BusinessUnitMap, ReceivablesMapping
from ml_connector.mapping.decisions import Decisions, Mapped
from ml_connector.systems.servicetitan import models as st

CENT = Decimal("0.01")
#: No receivable is this large: a bigger amount is a typo or a drifted field, and Decimal cannot
#: round one past 28 digits to the cent at all (it raised ``InvalidOperation`` and ended the run).
MAX_AMOUNT = Decimal("1e15")
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True, kw_only=True)
class BillTo:
    account_number: str
    site_number: str | None
    how: str


def plain_text(value: str | None, limit: int = 240) -> str:
    """ServiceTitan descriptions are HTML; Fusion wants plain text."""
    text = html.unescape(_TAGS.sub(" ", value or ""))
    return " ".join(text.split())[:limit]


def transaction_date(invoice_date: datetime | None, zone: str) -> date | None:
    if invoice_date is None:
        return None
    utc = invoice_date.astimezone(UTC)
    if utc.time() == time(0, 0):
        return utc.date()
    return utc.astimezone(ZoneInfo(zone)).date()


def business_unit(
    mapping: ReceivablesMapping, invoice: st.Invoice, d: Decisions
) -> BusinessUnitMap:
    if invoice.businessUnit is None:
        raise NeedsAttentionError(
            "unmapped_business_unit",
            f"invoice {invoice.id} has no business unit",
            suggestion="set the business unit on the invoice in ServiceTitan",
        )
    key = str(invoice.businessUnit.id)
    target = mapping.business_units.get(key)
    if target is None:
        raise NeedsAttentionError(
            "unmapped_business_unit",
            f"ServiceTitan business unit {key} ({invoice.businessUnit.name}) is not mapped",
            suggestion=f'add [mapping.receivables.business_units."{key}"] to the config',
        )
    d.add("business_unit", "mapped", source=key, target=target.fusion_business_unit)
    return target


def _natural_account(mapping: ReceivablesMapping, item: st.InvoiceItem, d: Decisions) -> str:
    gl = item.generalLedgerAccount.number if item.generalLedgerAccount else None
    if gl and gl in mapping.revenue_accounts:
        d.add(
            "revenue_account",
            f"item {item.id} by GL account",
            source=gl,
            target=mapping.revenue_accounts[gl],
        )
        return mapping.revenue_accounts[gl]
    if item.type and item.type in mapping.revenue_accounts:
        account = mapping.revenue_accounts[item.type]
        d.add("revenue_account", f"item {item.id} by item type", source=item.type, target=account)
        return account
    if mapping.default_revenue_account:
        d.add(
            "revenue_account", f"item {item.id} by default", target=mapping.default_revenue_account
        )
        return mapping.default_revenue_account
    raise NeedsAttentionError(
        "unmapped_revenue_account",
        f"invoice item {item.id} (type {item.type}, GL {gl}) has no revenue account",
        suggestion="add its GL account number or item type to mapping.receivables.revenue_accounts",
    )


def to_cents(value: Decimal | None, what: str) -> Decimal:
    """``value`` rounded to the cent; an amount out of range needs a person, not a crash."""
    amount = value or Decimal(0)
    if abs(amount) >= MAX_AMOUNT:
        raise NeedsAttentionError(
            "amount_out_of_range",
            f"{what} is {amount}, beyond the largest amount posted ({MAX_AMOUNT:,.0f})",
            suggestion="correct the amount in ServiceTitan, then replay",
        )
    return amount.quantize(CENT)  # below MAX_AMOUNT this never runs out of digits


def _money(value: Decimal | None, what: str = "an amount") -> Decimal:
    return to_cents(value, what)


def _line(number: int, item: st.InvoiceItem, d: Decisions) -> dict[str, Any]:
    total = _money(item.total, f"item {item.id}'s total")
    line: dict[str, Any] = {
        "LineNumber": number,
        "Description": plain_text(item.description or item.skuName)
        or f"ServiceTitan item {item.id}",
        "LineAmount": total,
    }
    qty, price = item.quantity, item.price
    if (
        qty
        and price is not None
        and abs(qty * price) < MAX_AMOUNT
        and (qty * price).quantize(CENT) == total
        and qty == qty.to_integral()
    ):
        line["Quantity"] = qty.normalize()
        line["UnitSellingPrice"] = price
    else:
        d.add(
            "line_amount",
            f"item {item.id}: amount only (quantity × price ≠ total)",
            target=str(total),
        )
    return line


def map_invoice(
    invoice: st.Invoice,
    bill_to: BillTo,
    mapping: ReceivablesMapping,
    *,
    timezone: str,
) -> Mapped[dict[str, Any]]:
    """The POST payload, or :class:`NeedsAttentionError` with a reason a person can act on."""
    d = Decisions()
    target = business_unit(mapping, invoice, d)
    total = _money(invoice.total, f"invoice {invoice.id}'s total")
    if total < 0:
        if mapping.negative_invoices != "credit_memo":
            raise NeedsAttentionError(
                "negative_invoice",
                f"invoice {invoice.id} totals {total}",
                suggestion="post it as a credit memo in Fusion, or set negative_invoices = 'credit_memo'",
            )
        transaction_type = target.credit_memo_transaction_type
        d.add(
            "transaction_type",
            "negative total → credit memo",
            source=str(total),
            target=transaction_type,
        )
    else:
        transaction_type = target.transaction_type
        d.add("transaction_type", "invoice", target=transaction_type)
    number = invoice.referenceNumber or str(invoice.id)
    d.add(
        "transaction_number",
        "prefix + reference number",
        source=number,
        target=mapping.transaction_number_prefix + number,
    )
    d.add("customer", bill_to.how, target=bill_to.account_number)
    when = transaction_date(invoice.invoiceDate, timezone)
    if when is None:
        raise NeedsAttentionError(
            "missing_invoice_date", f"invoice {invoice.id} has no invoice date"
        )
    d.add(
        "transaction_date",
        f"invoice date in {timezone}",
        source=str(invoice.invoiceDate),
        target=when.isoformat(),
    )
    lines: list[dict[str, Any]] = []
    distributions: list[dict[str, Any]] = []
    for item in sorted(invoice.items, key=lambda i: (i.order or 0, i.id)):
        number_ = len(lines) + 1
        line = _line(number_, item, d)
        account = _natural_account(mapping, item, d)
        lines.append(line)
        distributions.append(
            {
                "AccountClass": "Revenue",
                "AccountCombination": revenue_combination(mapping, target, account),
                "Amount": line["LineAmount"],
                "InvoiceLineNumber": number_,
            }
        )
    tax = _money(invoice.salesTax, f"invoice {invoice.id}'s sales tax")
    if tax != 0:
        if not mapping.tax_account:
            raise NeedsAttentionError(
                "unmapped_tax_account",
                f"invoice {invoice.id} has sales tax {tax} and no tax account is mapped",
                suggestion="set mapping.receivables.tax_account",
            )
        number_ = len(lines) + 1
        lines.append({"LineNumber": number_, "Description": "Sales tax", "LineAmount": tax})
        distributions.append(
            {
                "AccountClass": "Tax",
                "AccountCombination": revenue_combination(mapping, target, mapping.tax_account),
                "Amount": tax,
                "InvoiceLineNumber": number_,
            }
        )
        d.add("tax", "separate tax line", target=str(tax))
    if not lines:
        raise NeedsAttentionError(
            "no_invoice_items",
            f"invoice {invoice.id} has no items to post",
            suggestion="check the invoice in ServiceTitan (items may be missing from the list response)",
        )
    line_sum = sum((line["LineAmount"] for line in lines), Decimal(0))
    if line_sum != total:
        raise NeedsAttentionError(
            "amount_mismatch",
            f"invoice {invoice.id}: items and tax add up to {line_sum}, the invoice total is {total}",
            suggestion="correct the invoice in ServiceTitan; nothing was posted",
        )
    if target.receivable_account:
        distributions.append(
            {
                "AccountClass": "Receivable",
                "AccountCombination": target.receivable_account,
                "Amount": total,
            }
        )
        d.add("receivable_account", "mapped", target=target.receivable_account)
    payload: dict[str, Any] = {
        "BusinessUnit": target.fusion_business_unit,
        "TransactionSource": target.transaction_source,
        "TransactionType": transaction_type,
        "TransactionNumber": mapping.transaction_number_prefix + number,
        "CrossReference": str(invoice.id),
        "TransactionDate": when.isoformat(),
        "InvoiceCurrencyCode": mapping.currency,
        "BillToCustomerNumber": bill_to.account_number,
        "Comments": plain_text(
            f"ServiceTitan invoice {invoice.id}"
            + (f", job {invoice.job.number}" if invoice.job and invoice.job.number else "")
        ),
        "receivablesInvoiceLines": lines,
        "receivablesInvoiceDistributions": distributions,
    }
    if bill_to.site_number:
        payload["BillToSite"] = bill_to.site_number
    return Mapped(payload=payload, decisions=tuple(d.items))
