"""Helpers for the STClient tests: a seeded ServiceTitan simulator behind the fault middleware, all
in-process on the FakeClock, and clients built against it the way production builds them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from starlette.applications import Starlette

from ml_connector.clock import FakeClock
from ml_connector.http import RateLimiterRegistry, RetryPolicy, TokenCache, create_client
from ml_connector.sandbox import credentials
from ml_connector.sandbox.faults import FaultConfig, FaultMiddleware, PageHook, wrap_with_faults
from ml_connector.sandbox.servicetitan import (
    SEED_APP_GUID,
    MinimalSeed,
    STSimConfig,
    STState,
    create_app,
    seed_minimal,
)
from ml_connector.sandbox.servicetitan.routing import STSim
from ml_connector.secrets import Secret
from ml_connector.settings import ServiceTitanSettings
from ml_connector.systems.instrumentation import CountingObserver
from ml_connector.systems.servicetitan.client import STClient
from ml_connector.systems.servicetitan.payloads import (
    AddressInput,
    ExternalDataInput,
    PurchaseOrderInput,
    PurchaseOrderItemInput,
    VendorInput,
)

BASE = "http://st.test"
TENANT = credentials.SERVICETITAN_TENANT_ID
APP_GUID = SEED_APP_GUID
FAST_RETRY = RetryPolicy(max_attempts=4, max_total_seconds=120.0, base_delay=1.0, max_delay=8.0)
ADDRESS = AddressInput(street="1 Supply Way", unit="Ste 2", city="Tempe", state="AZ", zip="85281")


def settings(**overrides: Any) -> ServiceTitanSettings:
    values: dict[str, Any] = {
        "environment": "custom",
        "api_base_url": BASE,
        "token_url": f"{BASE}/connect/token",
        "tenant_id": TENANT,
        "client_id": credentials.SERVICETITAN_CLIENT_ID,
    }
    values.update(overrides)
    return ServiceTitanSettings(**values)


@dataclass
class Sandbox:
    """A running simulator: state, seed ids, clock, app, fault middleware and transport."""

    state: STState
    seed: MinimalSeed
    clock: FakeClock
    app: Starlette
    faults: FaultMiddleware
    transport: httpx.ASGITransport
    clients: list[STClient] = field(default_factory=list)
    extra: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def sim(self) -> STSim:
        sim: STSim = self.app.state.servicetitan_sim
        return sim

    def set_faults(self, **knobs: Any) -> None:
        self.faults.set_config(FaultConfig(seed=1, **knobs))

    def client(
        self,
        *,
        client_secret: str = credentials.SERVICETITAN_CLIENT_SECRET,
        app_key: str = credentials.SERVICETITAN_APP_KEY,
        retry: RetryPolicy = FAST_RETRY,
        observer: CountingObserver | None = None,
        token_cache: TokenCache | None = None,
        limiters: RateLimiterRegistry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        page_size: int = 500,
        **overrides: Any,
    ) -> STClient:
        client = STClient.from_settings(
            settings(**overrides),
            client_secret=Secret(client_secret),
            app_key=Secret(app_key),
            clock=self.clock,
            token_cache=token_cache,
            limiters=limiters,
            transport=transport or self.transport,
            retry=retry,
            observer=observer,
            page_size=page_size,
        )
        self.clients.append(client)
        return client

    def shared_cache(self) -> TokenCache:
        http = create_client(base_url=BASE, transport=self.transport)
        self.extra.append(http)
        return TokenCache(http=http, clock=self.clock)

    async def counts(self) -> dict[str, Any]:
        """The simulator's own ``/__admin/counts`` (token and API requests as the server saw them)."""
        async with httpx.AsyncClient(transport=self.transport, base_url=BASE) as admin:
            response = await admin.get("/__admin/counts")
            response.raise_for_status()
            counts: dict[str, Any] = response.json()
            return counts

    async def api_requests(self, label: str) -> int:
        counts = await self.counts()
        return int(counts["apiRequests"].get(label, 0))

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()
        for http in self.extra:
            await http.aclose()


def build_sandbox(
    clock: FakeClock,
    config: STSimConfig | None = None,
    *,
    on_page_served: PageHook | None = None,
    seed: bool = True,
) -> Sandbox:
    state = STState(clock=clock)
    ids = seed_minimal(state) if seed else None
    app = create_app(state, clock=clock, config=config or STSimConfig(requests_per_second=100_000))
    sim: STSim = app.state.servicetitan_sim
    faults = wrap_with_faults(
        app,
        FaultConfig(),
        clock=clock,
        revoke_tokens=sim.revoke_tokens,
        on_page_served=on_page_served,
    )
    transport = httpx.ASGITransport(app=faults)
    assert ids is not None
    return Sandbox(state, ids, clock, app, faults, transport)


def label(method: str, namespace: str, template: str) -> str:
    """The simulator's counter label for an operation."""
    return f"{method} /{namespace}/v2/tenant/{{tenant}}{template}"


def vendor_input(
    name: str = "Acme Refrigerant Supply", key_value: str = "300000777"
) -> VendorInput:
    return VendorInput(
        name=name,
        address=ADDRESS,
        tax_rate=Decimal("0.0825"),
        restricted_mobile_creation=True,
        first_name="Lee",
        last_name="Ortiz",
        email="lee@example.com",
        phone="480-555-0100",
        delivery_option="EmailAsPdf",
        external=ExternalDataInput(
            application_guid=APP_GUID, values={"fusionSupplierId": key_value}
        ),
    )


def po_input(box: Sandbox, *, memo: str = "FUSION-PO-1001", **kw: Any) -> PurchaseOrderInput:
    seed = box.seed
    values: dict[str, Any] = {
        "vendor_id": seed.vendors[0],
        "type_id": seed.po_types[0],
        "business_unit_id": seed.business_units[0],
        "inventory_location_id": seed.warehouses[0],
        "ship_to": ADDRESS,
        "ship_to_description": "Main Warehouse",
        "date": datetime(2026, 11, 2, tzinfo=UTC),
        "required_on": datetime(2026, 11, 9, tzinfo=UTC),
        "items": (
            PurchaseOrderItemInput(
                sku_id=seed.materials[0],
                description="Filter 16x20x1",
                vendor_part_number="F1620",
                quantity=Decimal("12"),
                cost=Decimal("4.10"),
            ),
        ),
        "tax": Decimal("3.94"),
        "shipping": Decimal("12.50"),
        "memo": memo,
    }
    values.update(kw)
    return PurchaseOrderInput(**values)


Hook = Callable[[str, str], object]


@dataclass
class Exchange:
    method: str
    path: str
    body: bytes
    status: int
    response: bytes


class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes every request to ``inner`` and keeps what went out and came back (bodies included),
    so a test can check request bodies against the spec or search them for tokens."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        after: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        self.inner = inner
        self.after = after
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.exchanges.append(
            Exchange(request.method, request.url.path, body, response.status_code, content)
        )
        if self.after is not None:
            self.after(response)
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )
