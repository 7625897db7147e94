"""F3 mapping: a ServiceTitan PO receipt → a Fusion ``receivingReceiptRequests`` body (pure).

Each receipt item reaches its Fusion PO line through the PO line ⇄ item link F2 wrote; the line's
first schedule is the shipment received against. ``ReceiptNumber`` carries the ServiceTitan receipt
id, which is the business key the flow looks a lost create up by (DESIGN §3.2 rule 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ml_connector.errors import NeedsAttentionError
from ml_connector.mapping.config import PurchaseOrderMapping
from ml_connector.mapping.decisions import Decisions
from ml_connector.systems.fusion.models import PurchaseOrder
from ml_connector.systems.servicetitan.models import Receipt


def receipt_number(receipt: Receipt) -> str:
    return f"ST-{receipt.id}"


def map_receipt(
    receipt: Receipt,
    po: PurchaseOrder,
    mapping: PurchaseOrderMapping,
    *,
    po_line_for_item: Mapping[int, int],
    decisions: Decisions,
) -> dict[str, Any]:
    """The request body; ``po_line_for_item`` maps ServiceTitan PO item id → Fusion POLineId."""
    lines_by_id = {line.POLineId: line for line in po.lines}
    auto = "DELIVER" if mapping.receipt_routing == "deliver" else None
    decisions.add("routing", "purchase_orders.receipt_routing", target=auto or "RECEIVE only")
    out: list[dict[str, Any]] = []
    for item in receipt.items:
        line_id = po_line_for_item.get(item.purchaseOrderItemId or 0)
        line = lines_by_id.get(line_id) if line_id is not None else None
        if line is None:
            decisions.add("line", "receipt item has no linked Fusion PO line", source=item.id)
            raise NeedsAttentionError(
                "receipt_item_not_linked",
                f"receipt {receipt.number or receipt.id}: item {item.code or item.skuId} "
                f"(PO item {item.purchaseOrderItemId}) is not on a PO line that came from Fusion "
                f"PO {po.OrderNumber}",
                suggestion="receive this item in Fusion by hand, then resolve",
            )
        schedule = line.schedules[0] if line.schedules else None
        quantity = item.quantity or Decimal(0)
        decisions.add(
            "line",
            f"PO item → Fusion line {line.LineNumber} through the line link",
            source=item.purchaseOrderItemId,
            target=line.POLineId,
        )
        body: dict[str, Any] = {
            "ReceiptSourceCode": "VENDOR",
            "SourceDocumentCode": "PO",
            "TransactionType": "RECEIVE",
            "DocumentNumber": po.OrderNumber,
            "DocumentLineNumber": line.LineNumber,
            "DocumentShipmentLineNumber": (schedule.ScheduleNumber if schedule else None) or 1,
            "ItemNumber": line.Item,
            "Quantity": quantity,
            "UnitOfMeasure": line.UOM,
            "POHeaderId": po.POHeaderId,
            "POLineId": line.POLineId,
            "POLineLocationId": schedule.LineLocationId if schedule else None,
        }
        if auto:
            body["AutoTransactCode"] = auto
        if mapping.organization_code:
            body["OrganizationCode"] = mapping.organization_code
        out.append({k: v for k, v in body.items() if v is not None})
    if not out:
        raise NeedsAttentionError(
            "receipt_without_items", f"receipt {receipt.number or receipt.id} has no items"
        )
    number = receipt_number(receipt)
    decisions.add("receipt_number", "ServiceTitan receipt id", source=receipt.id, target=number)
    header: dict[str, Any] = {
        "ReceiptSourceCode": "VENDOR",
        "ReceiptNumber": number,
        "BusinessUnit": po.ProcurementBU,
        "VendorId": po.SupplierId,
        "VendorName": po.Supplier,
        "lines": out,
    }
    if mapping.organization_code:
        header["OrganizationCode"] = mapping.organization_code
    return {k: v for k, v in header.items() if v is not None}
