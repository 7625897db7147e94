"""Webhook knobs the receiver must survive: duplicates, reordering, no eventId, the V1 envelope.

servicetitan-api.md §8.1 (V1 envelope: flat record, ``__eventInfo`` with a timestamp-string
``eventId``, ``__tenantInfo``), §8.2 (no documented idempotency key: dedupe on the event id if
present, else on type + entity id + modifiedOn), DESIGN §3.4 ("duplicate and out-of-order
webhooks") and §5.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.clock import FakeClock
from ml_connector.sandbox.credentials import SERVICETITAN_TENANT_ID
from ml_connector.sandbox.webhooks import WebhookConfig, WebhookEmitter


def collecting_app(sink: list[dict[str, Any]]) -> Starlette:
    async def hook(request: Request) -> Response:
        sink.append(json.loads(await request.body()))
        return Response(status_code=202)

    return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def make(clock: FakeClock, sink: list[dict[str, Any]], **knobs: object) -> WebhookEmitter:
    config = WebhookConfig.model_validate(
        {"callback_urls": ["http://receiver/hook"], "seed": 11, **knobs}
    )
    return WebhookEmitter(config, clock, lambda: httpx.ASGITransport(app=collecting_app(sink)))


def invoice(n: int) -> dict[str, Any]:
    return {"id": n, "total": f"{n}.00", "modifiedOn": "2026-11-02T11:00:00Z"}


async def test_duplicates_at_rate_one_and_zero(clock: FakeClock) -> None:
    sink: list[dict[str, Any]] = []
    async with make(clock, sink, duplicate_rate=1.0) as emitter:
        for n in range(3):
            emitter.emit("invoice.updated", invoice(n))
        await emitter.deliver_due()
    assert len(sink) == 6
    ids = [body["eventId"] for body in sink]
    assert all(ids.count(event_id) == 2 for event_id in ids)  # same event, same id, twice
    assert emitter.stats()["duplicates"] == 3
    sink.clear()
    async with make(clock, sink, duplicate_rate=0.0) as emitter:
        for n in range(3):
            emitter.emit("invoice.updated", invoice(n))
        await emitter.deliver_due()
    assert len(sink) == 3
    assert emitter.stats()["duplicates"] == 0


async def test_reorder_window_holds_then_delivers_shuffled(clock: FakeClock) -> None:
    sink: list[dict[str, Any]] = []
    async with make(clock, sink, reorder_window=5) as emitter:
        for n in range(4):
            emitter.emit("invoice.updated", invoice(n))
        assert await emitter.deliver_due() == 0  # held until five events are in
        assert emitter.stats()["held"] == 4
        emitter.emit("invoice.updated", invoice(4))
        assert await emitter.deliver_due() == 5
    order = [body["data"]["id"] for body in sink]
    assert sorted(order) == [0, 1, 2, 3, 4]
    assert order != [0, 1, 2, 3, 4]  # seed 11 shuffles this batch


async def test_reorder_releases_a_partial_window_after_the_hold_time(clock: FakeClock) -> None:
    sink: list[dict[str, Any]] = []
    async with make(clock, sink, reorder_window=10, reorder_max_hold_seconds=5) as emitter:
        emitter.emit("payment.created", {"id": 1})
        emitter.emit("payment.created", {"id": 2})
        assert emitter.next_due_in() == pytest.approx(5)
        clock.advance(4.9)
        assert await emitter.deliver_due() == 0
        clock.advance(0.1)
        assert await emitter.deliver_due() == 2
    assert sorted(body["data"]["id"] for body in sink) == [1, 2]


async def test_reordering_off_keeps_emit_order(clock: FakeClock) -> None:
    sink: list[dict[str, Any]] = []
    async with make(clock, sink, reorder_window=0) as emitter:
        for n in range(6):
            emitter.emit("invoice.updated", invoice(n))
        await emitter.deliver_due()
    assert [body["data"]["id"] for body in sink] == list(range(6))


async def test_event_id_can_be_omitted(clock: FakeClock) -> None:
    """Without an id the receiver dedupes on (type, entity id, modifiedOn): all still present."""
    sink: list[dict[str, Any]] = []
    async with make(clock, sink, include_event_id=False) as emitter:
        emitter.emit("invoice.updated", invoice(1))
        await emitter.deliver_due()
    [body] = sink
    assert "eventId" not in body
    assert (body["eventType"], body["data"]["id"], body["data"]["modifiedOn"]) == (
        "invoice.updated",
        1,
        "2026-11-02T11:00:00Z",
    )


async def test_v1_envelope(clock: FakeClock) -> None:
    """§8.1: record fields flat, ``eventId`` a timestamp string, tenant in ``__tenantInfo``."""
    sink: list[dict[str, Any]] = []
    async with make(clock, sink, envelope="v1", webhook_id=60805346) as emitter:
        emitter.emit("invoice.updated", invoice(3))
        await emitter.deliver_due()
    [body] = sink
    assert body["id"] == 3
    assert body["total"] == "3.00"
    assert body["__eventInfo"]["eventId"] == "2026-11-02T12:00:00.0000000Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", body["__eventInfo"]["eventId"])
    assert body["__eventInfo"]["webhookId"] == 60805346
    assert body["__eventInfo"]["webhookType"] == "InvoiceUpdated"
    assert body["__tenantInfo"] == {"id": SERVICETITAN_TENANT_ID, "name": "sandbox"}


async def test_only_subscribed_event_types_are_sent(clock: FakeClock) -> None:
    sink: list[dict[str, Any]] = []
    async with make(clock, sink, event_types=["payment.created"]) as emitter:
        assert emitter.emit("invoice.updated", invoice(1)) is None
        assert emitter.emit("payment.created", {"id": 2}) is not None
        await emitter.deliver_due()
    assert [body["eventType"] for body in sink] == ["payment.created"]
    assert emitter.stats()["filtered"] == 1


async def test_listener_snapshots_the_entity_when_it_changes(clock: FakeClock) -> None:
    """A simulator's state calls ``listener`` on change; later edits do not leak into the event."""
    sink: list[dict[str, Any]] = []

    class InvoiceStore:
        def __init__(self, on_change: Any) -> None:
            self.rows: dict[int, dict[str, Any]] = {}
            self.on_change = on_change

        def upsert(self, row: dict[str, Any]) -> None:
            kind = "invoice.updated" if row["id"] in self.rows else "invoice.created"
            self.rows[row["id"]] = row
            self.on_change(kind, row)

    async with make(clock, sink) as emitter:
        store = InvoiceStore(emitter.listener)
        row = invoice(8)
        store.upsert(row)
        row["total"] = "999.00"  # mutated in place after the event
        store.upsert({**row, "total": "10.00"})
        await emitter.deliver_due()
    assert [(b["eventType"], b["data"]["total"]) for b in sink] == [
        ("invoice.created", "8.00"),
        ("invoice.updated", "10.00"),
    ]


