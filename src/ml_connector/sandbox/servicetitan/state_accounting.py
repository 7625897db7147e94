"""Invoices and payments (reference §6.4, §6.5, §7).

Money is kept as ``Decimal`` in ``hidden`` and written to the wire fields as strings, the way
ServiceTitan's accounting API sends it (``"25.69"``; quantities ``"1.0000000000000000000"``).
Applying a payment lowers the invoice's ``balance`` and so changes the invoice too. Every create or
change fires the listeners (``invoice.created`` … ``payment.updated``) through ``StateCore``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ml_connector.sandbox.servicetitan.records import Record
from ml_connector.sandbox.servicetitan.state_core import Invalid
from ml_connector.sandbox.servicetitan.state_purchasing import PurchasingMixin
from ml_connector.sandbox.servicetitan.timefmt import money, quantity, unit_cost

SYNC_STATUSES = ("Pending", "Posted", "Exported")


@dataclass(frozen=True, kw_only=True)
class InvoiceItemSeed:
    """One invoice line for :meth:`AccountingMixin.add_invoice`."""

    sku_id: int
    quantity: Decimal
    price: Decimal
    description: str = ""
    type: str = "Material"
    cost: Decimal = Decimal("0")
    taxable: bool = True


@dataclass(frozen=True, kw_only=True)
class PaymentApplication:
    """A payment's share applied to one invoice."""

    invoice_id: int
    amount: Decimal


def _named(record: Record | None) -> dict[str, Any] | None:
    return None if record is None else {"id": record.id, "name": record.fields.get("name")}


