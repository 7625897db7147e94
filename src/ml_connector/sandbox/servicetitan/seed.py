"""A small deterministic data set for tests (the realistic generator lives elsewhere).

Deterministic means: with a fresh :class:`STState` on a :class:`FakeClock`, the same ids and
timestamps every run. It covers each resource at least once, plus an inactive vendor, customer and
invoice (``active`` defaults), an exported invoice, one with ``items: null``, and a payment applied
to an invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from ml_connector.sandbox.servicetitan.state import (
    InvoiceItemSeed,
    PaymentApplication,
    POItemInput,
    STState,
)

#: The externalData ``applicationGuid`` the seed uses for its tagged records.
SEED_APP_GUID = "5f2b7a3c-0000-4000-8000-000000000001"


@dataclass(frozen=True, kw_only=True)
class MinimalSeed:
    """Ids of what :func:`seed_minimal` created, so tests need not search for them."""

    business_units: tuple[int, ...]
    vendors: tuple[int, ...]
    inactive_vendor: int
    materials: tuple[int, ...]
    equipment: tuple[int, ...]
    customers: tuple[int, ...]
    inactive_customer: int
    jobs: tuple[int, ...]
    payment_types: tuple[int, ...]
    po_types: tuple[int, ...]
    warehouses: tuple[int, ...]
    purchase_orders: tuple[int, ...]
    invoices: tuple[int, ...]
    inactive_invoice: int
    payments: tuple[int, ...]


def seed_minimal(state: STState) -> MinimalSeed:
    bus = tuple(
        state.add_business_unit(name).id
        for name in ("HVAC Residential", "HVAC Commercial", "Plumbing")
    )
    vendors = tuple(
        state.add_vendor(
            name,
            tax_rate=Decimal("0.0825"),
            contact={"firstName": "Pat", "lastName": name.split()[0], "email": "ap@example.com"},
            external={SEED_APP_GUID: {"fusionSupplierId": str(300000100 + n)}},
        ).id
        for n, name in enumerate(("Ferguson HVAC Supply", "Johnstone Supply"))
    )
    inactive_vendor = state.add_vendor("Old Parts Co", active=False).id
    materials = (
        state.add_sku(
            "FLT-1620",
            description="Filter 16x20x1",
            cost=Decimal("4.10"),
            price=Decimal("12.00"),
            vendor_id=vendors[0],
        ).id,
        state.add_sku(
            "CAP-4555",
            description="Capacitor 45/5 MFD",
            cost=Decimal("11.25"),
            price=Decimal("65.00"),
            vendor_id=vendors[1],
        ).id,
        state.add_sku("OLD-0001", description="Discontinued part", active=False).id,
    )
    equipment = (
        state.add_sku(
            "AC-3TON-16",
            kind="equipment",
            description="3 ton AC condenser",
            cost=Decimal("1850.00"),
            price=Decimal("4200.00"),
            vendor_id=vendors[0],
        ).id,
    )
    customers = tuple(
        state.add_customer(name, external={SEED_APP_GUID: {"fusionCustomer": name[:3].upper()}}).id
        for name in ("Acme Property Management", "Desert Dental Group")
    )
    inactive_customer = state.add_customer("Merged Customer", active=False).id
    jobs = tuple(
        state.add_job(customer_id=c, business_unit_id=bus[n]).id for n, c in enumerate(customers)
    )
    payment_types = tuple(state.add_payment_type(n).id for n in ("Check", "Credit Card"))
    po_types = (state.add_po_type("Standard").id, state.add_po_type("Drop Ship").id)
    warehouses = (state.add_warehouse("Main Warehouse").id, state.add_warehouse("Truck 12").id)
    now = state.clock.now()
    po = state.add_purchase_order(
        vendor_id=vendors[0],
        type_id=po_types[0],
        business_unit_id=bus[0],
        inventory_location_id=warehouses[0],
        items=[
            POItemInput(
                sku_id=materials[0],
                description="Filter 16x20x1",
                vendor_part_number="F1620",
                quantity=Decimal("10"),
                cost=Decimal("4.10"),
            ),
            POItemInput(
                sku_id=equipment[0],
                description="3 ton AC condenser",
                vendor_part_number="AC3T",
                quantity=Decimal("1"),
                cost=Decimal("1850.00"),
            ),
        ],
        date=now,
        required_on=now + timedelta(days=7),
        tax=Decimal("152.63"),
        shipping=Decimal("25.00"),
        memo="Seed PO",
        job_id=jobs[0],
    )
    lines = [
        InvoiceItemSeed(
            sku_id=materials[0],
            quantity=Decimal("2"),
            price=Decimal("12.00"),
            description="Filter 16x20x1",
            cost=Decimal("4.10"),
        ),
        InvoiceItemSeed(
            sku_id=materials[1],
            quantity=Decimal("1"),
            price=Decimal("65.00"),
            description="Capacitor 45/5 MFD",
            cost=Decimal("11.25"),
        ),
    ]
    inv1 = state.add_invoice(
        customer_id=customers[0],
        business_unit_id=bus[0],
        job_id=jobs[0],
        items=lines,
        tax=Decimal("7.34"),
        sync_status="Posted",
    ).id
    inv2 = state.add_invoice(
        customer_id=customers[1],
        business_unit_id=bus[1],
        job_id=jobs[1],
        items=lines[:1],
        tax=Decimal("1.98"),
        sync_status="Exported",
    ).id
    inv3 = state.add_invoice(
        customer_id=customers[1],
        business_unit_id=bus[1],
        items=lines[1:],
        items_null=True,
        sync_status="Pending",
    ).id
    inactive_invoice = state.add_invoice(
        customer_id=customers[0],
        business_unit_id=bus[2],
        items=lines[:1],
        active=False,
    ).id
    pay1 = state.add_payment(
        customer_id=customers[0],
        type_id=payment_types[0],
        business_unit_id=bus[0],
        applied_to=[PaymentApplication(invoice_id=inv1, amount=Decimal("50.00"))],
        reference_number="CHK-1001",
        sync_status="Posted",
    ).id
    pay2 = state.add_payment(
        customer_id=customers[1],
        type_id=payment_types[1],
        applied_to=[PaymentApplication(invoice_id=inv2, amount=Decimal("25.98"))],
    ).id
    return MinimalSeed(
        business_units=bus,
        vendors=vendors,
        inactive_vendor=inactive_vendor,
        materials=materials,
        equipment=equipment,
        customers=customers,
        inactive_customer=inactive_customer,
        jobs=jobs,
        payment_types=payment_types,
        po_types=po_types,
        warehouses=warehouses,
        purchase_orders=(po.id,),
        invoices=(inv1, inv2, inv3),
        inactive_invoice=inactive_invoice,
        payments=(pay1, pay2),
    )
