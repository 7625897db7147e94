"""STClient reads against the simulator: typed results, ``active=Any``, filters, ids batching."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from st_client_kit import APP_GUID, Sandbox, label

from ml_connector.sandbox.servicetitan import InvoiceItemSeed, ReceiptItemInput
from ml_connector.systems.servicetitan import models as st
from ml_connector.systems.servicetitan.errors import NotFound


async def test_vendors_changed_since_include_inactive_and_are_typed(box: Sandbox) -> None:
    """servicetitan-api.md §4, §11.1: inactive records are hidden unless ``active=Any``."""
    client = box.client()
    vendors = [v async for v in client.vendors_changed_since(None)]
    ids = {v.id for v in vendors}
    assert set(box.seed.vendors) | {box.seed.inactive_vendor} == ids
    first = next(v for v in vendors if v.id == box.seed.vendors[0])
    assert isinstance(first, st.Vendor)
    assert first.defaultTaxRate == Decimal("0.0825")
    assert first.external("fusionSupplierId") == "300000100"
    assert next(v for v in vendors if v.id == box.seed.inactive_vendor).active is False


async def test_vendors_changed_since_is_inclusive_and_filters(box: Sandbox) -> None:
    """§4: ``modifiedOnOrAfter`` is inclusive; the client sends whole seconds (floored)."""
    client = box.client()
    box.clock.advance(3600)
    changed = box.state.update("vendors", box.seed.vendors[1], memo="changed")
    since = changed.modified_on
    got = [v.id async for v in client.vendors_changed_since(since)]
    assert got == [box.seed.vendors[1]]


async def test_get_vendor_and_not_found(box: Sandbox) -> None:
    """§6.1: GET /vendors/{id}, 404 for a missing one → NotFound naming the resource and id."""
    client = box.client()
    vendor = await client.get_vendor(box.seed.vendors[0])
    assert vendor.name == "Ferguson HVAC Supply"
    with pytest.raises(NotFound) as info:
        await client.get_vendor(987654)
    assert "vendors/{id} 987654" in str(info.value)
    assert info.value.ident == 987654


async def test_find_vendors_by_external_data(box: Sandbox) -> None:
    """§3: externalData (application guid + key + values) is the vendor's business key."""
    client = box.client()
    found = await client.find_vendors_by_external_data(
        APP_GUID, "fusionSupplierId", ["300000101", "nope"]
    )
    assert [v.id for v in found] == [box.seed.vendors[1]]
    assert await client.find_vendors_by_external_data(APP_GUID, "otherKey", ["300000101"]) == []


async def test_purchase_orders_filters_and_lookups(box: Sandbox) -> None:
    """§6.2, §6.9: PO list by number, get by id, PO types and warehouses."""
    client = box.client()
    po_id = box.seed.purchase_orders[0]
    order = await client.get_purchase_order(po_id)
    assert order.items
    assert order.items[0].skuId == box.seed.materials[0]
    by_number = [o.id async for o in client.purchase_orders(number=order.number)]
    assert by_number == [po_id]
    assert [o async for o in client.purchase_orders(number="no-such-number")] == []
    types = await client.purchase_order_types()
    assert {t.id for t in types} >= set(box.seed.po_types)
    warehouses = await client.warehouses()
    assert {w.id for w in warehouses} >= set(box.seed.warehouses)
    with pytest.raises(NotFound):
        await client.get_purchase_order(999999)


async def test_receipts_changed_since_by_po(box: Sandbox) -> None:
    """§6.3: receipts by ``modifiedOnOrAfter`` with ``active=Any`` and ``purchaseOrderIds``."""
    client = box.client()
    po = box.state.table("purchase_orders").get(box.seed.purchase_orders[0])
    assert po is not None
    item = po.fields["items"][0]
    receipt = box.state.receive_purchase_order(
        purchase_order_id=po.id,
        date_received=box.clock.now(),
        items=[
            ReceiptItemInput(
                sku_id=item["skuId"],
                quantity=Decimal("2"),
                cost=Decimal("4.10"),
                purchase_order_item_id=item["id"],
            )
        ],
    )
    got = [r async for r in client.receipts_changed_since(None, purchase_order_ids=[po.id])]
    assert [r.id for r in got] == [receipt.id]
    assert got[0].purchaseOrderId == po.id
    assert [r async for r in client.receipts_changed_since(None, purchase_order_ids=[1])] == []


