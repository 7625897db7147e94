"""Pure F2 mapping: header from the mapping, items by SKU code, no partial PO, stable hash."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ml_connector.errors import NeedsAttentionError
from ml_connector.mapping.config import PurchaseOrderMapping
from ml_connector.mapping.decisions import Decisions
from ml_connector.mapping.purchase_orders import map_purchase_order, po_hash, po_memo
from ml_connector.systems.fusion.models import PurchaseOrder
from ml_connector.systems.servicetitan.models import Sku, Warehouse

MAPPING = PurchaseOrderMapping(
    po_type_id=3,
    business_units={"HVAC Dallas BU": 101},
    inventory_locations={"Dallas Warehouse": 501},
    item_sku_prefix="F-",
)
SKUS = {
    "F-CAP-45": Sku(id=9001, code="F-CAP-45"),
    "F-FLT-20": Sku(id=9002, code="F-FLT-20"),
}
WAREHOUSES = {
    501: Warehouse.model_validate(
        {"id": 501, "name": "Dallas WH", "address": {"street": "5 Dock Rd", "city": "Dallas"}}
    )
}


def order(*lines: dict[str, Any], **over: Any) -> PurchaseOrder:
    data: dict[str, Any] = {
        "POHeaderId": 1,
        "OrderNumber": "100001",
        "StatusCode": "OPEN",
        "SupplierId": 7,
        "ProcurementBU": "HVAC Dallas BU",
        "TotalTax": "1.50",
        "CreationDate": "2026-10-20T08:00:00+00:00",
        "LastUpdateDate": "2026-10-21T08:00:00+00:00",
        "lines": list(lines)
        or [
            {
                "POLineId": 11,
                "LineNumber": 1,
                "Item": "CAP-45",
                "Quantity": "4",
                "Price": "12.50",
                "SupplierItem": "VP-1",
                "schedules": [
                    {
                        "LineLocationId": 111,
                        "ShipToLocation": "Dallas Warehouse",
                        "RequestedDeliveryDate": "2026-11-10",
                    }
                ],
            },
            {
                "POLineId": 12,
                "LineNumber": 2,
                "Item": "FLT-20",
                "Quantity": "10",
                "Price": "3",
                "schedules": [
                    {
                        "LineLocationId": 121,
                        "ShipToLocation": "Dallas Warehouse",
                        "RequestedDeliveryDate": "2026-11-05",
                    }
                ],
            },
        ],
    }
    data.update(over)
    return PurchaseOrder.model_validate(data)


def with_line(po: PurchaseOrder, index: int, **changes: Any) -> PurchaseOrder:
    lines = list(po.lines)
    lines[index] = lines[index].model_copy(update=changes)
    return po.model_copy(update={"lines": lines})


def mapped(po: PurchaseOrder, item_ids: dict[int, int] | None = None) -> Any:
    return map_purchase_order(
        po,
        MAPPING,
        vendor_id=42,
        skus=SKUS,
        warehouses=WAREHOUSES,
        item_ids=item_ids or {},
        decisions=Decisions(),
    )


def test_header_and_items() -> None:
    result = mapped(order())
    po = result.order
    assert (po.vendor_id, po.type_id, po.business_unit_id, po.inventory_location_id) == (
        42,
        3,
        101,
        501,
    )
    assert po.memo == po_memo("100001")
    assert po.ship_to.street == "5 Dock Rd"
    assert po.required_on.date().isoformat() == "2026-11-05"  # the earliest need-by date
    assert po.tax == Decimal("1.50")
    assert [(i.sku_id, i.quantity, i.cost, i.vendor_part_number) for i in po.items] == [
        (9001, Decimal(4), Decimal("12.50"), "VP-1"),
        (9002, Decimal(10), Decimal(3), ""),
    ]
    assert result.line_ids == (11, 12)


def test_an_unmapped_item_stops_the_whole_po() -> None:
    po = with_line(order(), 1, Item="NOPE")
    with pytest.raises(NeedsAttentionError) as err:
        mapped(po)
    assert err.value.reason == "po_line_unmapped_item"
    assert "F-NOPE" in err.value.message


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ProcurementBU": "Elsewhere BU"}, "business_unit_not_mapped"),
    ],
)
def test_unmapped_header_values_need_attention(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(NeedsAttentionError) as err:
        mapped(order(**change))
    assert err.value.reason == reason


def test_hash_ignores_item_ids_but_not_quantities() -> None:
    created = mapped(order())
    updated = mapped(order(), item_ids={11: 1, 12: 2})
    assert po_hash(created.order) == po_hash(updated.order)
    po = with_line(order(), 0, Quantity=Decimal(5))
    assert po_hash(mapped(po).order) != po_hash(created.order)


def test_cancelled_lines_are_left_out() -> None:
    po = with_line(order(), 1, StatusCode="CANCELED")
    assert mapped(po).line_ids == (11,)