class AccountingMixin(PurchasingMixin):
    """Invoice and payment behaviour."""

    def _invoice_items(
        self, items: Iterable[InvoiceItemSeed], bu: Record | None, stamp: datetime
    ) -> tuple[list[dict[str, Any]], Decimal]:
        lines: list[dict[str, Any]] = []
        subtotal = Decimal("0")
        for order, seed in enumerate(items, start=1):
            found = self.find_sku(seed.sku_id)
            sku_name = found[1].fields["code"] if found else None
            line_total = seed.quantity * seed.price
            subtotal += line_total
            lines.append(
                {
                    "id": self.next_id(),
                    "description": seed.description or sku_name,
                    "quantity": quantity(seed.quantity),
                    "cost": unit_cost(seed.cost),
                    "totalCost": money(seed.cost * seed.quantity),
                    "budgetCodeId": None,
                    "inventoryLocationId": None,
                    "inventoryLocation": None,
                    "price": money(seed.price),
                    "type": seed.type,
                    "skuName": sku_name,
                    "skuId": seed.sku_id,
                    "total": money(line_total),
                    "inventory": seed.type in ("Material", "Equipment"),
                    "taxable": seed.taxable,
                    "isChargeable": True,
                    "generalLedgerAccount": None,
                    "costOfSaleAccount": None,
                    "assetAccount": None,
                    "membershipTypeId": 0,
                    "itemGroup": None,
                    "displayName": seed.description or sku_name,
                    "soldHours": None,
                    "createdOn": stamp,
                    "modifiedOn": stamp,
                    "serviceDate": None,
                    "order": order,
                    "businessUnit": _named(bu),
                    "createdById": None,
                    "displayInAmount": None,
                    "importId": None,
                    "exportId": None,
                    "inventoryStatus": None,
                    "addOn": False,
                    "memberPrice": None,
                    "technicianId": None,
                    "installedEquipmentId": None,
                    "estimateItemId": None,
                }
            )
        return lines, subtotal

    def add_invoice(
        self,
        *,
        customer_id: int,
        business_unit_id: int,
        items: Sequence[InvoiceItemSeed] = (),
        job_id: int | None = None,
        number: str | None = None,
        invoice_date: datetime | None = None,
        due_date: datetime | None = None,
        tax: Decimal = Decimal("0"),
        sync_status: str = "Pending",
        review_status: str = "Reviewed",
        summary: str | None = None,
        active: bool = True,
        items_null: bool = False,
        **extra: Any,
    ) -> Record:
        """An invoice; ``items_null`` sends ``items: null`` as some real list responses do (§6.4)."""
        customer = self.require("customers", customer_id)
        bu = self.require("business_units", business_unit_id)
        job = self.require("jobs", job_id) if job_id is not None else None
        stamp = self.stamp()
        lines, subtotal = self._invoice_items(items, bu, stamp)
        total = subtotal + tax
        ident = self.next_id()
        addr = {k: customer.fields["address"].get(k) for k in ("street", "unit", "city")}
        addr.update({k: customer.fields["address"].get(k) for k in ("state", "zip", "country")})
        fields: dict[str, Any] = {
            "syncStatus": sync_status,
            "budgetCodeId": None,
            "referenceNumber": number or str(ident),
            "invoiceDate": invoice_date or stamp.replace(hour=0, minute=0, second=0, microsecond=0),
            "dueDate": due_date,
            "subTotal": money(subtotal),
            "salesTax": money(tax),
            "salesTaxCode": None,
            "taxZoneId": None,
            "total": money(total),
            "balance": money(total),
            "invoiceType": None,
            "customer": _named(customer),
            "customerAddress": addr,
            "location": _named(customer),
            "locationAddress": dict(addr),
            "businessUnit": _named(bu),
            "termName": "Net 30",
            "createdBy": "sandbox",
            "batch": None,
            "depositedOn": None,
            "adjustmentToId": None,
            "job": None
            if job is None
            else {"id": job.id, "number": job.fields["jobNumber"], "type": "Service"},
            "projectId": None,
            "royalty": None,
            "employeeInfo": None,
            "commissionEligibilityDate": None,
            "sentStatus": "Sent",
            "reviewStatus": review_status,
            "assignedTo": None,
            "summary": summary,
            "items": None if items_null else lines,
            "customFields": None,
            "discountTotal": "0.00",
            "importId": None,
            "exportId": None,
            "materialSkuId": None,
            "membershipId": None,
            "paidOn": None,
            "invoiceConfiguration": "JobInvoice",
            **extra,
        }
        hidden = {"total": total, "applied": Decimal("0"), "lines": lines}
        return self._new("invoices", fields, ident=ident, active=active, hidden=hidden)

    def update_invoice(
        self,
        invoice_id: int,
        *,
        active: bool | None = None,
        items: Sequence[InvoiceItemSeed] | None = None,
        tax: Decimal | None = None,
        **fields: Any,
    ) -> Record:
        """Partial update in response field names; new ``items`` or ``tax`` recompute the totals."""
        invoice = self.require("invoices", invoice_id)
        if active is not None:
            invoice.active = active
        if items is not None or tax is not None:
            bu_ref = invoice.fields["businessUnit"]
            bu = self.tables["business_units"].get(bu_ref["id"]) if bu_ref else None
            if items is not None:
                lines, subtotal = self._invoice_items(items, bu, self.stamp())
                invoice.hidden["lines"] = lines
                invoice.fields["items"] = lines
            else:
                subtotal = Decimal(invoice.fields["subTotal"])
            sales_tax = Decimal(invoice.fields["salesTax"]) if tax is None else tax
            total = subtotal + sales_tax
            invoice.hidden["total"] = total
            invoice.fields.update(
                subTotal=money(subtotal),
                salesTax=money(sales_tax),
                total=money(total),
                balance=money(total - invoice.hidden["applied"]),
            )
        invoice.fields.update(fields)
        return self._changed("invoices", invoice)

    def mark_invoices_exported(
        self, entries: Sequence[tuple[int, str | None, str | None]]
    ) -> list[dict[str, Any]]:
        """``invoices/markasexported``: per-item results; an unknown id is ``success: false`` (§7)."""
        results: list[dict[str, Any]] = []
        for invoice_id, external_id, _message in entries:
            invoice = self.tables["invoices"].get(invoice_id)
            if invoice is None:
                results.append(
                    {
                        "invoiceId": invoice_id,
                        "success": False,
                        "errorMessage": f"Invoice {invoice_id} not found",
                    }
                )
                continue
            invoice.fields["syncStatus"] = "Exported"
            if external_id is not None:
                invoice.fields["exportId"] = external_id
            self._changed("invoices", invoice)
            results.append({"invoiceId": invoice_id, "success": True, "errorMessage": None})
        return results

    def add_payment(
        self,
        *,
        customer_id: int,
        type_id: int,
        applied_to: Sequence[PaymentApplication] = (),
        total: Decimal | None = None,
        paid_on: datetime | None = None,
        business_unit_id: int | None = None,
        memo: str | None = None,
        reference_number: str | None = None,
        sync_status: str = "Pending",
        active: bool = True,
        **extra: Any,
    ) -> Record:
        """A payment, applied to invoices (which get a lower ``balance``)."""
        customer = self.require("customers", customer_id)
        ptype = self.require("payment_types", type_id)
        bu = self.require("business_units", business_unit_id) if business_unit_id else None
        invoices = []
        for n, app in enumerate(applied_to):
            invoice = self.tables["invoices"].get(app.invoice_id)
            if invoice is None:
                raise Invalid(f"appliedTo[{n}]", f"Invoice {app.invoice_id} not found")
            invoices.append(invoice)
        stamp = self.stamp()
        applied_sum = sum((a.amount for a in applied_to), Decimal("0"))
        amount = applied_sum if total is None else total
        applications = [
            {
                "appliedAmount": money(app.amount),
                "appliedBy": "sandbox",
                "appliedId": self.next_id(),
                "appliedOn": stamp,
                "appliedTo": app.invoice_id,
                "appliedToReferenceNumber": inv.fields["referenceNumber"],
            }
            for app, inv in zip(applied_to, invoices, strict=True)
        ]
        fields: dict[str, Any] = {
            "appliedTo": applications,
            "authCode": None,
            "batch": None,
            "businessUnit": _named(bu),
            "checkNumber": None,
            "createdBy": "sandbox",
            "customer": _named(customer),
            "customFields": None,
            "date": paid_on or stamp,
            "deposit": None,
            "generalLedgerAccount": None,
            "memo": memo,
            "referenceNumber": reference_number,
            "refundedPaymentId": None,
            "syncStatus": sync_status,
            "total": money(amount),
            "type": ptype.fields["name"],
            "typeId": str(ptype.id),
            "unappliedAmount": money(amount - applied_sum),
            **extra,
        }
        record = self._new("payments", fields, active=active, hidden={"total": amount})
        for app, invoice in zip(applied_to, invoices, strict=True):
            invoice.hidden["applied"] += app.amount
            balance = invoice.hidden["total"] - invoice.hidden["applied"]
            invoice.fields["balance"] = money(balance)
            if balance <= 0:
                invoice.fields["paidOn"] = fields["date"]
            self._changed("invoices", invoice)
        return record

    def update_payment(
        self, payment_id: int, *, active: bool | None = None, **fields: Any
    ) -> Record:
        payment = self.require("payments", payment_id)
        if active is not None:
            payment.active = active
        payment.fields.update(fields)
        return self._changed("payments", payment)

    def set_payment_status(self, payment_ids: Sequence[int], status: str) -> None:
        """``payments/status``: all ids must exist (checked first, so nothing changes on error)."""
        if status not in SYNC_STATUSES:
            raise Invalid("status", f"Unknown status {status}")
        for ident in payment_ids:
            if self.tables["payments"].get(ident) is None:
                raise Invalid("paymentIds", f"Payment {ident} not found")
        for ident in payment_ids:
            self.update_payment(ident, syncStatus=status)