async def test_sku_by_code_materials_then_equipment(box: Sandbox) -> None:
    """§6.2: PO items take "any active material or equipment"; codes are matched exactly."""
    client = box.client()
    skus = await client.skus_by_code(["CAP-4555", "AC-3TON-16", "MISSING-1"])
    assert skus["CAP-4555"].id == box.seed.materials[1]
    assert skus["CAP-4555"].skuType == "Material"
    assert skus["AC-3TON-16"].id == box.seed.equipment[0]
    assert skus["AC-3TON-16"].skuType == "Equipment"
    assert "MISSING-1" not in skus
    old = await client.sku_by_code("OLD-0001")
    assert old is not None
    assert old.active is False


async def test_invoices_by_ids_batches_of_50(box: Sandbox) -> None:
    """§4: ``ids`` takes at most 50 values, so 60 ids take two calls; activeState=All."""
    client = box.client()
    seed = box.seed
    made = [
        box.state.add_invoice(
            customer_id=seed.customers[0],
            business_unit_id=seed.business_units[0],
            items=[
                InvoiceItemSeed(sku_id=seed.materials[0], quantity=Decimal(1), price=Decimal(9))
            ],
        ).id
        for _ in range(60)
    ]
    wanted = [*made, seed.inactive_invoice]
    before = await box.api_requests(label("GET", "accounting", "/invoices"))
    invoices = await client.invoices_by_ids(wanted)
    after = await box.api_requests(label("GET", "accounting", "/invoices"))
    assert sorted(i.id for i in invoices) == sorted(wanted)
    assert after - before == 2
    assert all(isinstance(i.total, Decimal) for i in invoices)


async def test_payments_customers_units_types_jobs(box: Sandbox) -> None:
    """§6.5–§6.8: the lookups F4/F5 need, typed."""
    client = box.client()
    seed = box.seed
    payments = await client.payments_by_ids(seed.payments)
    assert {p.id for p in payments} == set(seed.payments)
    customer = await client.get_customer(seed.customers[0])
    assert customer.name == "Acme Property Management"
    assert {
        c.id for c in await client.customers_by_ids([*seed.customers, seed.inactive_customer])
    } == {
        *seed.customers,
        seed.inactive_customer,
    }
    found = await client.find_customers_by_external_data(APP_GUID, "fusionCustomer", ["DES"])
    assert [c.id for c in found] == [seed.customers[1]]
    units = await client.business_units()
    assert {u.id for u in units} >= set(seed.business_units)
    unit = await client.get_business_unit(seed.business_units[0])
    assert unit.name == "HVAC Residential"
    types = await client.payment_types()
    assert {t.name for t in types} >= {"Check", "Credit Card"}
    job = await client.get_job(seed.jobs[0])
    assert job.customerId == seed.customers[0]
    assert {j.id for j in await client.jobs_by_ids(seed.jobs)} == set(seed.jobs)
    with pytest.raises(NotFound):
        await client.get_customer(424242)


async def test_changed_since_sends_whole_seconds(box: Sandbox) -> None:
    """§3: date filters as ``YYYY-MM-DDTHH:MM:SSZ``; a lower bound is floored (never later)."""
    client = box.client()
    box.clock.advance(10.75)
    edited = box.state.update("vendors", box.seed.vendors[0], memo="x")
    since = edited.modified_on + timedelta(microseconds=1)  # later than the row, same second
    got = [v.id async for v in client.vendors_changed_since(since)]
    assert box.seed.vendors[0] in got
