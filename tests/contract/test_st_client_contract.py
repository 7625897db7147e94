"""Contract tests: the ServiceTitan *client* against ServiceTitan's own OpenAPI documents.

servicetitan-api.md §0, §3 and §11.10: ServiceTitan drops unknown fields and unknown query
parameters silently, so a misspelled name looks like success. Every request the client sends in a
scenario covering each method is recorded on the wire; each must be an operation of the spec, use
only query parameters the operation documents, and send a body that fits the request schema
(``additionalProperties: false`` included).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx

from ml_connector.clock import FakeClock
from ml_connector.http import SECRETS
from ml_connector.sandbox import credentials
from ml_connector.sandbox.servicetitan import (
    SEED_APP_GUID,
    MinimalSeed,
    STSimConfig,
    STState,
    create_app,
    seed_minimal,
)
from ml_connector.secrets import Secret
from ml_connector.settings import ServiceTitanSettings
from ml_connector.systems.servicetitan.client import STClient
from ml_connector.systems.servicetitan.payloads import (
    AddressInput,
    ExternalDataInput,
    MarkExported,
    PurchaseOrderInput,
    PurchaseOrderItemInput,
    VendorInput,
)

from .specs import operation, validate_request

_ID = re.compile(r"/\d+(?=/|$)")


@dataclass
class Sent:
    method: str
    path: str
    query: list[tuple[str, str]]
    body: bytes


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[Sent] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        query = parse_qsl(request.url.query.decode(), keep_blank_values=True)
        self.sent.append(Sent(request.method, request.url.path, query, body))
        return await self.inner.handle_async_request(request)


def _client(clock: FakeClock, transport: httpx.AsyncBaseTransport) -> STClient:
    settings = ServiceTitanSettings(
        environment="custom",
        api_base_url="http://st.test",
        token_url="http://st.test/connect/token",
        tenant_id=credentials.SERVICETITAN_TENANT_ID,
        client_id=credentials.SERVICETITAN_CLIENT_ID,
    )
    return STClient.from_settings(
        settings,
        client_secret=Secret(credentials.SERVICETITAN_CLIENT_SECRET),
        app_key=Secret(credentials.SERVICETITAN_APP_KEY),
        clock=clock,
        transport=transport,
    )


ADDRESS = AddressInput(street="1 Supply Way", city="Tempe", state="AZ", zip="85281")


async def _scenario(client: STClient, seed: MinimalSeed) -> None:
    """Every method of the client, writes and reads, once."""
    vendor = VendorInput(
        name="Contract Vendor",
        address=ADDRESS,
        tax_rate=Decimal("0.0825"),
        restricted_mobile_creation=True,
        first_name="Lee",
        last_name="Ortiz",
        phone="480-555-0100",
        email="lee@example.com",
        fax="480-555-0101",
        memo="from Fusion",
        delivery_option="EmailAsPdf",
        payment_term_id=7,
        external=ExternalDataInput(
            application_guid=SEED_APP_GUID, values={"fusionSupplierId": "300000999"}
        ),
    )
    vendor_id = await client.create_vendor(vendor)
    await client.update_vendor(vendor_id, vendor)
    order = PurchaseOrderInput(
        vendor_id=vendor_id,
        type_id=seed.po_types[0],
        business_unit_id=seed.business_units[0],
        inventory_location_id=seed.warehouses[0],
        ship_to=ADDRESS,
        ship_to_description="Main Warehouse",
        date=datetime(2026, 11, 2, tzinfo=UTC),
        required_on=datetime(2026, 11, 9, 12, 30, tzinfo=UTC),
        tax=Decimal("1.23"),
        shipping=Decimal("12.50"),
        memo="FUSION-PO-1",
        vendor_invoice_number="INV-9",
        job_id=seed.jobs[0],
        items=(
            PurchaseOrderItemInput(
                sku_id=seed.materials[0],
                description="Filter",
                vendor_part_number="F1",
                quantity=Decimal("2.5"),
                cost=Decimal("4.10"),
            ),
        ),
    )
    po_id = await client.create_purchase_order(order)
    line = (await client.get_purchase_order(po_id)).items[0]
    item = PurchaseOrderItemInput(
        id=line.id,
        sku_id=seed.materials[0],
        description="Filter",
        vendor_part_number="F1",
        quantity=Decimal("3"),
        cost=Decimal("4.10"),
    )
    await client.update_purchase_order(
        po_id,
        PurchaseOrderInput(**{**order.__dict__, "items": (item,)}),
    )
    await client.cancel_purchase_order(po_id, "Duplicate")
    await client.mark_invoices_exported(
        [MarkExported(invoice_id=seed.invoices[0], external_id="AR-1", external_message="ok")]
    )
    await client.set_payment_status(seed.payments, "Exported")

    since = datetime(2026, 1, 1, tzinfo=UTC)
    _ = [
        v
        async for v in client.vendors_changed_since(since, before=datetime(2027, 1, 1, tzinfo=UTC))
    ]
    await client.vendors_by_ids([vendor_id])
    await client.find_vendors_by_external_data(SEED_APP_GUID, "fusionSupplierId", ["1"])
    _ = [
        o
        async for o in client.purchase_orders(
            number="x", created_on_or_after=since, modified_on_or_after=since
        )
    ]
    await client.purchase_orders_by_ids([po_id])
    await client.find_purchase_orders(created_on_or_after=since, memo="FUSION-PO-1")
    await client.purchase_order_types()
    await client.warehouses()
    _ = [r async for r in client.receipts_changed_since(since, purchase_order_ids=[po_id])]
    await client.skus_by_code(["AC-3TON-16"])
    async with client.invoice_feed(since) as feed:
        _ = [b async for b in feed]
    async with client.payment_feed() as feed:
        _ = [b async for b in feed]
    await client.invoices_by_ids(seed.invoices)
    await client.payments_by_ids(seed.payments)
    await client.payment_types()
    await client.get_customer(seed.customers[0])
    await client.customers_by_ids(seed.customers)
    await client.find_customers_by_external_data(SEED_APP_GUID, "fusionCustomer", ["ACM"])
    await client.business_units()
    await client.get_business_unit(seed.business_units[0])
    await client.get_job(seed.jobs[0])
    await client.jobs_by_ids(seed.jobs)
    assert all(r.ok for r in await client.check())


async def test_every_client_request_fits_the_spec(specs: dict[str, dict[str, Any]]) -> None:
    """Each request: an operation of the spec, documented query parameters, a valid body."""
    clock = FakeClock()
    state = STState(clock=clock)
    seed = seed_minimal(state)
    app = create_app(state, clock=clock, config=STSimConfig(requests_per_second=100_000))
    recorder = Recorder(httpx.ASGITransport(app=app))
    try:
        async with _client(clock, recorder) as client:
            await _scenario(client, seed)
    finally:
        SECRETS.clear()

    api = [s for s in recorder.sent if "/tenant/" in s.path]
    assert len(api) >= 40
    bodies = 0
    operations: set[str] = set()
    for sent in api:
        namespace = sent.path.strip("/").split("/")[0]
        template = _ID.sub("/{}", sent.path)
        _, op = operation(specs[namespace], sent.method, template)
        operations.add(f"{sent.method} {template}")
        documented = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
        names = {name for name, _ in sent.query}
        assert names <= documented, f"{sent.method} {sent.path}: undocumented {names - documented}"
        if sent.body:
            validate_request(specs[namespace], sent.method, template, json.loads(sent.body))
            bodies += 1
    assert bodies == 7  # vendor create+update, PO create+update+cancel, mark, status
    writes = {o for o in operations if not o.startswith("GET")}
    assert len(writes) == 7, sorted(writes)
