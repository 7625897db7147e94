"""Purchase orders and receipts (reference §6.2, §6.3).

Rules kept here so the API layer and the data generator share them: a PO is created ``Pending`` and
its status is never set from outside; ``total`` = active items + tax + shipping; ``items`` on update
replaces the set (active items not sent become ``Inactive``, kept for the record but out of the
total); a PO can be edited or cancelled only while ``Pending`` or ``Sent`` (no edits after receipt
or export); a receipt raises ``quantityReceived`` and moves the PO to ``PartiallyReceived`` or
``Received``; cancelling the receipt undoes that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ml_connector.sandbox.servicetitan.records import Record
from ml_connector.sandbox.servicetitan.state_core import Conflict, Invalid
from ml_connector.sandbox.servicetitan.state_master import MasterDataMixin, address

EDITABLE = ("Pending", "Sent")
RECEIVABLE = ("Pending", "Sent", "PartiallyReceived")


@dataclass(frozen=True, kw_only=True)
class POItemInput:
    """One PO line as a create or update request carries it (``id`` only on update; 0 = new)."""

    sku_id: int
    description: str
    vendor_part_number: str
    quantity: Decimal
    cost: Decimal
    budget_code_id: int | None = None
    id: int | None = None


@dataclass(frozen=True, kw_only=True)
class ReceiptItemInput:
    sku_id: int
    quantity: Decimal
    cost: Decimal
    purchase_order_item_id: int | None = None
    description: str | None = None
    vendor_part_number: str | None = None
    budget_code_id: int | None = None


class PurchasingMixin(MasterDataMixin):
    """PO and receipt behaviour on top of the master data."""

    def _check_ref(self, table: str, ident: int, field: str) -> Record:
        record = self.tables[table].get(ident)
        if record is None:
            raise Invalid(field, f"{field} {ident} does not exist")
        return record

    def _po_item(self, item: POItemInput, index: int, stamp: datetime) -> dict[str, Any]:
        found = self.find_sku(item.sku_id)
        if found is None:
            raise Invalid(f"items[{index}].skuId", f"SKU {item.sku_id} not found")
        kind, sku = found
        return {
            "id": self.next_id(),
            "skuId": item.sku_id,
            "description": item.description,
            "createdOn": stamp,
            "modifiedOn": stamp,
            "skuName": sku.fields["displayName"] or sku.fields["code"],
            "skuCode": sku.fields["code"],
            "skuType": kind,
            "vendorPartNumber": item.vendor_part_number,
            "quantity": item.quantity,
            "quantityReceived": Decimal("0"),
            "cost": item.cost,
            "total": item.quantity * item.cost,
            "serialNumbers": [],
            "status": "Pending",
            "chargeable": False,
            "budgetCodeId": item.budget_code_id,
        }

    @staticmethod
    def _po_total(fields: Mapping[str, Any]) -> Decimal:
        items = sum(
            (i["total"] for i in fields["items"] if i["status"] != "Inactive"), Decimal("0")
        )
        return Decimal(items + fields["tax"] + fields["shipping"])

    def add_purchase_order(
        self,
        *,
        vendor_id: int,
        type_id: int,
        business_unit_id: int,
        inventory_location_id: int,
        items: Sequence[POItemInput],
        date: datetime,
        required_on: datetime | None = None,
        tax: Decimal = Decimal("0"),
        shipping: Decimal = Decimal("0"),
        ship_to: Mapping[str, Any] | None = None,
        ship_to_description: str = "",
        job_id: int | None = None,
        technician_id: int | None = None,
        project_id: int | None = None,
        budget_code_id: int | None = None,
        vendor_invoice_number: str | None = None,
        memo: str | None = None,
        impacts_technician_payroll: bool = False,
    ) -> Record:
        self._check_ref("vendors", vendor_id, "vendorId")
        self._check_ref("purchase_order_types", type_id, "typeId")
        self._check_ref("business_units", business_unit_id, "businessUnitId")
        self._check_ref("warehouses", inventory_location_id, "inventoryLocationId")
        if job_id is not None:
            self._check_ref("jobs", job_id, "jobId")
        stamp = self.stamp()
        lines = [self._po_item(item, n, stamp) for n, item in enumerate(items)]
        ident = self.next_id()
        fields: dict[str, Any] = {
            "number": str(ident),
            "invoiceId": None,
            "jobId": job_id,
            "projectId": project_id,
            "status": "Pending",
            "typeId": type_id,
            "vendorId": vendor_id,
            "technicianId": technician_id,
            "shipTo": address(ship_to),
            "businessUnitId": business_unit_id,
            "inventoryLocationId": inventory_location_id,
            "batchId": None,
            "budgetCodeId": budget_code_id,
            "vendorDocumentNumber": vendor_invoice_number or "",
            "date": date,
            "requiredOn": required_on,
            "sentOn": None,
            "receivedOn": None,
            "total": Decimal("0"),
            "tax": tax,
            "shipping": shipping,
            "createdById": None,
            "summary": memo or "",
            "items": lines,
            "customFields": [],
        }
        fields["total"] = self._po_total(fields)
        hidden = {
            "shipToDescription": ship_to_description,
            "impactsTechnicianPayroll": impacts_technician_payroll,
        }
        return self._new("purchase_orders", fields, ident=ident, hidden=hidden)

    def update_purchase_order(
        self,
        po_id: int,
        *,
        items: Sequence[POItemInput] | None = None,
        hidden: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Record:
        """Partial update in response field names; ``items`` (when given) replaces the set."""
        po = self.require("purchase_orders", po_id)
        if po.fields["status"] not in EDITABLE:
            raise Conflict(f"Purchase order {po_id} is {po.fields['status']} and cannot be edited")
        for ref, table in (
            ("vendorId", "vendors"),
            ("typeId", "purchase_order_types"),
            ("businessUnitId", "business_units"),
            ("inventoryLocationId", "warehouses"),
        ):
            if ref in fields:
                self._check_ref(table, fields[ref], ref)
        stamp = self.stamp()
        if items is not None:
            current = {i["id"]: i for i in po.fields["items"]}
            kept: set[int] = set()
            new_lines = []
            for n, item in enumerate(items):
                if item.id and item.id in current:
                    line = current[item.id]
                    if self.find_sku(item.sku_id) is None:
                        raise Invalid(f"items[{n}].skuId", f"SKU {item.sku_id} not found")
                    line.update(
                        skuId=item.sku_id,
                        description=item.description,
                        vendorPartNumber=item.vendor_part_number,
                        quantity=item.quantity,
                        cost=item.cost,
                        total=item.quantity * item.cost,
                        budgetCodeId=item.budget_code_id,
                        modifiedOn=stamp,
                    )
                    if line["status"] == "Inactive":
                        line["status"] = "Pending"
                    kept.add(item.id)
                elif item.id:
                    raise Invalid(f"items[{n}].id", f"PO item {item.id} not found")
                else:
                    new_lines.append(self._po_item(item, n, stamp))
            for line in po.fields["items"]:
                if line["id"] not in kept and line["status"] != "Inactive":
                    line["status"] = "Inactive"
                    line["modifiedOn"] = stamp
            po.fields["items"].extend(new_lines)
        po.fields.update(fields)
        po.hidden.update(hidden or {})
        po.fields["total"] = self._po_total(po.fields)
        return self._changed("purchase_orders", po)

    def cancel_purchase_order(self, po_id: int, reason: str | None = None) -> Record:
        po = self.require("purchase_orders", po_id)
        if po.fields["status"] not in EDITABLE:
            raise Conflict(
                f"Purchase order {po_id} is {po.fields['status']} and cannot be canceled"
            )
        po.fields["status"] = "Canceled"
        po.hidden["canceledReason"] = reason
        return self._changed("purchase_orders", po)

    def set_po_status(self, po_id: int, status: str) -> Record:
        """For seeds and tests only: the API cannot set a status (reference §6.2)."""
        po = self.require("purchase_orders", po_id)
        po.fields["status"] = status
        return self._changed("purchase_orders", po)

    def _refresh_po_status(self, po: Record, when: datetime | None) -> None:
        active = [i for i in po.fields["items"] if i["status"] != "Inactive"]
        for line in active:
            got, want = line["quantityReceived"], line["quantity"]
            line["status"] = (
                "Received" if got >= want else ("PartiallyReceived" if got else "Pending")
            )
        if active and all(i["status"] == "Received" for i in active):
            po.fields["status"] = "Received"
            po.fields["receivedOn"] = when
        elif any(i["quantityReceived"] > 0 for i in active):
            po.fields["status"] = "PartiallyReceived"
            po.fields["receivedOn"] = None
        else:
            po.fields["status"] = po.hidden.get("statusBeforeReceipt", "Pending")
            po.fields["receivedOn"] = None

    def receive_purchase_order(
        self,
        *,
        purchase_order_id: int,
        date_received: datetime,
        items: Sequence[ReceiptItemInput],
        tax: Decimal = Decimal("0"),
        shipping: Decimal = Decimal("0"),
        vendor_document_number: str | None = None,
        memo: str | None = None,
        budget_code_id: int | None = None,
    ) -> Record:
        po = self._check_ref("purchase_orders", purchase_order_id, "purchaseOrderId")
        if po.fields["status"] not in RECEIVABLE:
            raise Conflict(f"Purchase order {purchase_order_id} is {po.fields['status']}")
        lines = po.fields["items"]
        matched: list[tuple[dict[str, Any], ReceiptItemInput]] = []
        for n, item in enumerate(items):
            line = next(
                (
                    x
                    for x in lines
                    if x["status"] != "Inactive"
                    and (
                        x["id"] == item.purchase_order_item_id
                        if item.purchase_order_item_id
                        else x["skuId"] == item.sku_id
                    )
                ),
                None,
            )
            if line is None:
                raise Invalid(f"items[{n}].purchaseOrderItemId", "No matching purchase order item")
            matched.append((line, item))
        po.hidden.setdefault("statusBeforeReceipt", po.fields["status"])
        stamp = self.stamp()
        receipt_items = []
        for line, item in matched:
            line["quantityReceived"] += item.quantity
            line["modifiedOn"] = stamp
            receipt_items.append(
                {
                    "id": self.next_id(),
                    "skuId": line["skuId"],
                    "name": line["skuName"],
                    "code": line["skuCode"],
                    "description": item.description or line["description"],
                    "quantity": item.quantity,
                    "cost": item.cost,
                    "generalLedgerAccount": None,
                    "costOfSaleAccount": None,
                    "assetAccount": None,
                    "purchaseOrderItemId": line["id"],
                    "budgetCodeId": item.budget_code_id,
                    "allocatedShipping": None,
                    "allocatedTax": None,
                    "allocatedOtherCosts": None,
                    "fullyLandedUnitCost": None,
                }
            )
        self._refresh_po_status(po, date_received)
        self._changed("purchase_orders", po)
        amount = sum((i["quantity"] * i["cost"] for i in receipt_items), Decimal("0"))
        ident = self.next_id()
        fields: dict[str, Any] = {
            "number": f"{po.fields['number']}-{ident}",
            "vendorInvoiceNumber": vendor_document_number or "",
            "createdById": None,
            "memo": memo or "",
            "purchaseOrderId": po.id,
            "billId": self.next_id(),
            "jobId": po.fields["jobId"],
            "businessUnitId": po.fields["businessUnitId"],
            "vendorId": po.fields["vendorId"],
            "technicianId": po.fields["technicianId"],
            "inventoryLocationId": po.fields["inventoryLocationId"],
            "shipTo": dict(po.fields["shipTo"]),
            "shipToDescription": po.hidden.get("shipToDescription", ""),
            "receiptAmount": Decimal(amount + tax + shipping),
            "taxAmount": tax,
            "shippingAmount": shipping,
            "receivedOn": date_received,
            "batchId": None,
            "syncStatus": "Pending",
            "budgetCodeId": budget_code_id,
            "landedCostMethod": "None",
            "otherAmount": None,
            "items": receipt_items,
            "customFields": [],
        }
        return self._new("receipts", fields, ident=ident)

    def cancel_receipt(self, receipt_id: int, reason: str | None = None) -> Record:
        receipt = self.require("receipts", receipt_id)
        if not receipt.active:
            raise Conflict(f"Receipt {receipt_id} is already canceled")
        po = self.require("purchase_orders", receipt.fields["purchaseOrderId"])
        by_id = {i["id"]: i for i in po.fields["items"]}
        for item in receipt.fields["items"]:
            line = by_id.get(item["purchaseOrderItemId"])
            if line is not None:
                line["quantityReceived"] -= item["quantity"]
        self._refresh_po_status(po, po.fields["receivedOn"])
        self._changed("purchase_orders", po)
        receipt.active = False
        receipt.hidden["canceledReason"] = reason
        return self._changed("receipts", receipt)