async def test_unserialisable_entity_is_refused(clock: FakeClock) -> None:
    async with make(clock, []) as emitter:
        with pytest.raises(TypeError, match="cannot serialise"):
            emitter.emit("invoice.updated", {"id": 1, "blob": object()})


async def test_admin_app_emits_on_demand_and_reports(clock: FakeClock) -> None:
    """Issue 3: events "on demand"; DESIGN §3.4: dead deliveries visible and replayable."""
    from starlette.routing import Mount

    from ml_connector.sandbox.webhooks import admin_app

    sink: list[dict[str, Any]] = []
    emitter = make(clock, sink, retry_schedule=[])
    app = Starlette(routes=[Mount("/__admin/webhooks", app=admin_app(emitter))])
    transport = httpx.ASGITransport(app=app)
    async with emitter, httpx.AsyncClient(transport=transport, base_url="http://st") as admin:
        created = await admin.post(
            "/__admin/webhooks/events", json={"eventType": "invoice.created", "data": invoice(4)}
        )
        assert created.status_code == 202
        await emitter.deliver_due()
        assert sink[0]["eventId"] == created.json()["eventId"]
        bad = await admin.post("/__admin/webhooks/events", content=b"[")
        assert bad.status_code == 400
        state = (await admin.get("/__admin/webhooks/")).json()
        assert state["stats"]["delivered"] == 1
        assert "hmac_key" not in state["config"]  # the secret is never shown back
        wrong = await admin.put("/__admin/webhooks/config", json={"time_scale": -1})
        assert wrong.status_code == 422
        down = {"callback_urls": ["http://127.0.0.1:9/nowhere"], "retry_schedule": []}
        assert (await admin.put("/__admin/webhooks/config", json=down)).status_code == 200
        await admin.post(
            "/__admin/webhooks/events", json={"eventType": "payment.created", "data": {"id": 1}}
        )
        await emitter.deliver_due()  # the receiver app has no such route: 404, dead at once
        state = (await admin.get("/__admin/webhooks/")).json()
        assert [d["last_error"] for d in state["dead"]] == ["HTTP 404"]
        replayed = await admin.post("/__admin/webhooks/replay")
        assert replayed.json() == {"replayed": 1}


async def test_datetimes_in_entities_are_sent_as_utc_z(clock: FakeClock) -> None:
    from datetime import datetime, timedelta, timezone

    sink: list[dict[str, Any]] = []
    plus_two = timezone(timedelta(hours=2))
    async with make(clock, sink) as emitter:
        emitter.emit(
            "invoice.updated",
            {"id": 1, "modifiedOn": datetime(2026, 11, 2, 14, 0, tzinfo=plus_two)},
        )
        with pytest.raises(ValueError, match="naive"):
            emitter.emit("invoice.updated", {"id": 2, "modifiedOn": datetime(2026, 11, 2, 14, 0)})
        await emitter.deliver_due()
    assert sink[0]["data"]["modifiedOn"] == "2026-11-02T12:00:00.000Z"


async def test_a_crashing_in_process_receiver_is_a_failed_delivery(clock: FakeClock) -> None:
    async def crash(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("receiver bug")

    config = WebhookConfig(callback_urls=["http://receiver/hook"], retry_schedule=[])
    async with WebhookEmitter(config, clock, lambda: httpx.ASGITransport(app=crash)) as emitter:
        emitter.emit("invoice.updated", invoice(1))
        await emitter.deliver_due()
    [dead] = emitter.dead_letters()
    assert dead.last_error == "RuntimeError: receiver bug"
