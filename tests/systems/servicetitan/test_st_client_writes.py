"""STClient writes against the simulator: request names, read-back, typed 400s, marking."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from st_client_kit import APP_GUID, Sandbox, po_input, vendor_input

from ml_connector.systems.servicetitan.errors import NotFound, STRequestError
from ml_connector.systems.servicetitan.payloads import (
    ExternalDataInput,
    MarkExported,
    PurchaseOrderItemInput,
)
from ml_connector.systems.servicetitan.session import encode


def test_decimals_are_json_numbers_exactly_as_written() -> None:
    """Request schemas type amounts as numbers: no float rounding, no strings."""
    body = encode({"cost": Decimal("12.50"), "q": [Decimal("0.1"), Decimal("-3E+2")], "s": "x"})
    assert body == b'{"cost":12.50,"q":[0.1,-3E+2],"s":"x"}'


async def test_create_vendor_uses_request_names_and_reads_back(box: Sandbox) -> None:
    """servicetitan-api.md §6.1: ``taxRate`` → ``defaultTaxRate``, ``restrictedMobileCreation`` →
    ``isMobileCreationRestricted``, flat contact → ``contactInfo``."""
    client = box.client()
    vendor_id = await client.create_vendor(vendor_input())
    vendor = await client.get_vendor(vendor_id)
    assert vendor.name == "Acme Refrigerant Supply"
    assert vendor.defaultTaxRate == Decimal("0.0825")
    assert vendor.isMobileCreationRestricted is True
    assert vendor.contactInfo is not None
    assert vendor.contactInfo.email == "lee@example.com"
    assert vendor.deliveryOption == "EmailAsPdf"
    assert vendor.address is not None
    assert vendor.address.city == "Tempe"
    assert vendor.external("fusionSupplierId") == "300000777"


async def test_update_vendor_merges_external_data(box: Sandbox) -> None:
    """§6.1: an update sends ``patchMode: Merge`` so keys we did not send survive."""
    client = box.client()
    vendor_id = await client.create_vendor(vendor_input())
    box.state.set_external("vendors", vendor_id, APP_GUID, {"other": "kept"}, merge=True)
    changed = dataclasses.replace(
        vendor_input(),
        name="Acme Refrigerant Supply LLC",
        tax_rate=Decimal("0.09"),
        external=ExternalDataInput(application_guid=APP_GUID, values={"hash": "abc"}),
    )
    assert await client.update_vendor(vendor_id, changed) == vendor_id
    vendor = await client.get_vendor(vendor_id)
    assert vendor.name == "Acme Refrigerant Supply LLC"
    assert vendor.defaultTaxRate == Decimal("0.09")
    assert vendor.external("hash") == "abc"
    assert vendor.external("other") == "kept"
    assert vendor.external("fusionSupplierId") == "300000777"


async def test_bad_request_carries_title_and_field_errors(box: Sandbox) -> None:
    """§10: a 400 ProblemDetails → STRequestError naming the field; no retry."""
    client = box.client()
    bad = dataclasses.replace(vendor_input(), delivery_option="CarrierPigeon")
    with pytest.raises(STRequestError) as info:
        await client.create_vendor(bad)
    err = info.value
    assert err.status == 400
    assert "deliveryOption" in err.errors
    assert "deliveryOption" in str(err)
    assert "servicetitan POST vendors" in str(err)
    assert await box.api_requests("POST /inventory/v2/tenant/{tenant}/vendors") == 1


async def test_update_missing_vendor_is_not_found(box: Sandbox) -> None:
    client = box.client()
    with pytest.raises(NotFound) as info:
        await client.update_vendor(555555, vendor_input())
    assert info.value.resource == "vendors/{id}"


async def test_purchase_order_create_update_cancel(box: Sandbox) -> None:
    """§6.2: created ``Pending``; ``memo`` read back as ``summary``; ``items`` replaces the set;
    cancellation → ``Canceled``."""
    client = box.client()
    start = box.clock.now()
    po_id = await client.create_purchase_order(po_input(box))
    order = await client.get_purchase_order(po_id)
    assert order.status == "Pending"
    assert order.summary == "FUSION-PO-1001"
    assert order.shipping == Decimal("12.50")
    assert [(i.quantity, i.cost) for i in order.items] == [(Decimal("12"), Decimal("4.10"))]

    found = await client.find_purchase_orders(created_on_or_after=start, memo="FUSION-PO-1001")
    assert [o.id for o in found] == [po_id]
    assert await client.find_purchase_orders(created_on_or_after=start, memo="OTHER") == []

    line = order.items[0]
    new_line = PurchaseOrderItemInput(
        sku_id=box.seed.materials[1],
        description="Capacitor",
        vendor_part_number="C4555",
        quantity=Decimal("3"),
        cost=Decimal("11.25"),
    )
    with pytest.raises(ValueError, match="needs the id of every line"):
        await client.update_purchase_order(po_id, po_input(box, items=(new_line,)))
    updated = po_input(
        box,
        shipping=Decimal("15.00"),
        items=(
            PurchaseOrderItemInput(
                id=line.id,
                sku_id=box.seed.materials[0],
                description="Filter 16x20x1",
                vendor_part_number="F1620",
                quantity=Decimal("20"),
                cost=Decimal("4.05"),
            ),
        ),
    )
    await client.update_purchase_order(po_id, updated)
    order = await client.get_purchase_order(po_id)
    assert order.shipping == Decimal("15.00")
    assert [(i.id, i.quantity, i.cost) for i in order.items] == [
        (line.id, Decimal("20"), Decimal("4.05"))
    ]
    await client.cancel_purchase_order(po_id, "Duplicate")
    assert (await client.get_purchase_order(po_id)).status == "Canceled"
    with pytest.raises(ValueError, match="cancel reason"):
        await client.cancel_purchase_order(po_id, "Whatever")


async def test_mark_invoices_exported_returns_per_item_results(box: Sandbox) -> None:
    """§7: an array body; a 200 can hold ``success: false`` for an unknown id."""
    client = box.client()
    invoice_id = box.seed.invoices[0]
    results = await client.mark_invoices_exported(
        [MarkExported(invoice_id=invoice_id, external_id="AR-1", external_message="posted"), 999]
    )
    by_id = {r.invoiceId: r for r in results}
    assert by_id[invoice_id].success is True
    assert by_id[999].success is False
    assert by_id[999].errorMessage
    (invoice,) = await client.invoices_by_ids([invoice_id])
    assert invoice.syncStatus == "Exported"


async def test_set_payment_status(box: Sandbox) -> None:
    """§7: payments have no markasexported; ``payments/status`` sets ``syncStatus``."""
    client = box.client()
    await client.set_payment_status(box.seed.payments, "Exported")
    payments = await client.payments_by_ids(box.seed.payments)
    assert {p.syncStatus for p in payments} == {"Exported"}
    with pytest.raises(ValueError, match="payment status"):
        await client.set_payment_status(box.seed.payments, "Done")


async def test_conflict_after_export_is_typed_with_title(box: Sandbox) -> None:
    """§6.2 "once exported a PO can no longer be edited"; §10: 409 ProblemDetails → the title is in
    the error, and the PATCH is not re-sent."""
    client = box.client()
    po_id = box.seed.purchase_orders[0]
    line = (await client.get_purchase_order(po_id)).items[0]
    box.state.set_po_status(po_id, "Exported")
    order = po_input(
        box,
        items=(
            PurchaseOrderItemInput(
                id=line.id,
                sku_id=box.seed.materials[0],
                description="Filter 16x20x1",
                vendor_part_number="F1620",
                quantity=Decimal("1"),
                cost=Decimal("4.10"),
            ),
        ),
    )
    with pytest.raises(STRequestError) as info:
        await client.update_purchase_order(po_id, order)
    assert info.value.status == 409
    assert "cannot be edited" in info.value.title
    assert "cannot be edited" in str(info.value)
    patch = "PATCH /inventory/v2/tenant/{tenant}/purchase-orders/{id}"
    assert await box.api_requests(patch) == 1
