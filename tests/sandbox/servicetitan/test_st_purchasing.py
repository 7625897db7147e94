"""Purchase orders and receipts: servicetitan-api.md §6.2 and §6.3."""

from __future__ import annotations

from typing import Any

from st_helpers import ST

ADDRESS = {
    "street": "9 Dock Rd",
    "unit": "",
    "city": "Phoenix",
    "state": "AZ",
    "zip": "85004",
    "country": "USA",
}


def po_body(st: ST, **over: Any) -> dict[str, Any]:
    s = st.seed
    body: dict[str, Any] = {
        "vendorId": s.vendors[1],
        "typeId": s.po_types[0],
        "businessUnitId": s.business_units[0],
        "inventoryLocationId": s.warehouses[0],
        "shipTo": {"description": "Dock", "address": ADDRESS},
        "impactsTechnicianPayroll": False,
        "memo": "Restock capacitors",
        "vendorInvoiceNumber": "V-778",
        "date": "2026-11-02T00:00:00Z",
        "requiredOn": "2026-11-10T00:00:00Z",
        "tax": 3.3,
        "shipping": 12.5,
        "items": [
            {
                "skuId": s.materials[1],
                "description": "Cap",
                "vendorPartNumber": "C45",
                "quantity": 4,
                "cost": 11.25,
            },
            {
                "skuId": s.materials[0],
                "description": "Filter",
                "vendorPartNumber": "F16",
                "quantity": 10,
                "cost": 4.1,
            },
        ],
        "status": "Received",
    }
    body.update(over)
    return body


async def create_po(st: ST, **over: Any) -> dict[str, Any]:
    created = await st.send("POST", "inventory", "/purchase-orders", po_body(st, **over))
    assert created.status_code == 200, created.text
    po: dict[str, Any] = (
        await st.get("inventory", f"/purchase-orders/{created.json()['id']}")
    ).json()
    return po


async def receive(st: ST, po: dict[str, Any], quantities: list[float]) -> Any:
    items = [
        {
            "purchaseOrderItemId": line["id"],
            "skuId": line["skuId"],
            "quantity": q,
            "cost": line["cost"],
        }
        for line, q in zip(po["items"], quantities, strict=True)
        if q
    ]
    body = {
        "purchaseOrderId": po["id"],
        "dateReceived": "2026-11-05T16:00:00Z",
        "tax": 0,
        "shipping": 0,
        "items": items,
    }
    return await st.send("POST", "inventory", "/receipts", body)


async def test_po_is_created_pending_with_memo_as_summary_and_total(st: ST) -> None:
    """§6.2: created ``Pending`` (a sent ``status`` is ignored); ``memo`` read as ``summary``;
    ``vendorInvoiceNumber`` as ``vendorDocumentNumber``; total = items + tax + shipping."""
    po = await create_po(st)
    assert po["status"] == "Pending"
    assert po["summary"] == "Restock capacitors"
    assert po["vendorDocumentNumber"] == "V-778"
    assert "memo" not in po
    assert po["total"] == 4 * 11.25 + 10 * 4.1 + 3.3 + 12.5
    assert [i["quantityReceived"] for i in po["items"]] == [0, 0]
    assert po["items"][0]["skuCode"] == "CAP-4555"
    assert po["items"][0]["skuType"] == "Material"


async def test_po_create_with_unknown_vendor_or_sku_is_400(st: ST) -> None:
    """§6.2: vendors, business units and inventory locations must exist first."""
    bad_vendor = await st.send("POST", "inventory", "/purchase-orders", po_body(st, vendorId=1))
    assert bad_vendor.status_code == 400
    assert "vendorId" in bad_vendor.json()["errors"]
    body = po_body(st)
    body["items"][1]["skuId"] = 2
    bad_sku = await st.send("POST", "inventory", "/purchase-orders", body)
    assert bad_sku.status_code == 400
    assert "items[1].skuId" in bad_sku.json()["errors"]


async def test_patch_items_replaces_the_set(st: ST) -> None:
    """§6.2: every active item missing from ``items`` becomes inactive; total follows."""
    po = await create_po(st)
    keep = po["items"][0]
    patch = {
        "memo": "Only caps now",
        "items": [
            {
                "id": keep["id"],
                "skuId": keep["skuId"],
                "description": "Cap",
                "vendorPartNumber": "C45",
                "quantity": 6,
                "cost": 11.25,
            },
            {
                "id": 0,
                "skuId": st.seed.equipment[0],
                "description": "Condenser",
                "vendorPartNumber": "AC3",
                "quantity": 1,
                "cost": 1850,
            },
        ],
    }
    response = await st.send("PATCH", "inventory", f"/purchase-orders/{po['id']}", patch)
    assert response.json() == {"id": po["id"]}
    after = (await st.get("inventory", f"/purchase-orders/{po['id']}")).json()
    by_id = {i["id"]: i for i in after["items"]}
    assert by_id[keep["id"]]["quantity"] == 6
    assert by_id[po["items"][1]["id"]]["status"] == "Inactive"
    assert after["summary"] == "Only caps now"
    assert after["total"] == 6 * 11.25 + 1850 + 3.3 + 12.5
    assert len(after["items"]) == 3


