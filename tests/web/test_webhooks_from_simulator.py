"""The simulator's webhooks land in the connector's inbox: one signer, one envelope (DESIGN §5)."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from ml_connector.clock import FakeClock
from ml_connector.sandbox.credentials import SERVICETITAN_TENANT_ID, SERVICETITAN_WEBHOOK_KEY
from ml_connector.sandbox.servicetitan import STState, seed_minimal
from ml_connector.sandbox.webhooks import WebhookConfig, WebhookEmitter
from ml_connector.secrets import Secret
from ml_connector.settings import WebhookSettings
from ml_connector.store import Store
from ml_connector.store.schema import inbox
from ml_connector.web.app import create_web_app
from ml_connector.web.webhooks import WebhookEndpoint


async def test_simulator_events_are_verified_and_stored_once(
    sqlite_store: Store, clock: FakeClock
) -> None:
    endpoint = WebhookEndpoint(
        connection="default", settings=WebhookSettings(), key=Secret(SERVICETITAN_WEBHOOK_KEY)
    )
    web = create_web_app(store=sqlite_store, clock=clock, endpoints={"default": endpoint})
    state = STState(clock=clock, tenant_id=SERVICETITAN_TENANT_ID)
    seed = seed_minimal(state)
    emitter = WebhookEmitter(
        WebhookConfig(
            callback_urls=["http://127.0.0.1:8700/webhooks/servicetitan/default"],
            duplicate_rate=1.0,
            seed=3,
        ),
        clock=clock,
        transport_factory=lambda: httpx.ASGITransport(app=web),
    )
    state.add_listener(emitter.listener)
    clock.advance(1)
    state.update("invoices", seed.invoices[0], summary="changed")
    for _ in range(5):
        await emitter.deliver_due()
        clock.advance(1)
    stats = emitter.stats()
    assert stats["delivered"] >= 2, stats
    assert stats["dead"] == 0
    async with sqlite_store.transaction() as tx:
        rows = (await tx.connection.execute(select(inbox))).all()
    assert len(rows) == 1, "the duplicate delivery was absorbed"
    assert rows[0].entity_type == "invoice"
    assert rows[0].entity_id == str(seed.invoices[0])
    await emitter.aclose()
