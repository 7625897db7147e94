"""F2 mapping: a Fusion purchase order → a ServiceTitan purchase order (pure; no I/O).

The flow looks up what needs I/O (the vendor link, SKUs by code, warehouses, the item ids of lines
already linked) and hands it in. Anything that cannot be mapped raises
:class:`~ml_connector.errors.NeedsAttentionError` **before** any write, so a PO is never written
with some of its lines (an unmapped item stops the whole PO).

ServiceTitan POs have no ``externalData``: ours carry :func:`po_memo` (read back as ``summary``),
which is how a PO whose create answer was lost is found again (DESIGN §3.2 rule 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal

from ml_connector.errors import NeedsAttentionError
from ml_connector.mapping.config import PurchaseOrderMapping
from ml_connector.mapping.decisions import Decisions, version_hash
from ml_connector.systems.fusion.models import PurchaseOrder, PurchaseOrderLine
from ml_connector.systems.servicetitan.models import Sku, Warehouse
from ml_connector.systems.servicetitan.payloads import (
    AddressInput,
    PurchaseOrderInput,
    PurchaseOrderItemInput,
    purchase_order_request,
)

#: ServiceTitan PO statuses in which the API still accepts edits and cancellation.
ST_EDITABLE = frozenset({"Pending", "Sent"})
#: Fusion header statuses that end a PO: a linked one is cancelled in ServiceTitan where allowed.
FUSION_ENDED = frozenset({"CANCELED", "CANCELLED", "CLOSED", "FINALLY CLOSED", "FINALLY_CLOSED"})
_DEAD_LINES = frozenset({"CANCELED", "CANCELLED"})


def po_memo(order_number: str) -> str:
    return f"Fusion PO {order_number}"


@dataclass(frozen=True, kw_only=True)
class MappedPO:
    order: PurchaseOrderInput
    #: the Fusion ``POLineId`` of each item of ``order.items``, in the same order
    line_ids: tuple[int, ...]


def live_lines(po: PurchaseOrder) -> list[PurchaseOrderLine]:
    return [line for line in po.lines if (line.StatusCode or "").upper() not in _DEAD_LINES]


def sku_code(line: PurchaseOrderLine, mapping: PurchaseOrderMapping) -> str | None:
    return f"{mapping.item_sku_prefix}{line.Item.strip()}" if line.Item else None


def sku_codes(po: PurchaseOrder, mapping: PurchaseOrderMapping) -> set[str]:
    return {code for line in live_lines(po) if (code := sku_code(line, mapping))}


def po_hash(order: PurchaseOrderInput) -> str:
    """Version hash of what we write, without the item ids (a create has none, an update has
    them all, and the two must hash equal when nothing changed)."""
    bare = replace(order, items=tuple(replace(i, id=None) for i in order.items))
    return version_hash(purchase_order_request(bare))


def _at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def _ship_to(
    po: PurchaseOrder, mapping: PurchaseOrderMapping, decisions: Decisions
) -> tuple[str, int]:
    locations = [
        s.ShipToLocation or s.ShipToLocationCode
        for line in live_lines(po)
        for s in line.schedules
        if s.ShipToLocation or s.ShipToLocationCode
    ]
    location = locations[0] if locations else None
    warehouse = mapping.inventory_locations.get(location) if location else None
    if location is None or warehouse is None:
        decisions.add("inventory_location", "ship-to location not mapped", source=location)
        raise NeedsAttentionError(
            "ship_to_not_mapped",
            f"PO {po.OrderNumber}: ship-to location {location!r} has no ServiceTitan warehouse",
            suggestion="add it to purchase_orders.inventory_locations",
        )
    decisions.add(
        "inventory_location",
        "purchase_orders.inventory_locations",
        source=location,
        target=warehouse,
    )
    return location, warehouse


def map_purchase_order(
    po: PurchaseOrder,
    mapping: PurchaseOrderMapping,
    *,
    vendor_id: int,
    skus: Mapping[str, Sku | None],
    warehouses: Mapping[int, Warehouse],
    item_ids: Mapping[int, int],
    decisions: Decisions,
) -> MappedPO:
    """The ServiceTitan PO for ``po``. ``skus`` maps SKU code → SKU (None when there is none);
    ``item_ids`` maps Fusion ``POLineId`` → ServiceTitan item id for lines already linked."""
    decisions.add("vendor", "supplier link", source=po.SupplierId, target=vendor_id)
    if mapping.po_type_id is None:
        raise NeedsAttentionError(
            "po_type_not_mapped",
            "purchase_orders.po_type_id is not set",
            suggestion="set it to a ServiceTitan purchase-order type id",
        )
    decisions.add("type", "purchase_orders.po_type_id", target=mapping.po_type_id)
    bu = mapping.business_units.get(po.ProcurementBU or "")
    if bu is None:
        raise NeedsAttentionError(
            "business_unit_not_mapped",
            f"PO {po.OrderNumber}: procurement BU {po.ProcurementBU!r} has no ServiceTitan "
            "business unit",
            suggestion="add it to purchase_orders.business_units",
        )
    decisions.add(
        "business_unit", "purchase_orders.business_units", source=po.ProcurementBU, target=bu
    )
    location, warehouse_id = _ship_to(po, mapping, decisions)
    lines = live_lines(po)
    missing = sorted({sku_code(line, mapping) or f"line {line.LineNumber}" for line in lines
                      if skus.get(sku_code(line, mapping) or "") is None})  # fmt: skip
    if missing:
        decisions.add("items", "no ServiceTitan SKU for item", source=", ".join(missing))
        raise NeedsAttentionError(
            "po_line_unmapped_item",
            f"PO {po.OrderNumber}: item {', '.join(missing)} has no ServiceTitan SKU",
            suggestion="add the SKU to the ServiceTitan pricebook (code = Fusion item number"
            + (f" with prefix {mapping.item_sku_prefix!r}" if mapping.item_sku_prefix else "")
            + "), then replay; no part of the PO was written",
        )
    if not lines:
        raise NeedsAttentionError(
            "po_without_lines", f"PO {po.OrderNumber} has no open lines", suggestion=""
        )
    items: list[PurchaseOrderItemInput] = []
    for line in lines:
        code = sku_code(line, mapping) or ""
        sku = skus[code]
        assert sku is not None
        quantity = line.Quantity
        if quantity is None:
            quantity = sum((s.Quantity or Decimal(0) for s in line.schedules), Decimal(0))
        items.append(
            PurchaseOrderItemInput(
                id=item_ids.get(line.POLineId),
                sku_id=sku.id,
                description=line.Description or line.ItemDescription or sku.displayName or code,
                vendor_part_number=line.SupplierItem or "",
                quantity=quantity,
                cost=line.Price or Decimal(0),
            )
        )
        decisions.add("item", f"line {line.LineNumber}: SKU by code", source=code, target=sku.id)
    need_by = [
        s.RequestedDeliveryDate for ln in lines for s in ln.schedules if s.RequestedDeliveryDate
    ]
    ordered = po.CreationDate or po.LastUpdateDate
    required = _at_midnight(min(need_by)) if need_by else ordered
    decisions.add("required_on", "earliest need-by date of the schedules", target=required.date())
    warehouse = warehouses.get(warehouse_id)
    address = warehouse.address if warehouse else None
    memo = po_memo(po.OrderNumber)
    decisions.add("memo", "Fusion order number", source=po.OrderNumber, target=memo)
    order = PurchaseOrderInput(
        vendor_id=vendor_id,
        type_id=mapping.po_type_id,
        business_unit_id=bu,
        inventory_location_id=warehouse_id,
        ship_to=AddressInput(
            street=(address.street if address else None) or "",
            unit=(address.unit if address else None) or "",
            city=(address.city if address else None) or "",
            state=(address.state if address else None) or "",
            zip=(address.zip if address else None) or "",
            country=(address.country if address else None) or "USA",
        ),
        ship_to_description=warehouse.name if warehouse else location,
        date=ordered,
        required_on=required,
        items=tuple(items),
        tax=po.TotalTax or Decimal(0),
        memo=memo,
    )
    return MappedPO(order=order, line_ids=tuple(line.POLineId for line in lines))
