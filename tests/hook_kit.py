"""Helpers for the bad-input tests of the webhook receiver: an app on a store, events, signatures."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select

from ml_connector.clock import FakeClock
from ml_connector.sandbox.credentials import SERVICETITAN_WEBHOOK_KEY
from ml_connector.secrets import Secret
from ml_connector.settings import WebhookSettings
from ml_connector.store import Store
from ml_connector.store.schema import inbox
from ml_connector.systems.servicetitan.webhooks import sign
from ml_connector.web.app import create_web_app
from ml_connector.web.webhooks import WebhookEndpoint

URL = "/webhooks/servicetitan/default"


def hook_client(
    store: Store,
    clock: FakeClock,
    *,
    client: tuple[str, int] = ("127.0.0.1", 40000),
    **settings: Any,
) -> httpx.AsyncClient:
    endpoint = WebhookEndpoint(
        connection="default",
        settings=WebhookSettings(**settings),
        key=Secret(SERVICETITAN_WEBHOOK_KEY),
    )
    app = create_web_app(store=store, clock=clock, endpoints={"default": endpoint})
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=client), base_url="http://127.0.0.1"
    )


def event(
    event_id: str = "e-1", *, entity_id: int = 42, event_type: str = "invoice.updated"
) -> bytes:
    return json.dumps(
        {
            "eventId": event_id,
            "eventType": event_type,
            "timestamp": "2026-11-02T12:00:01Z",
            "data": {"id": entity_id, "modifiedOn": "2026-11-02T12:00:00Z"},
        }
    ).encode()


def signed(body: bytes, **kw: Any) -> dict[str, str]:
    return {
        "X-ServiceTitan-Signature": sign(body, SERVICETITAN_WEBHOOK_KEY, **kw),
        "content-type": "application/json",
    }


async def inbox_rows(store: Store) -> list[Any]:
    async with store.transaction() as tx:
        return list((await tx.connection.execute(select(inbox).order_by(inbox.c.id))).all())