async def test_cancellation(st: ST) -> None:
    """§6.2: ``PATCH …/cancellation`` → ``Canceled``; a canceled PO cannot be edited."""
    po = await create_po(st)
    response = await st.send(
        "PATCH",
        "inventory",
        f"/purchase-orders/{po['id']}/cancellation",
        {"canceledReason": "VendorIssue"},
    )
    assert response.json() == {"id": po["id"]}
    after = (await st.get("inventory", f"/purchase-orders/{po['id']}")).json()
    assert after["status"] == "Canceled"
    edit = await st.send("PATCH", "inventory", f"/purchase-orders/{po['id']}", {"memo": "x"})
    assert edit.status_code == 409
    bad_reason = await st.send(
        "PATCH",
        "inventory",
        f"/purchase-orders/{po['id']}/cancellation",
        {"canceledReason": "Bored"},
    )
    assert bad_reason.status_code == 400


async def test_receipt_raises_quantity_received_and_moves_status(st: ST) -> None:
    """§6.3: a receipt raises ``quantityReceived``; PO → PartiallyReceived, then Received."""
    po = await create_po(st)
    first = await receive(st, po, [4, 3])
    assert first.status_code == 200
    partial = (await st.get("inventory", f"/purchase-orders/{po['id']}")).json()
    assert partial["status"] == "PartiallyReceived"
    assert [i["quantityReceived"] for i in partial["items"]] == [4, 3]
    second = await receive(st, po, [0, 7])
    assert second.status_code == 200
    done = (await st.get("inventory", f"/purchase-orders/{po['id']}")).json()
    assert done["status"] == "Received"
    assert done["receivedOn"] == "2026-11-05T16:00:00.0000000Z"
    receipts = (await st.get("inventory", "/receipts", purchaseOrderIds=str(po["id"]))).json()
    assert [r["id"] for r in receipts["data"]] == [first.json()["id"], second.json()["id"]]
    assert receipts["data"][0]["receiptAmount"] == 4 * 11.25 + 3 * 4.1
    assert receipts["data"][0]["vendorId"] == po["vendorId"]


async def test_no_edit_or_cancel_after_receipt(st: ST) -> None:
    """§6.2: once received a PO can no longer be edited (409)."""
    po = await create_po(st)
    await receive(st, po, [1, 0])
    edit = await st.send("PATCH", "inventory", f"/purchase-orders/{po['id']}", {"memo": "late"})
    assert edit.status_code == 409
    assert edit.json()["status"] == 409
    cancel = await st.send("PATCH", "inventory", f"/purchase-orders/{po['id']}/cancellation", {})
    assert cancel.status_code == 409


async def test_receipt_cancellation_undoes_the_receipt(st: ST) -> None:
    """§6.3: ``PATCH /receipts/{id}/cancellation``: receipt inactive, quantities and status back."""
    po = await create_po(st)
    receipt_id = (await receive(st, po, [4, 10])).json()["id"]
    assert (await st.get("inventory", f"/purchase-orders/{po['id']}")).json()[
        "status"
    ] == "Received"
    response = await st.send(
        "PATCH",
        "inventory",
        f"/receipts/{receipt_id}/cancellation",
        {"canceledReason": "Accidental"},
    )
    assert response.json() == {"id": receipt_id}
    after = (await st.get("inventory", f"/purchase-orders/{po['id']}")).json()
    assert after["status"] == "Pending"
    assert [i["quantityReceived"] for i in after["items"]] == [0, 0]
    active = (await st.get("inventory", "/receipts")).json()["data"]
    assert receipt_id not in {r["id"] for r in active}
    every = (await st.get("inventory", "/receipts", active="Any")).json()["data"]
    assert receipt_id in {r["id"] for r in every}


async def test_receipts_have_no_get_by_id_and_no_export(st: ST) -> None:
    """§6.3: no receipt GET by id, no receipt export (404 ProblemDetails)."""
    assert (await st.get("inventory", "/receipts/1")).status_code in (404, 405)
    assert (await st.get("inventory", "/export/receipts")).status_code == 404


async def test_po_list_filters(st: ST) -> None:
    """§6.2: ``status`` and ``number`` filters."""
    po = await create_po(st)
    pending = (await st.get("inventory", "/purchase-orders", status="Pending")).json()["data"]
    assert po["id"] in {p["id"] for p in pending}
    received = (await st.get("inventory", "/purchase-orders", status="Received")).json()["data"]
    assert received == []
    by_number = (await st.get("inventory", "/purchase-orders", number=po["number"])).json()
    assert [p["id"] for p in by_number["data"]] == [po["id"]]


async def test_po_export_includes_changes_in_modified_order(st: ST) -> None:
    """§5: ``export/purchase-orders`` lists the PO again after it changes."""
    po = await create_po(st)
    first = (await st.get("inventory", "/export/purchase-orders")).json()
    assert first["data"][-1]["id"] == po["id"]
    st.clock.advance(1)
    await receive(st, po, [1, 0])
    again = (
        await st.get("inventory", "/export/purchase-orders", **{"from": first["continueFrom"]})
    ).json()
    assert [p["id"] for p in again["data"]] == [po["id"]]
    assert again["data"][0]["status"] == "PartiallyReceived"
