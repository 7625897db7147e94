"""Webhook receiver (issue 6): verified, deduplicated, durably stored before acknowledgement.

servicetitan-api.md §8.2 (HMAC, retries at 10/30/60/300 s), DESIGN §3.2 rule 4 and §5 "Webhooks".
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
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


def _client(store: Store, clock: FakeClock, **settings: Any) -> httpx.AsyncClient:
    endpoint = WebhookEndpoint(
        connection="default",
        settings=WebhookSettings(**settings),
        key=Secret(SERVICETITAN_WEBHOOK_KEY),
    )
    app = create_web_app(store=store, clock=clock, endpoints={"default": endpoint})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


def _event(
    event_id: str | None = "e-1",
    entity_id: int = 42,
    modified: str = "2026-11-02T12:00:00.1234567Z",
    event_type: str = "invoice.updated",
) -> bytes:
    body: dict[str, Any] = {
        "eventType": event_type,
        "timestamp": "2026-11-02T12:00:01Z",
        "data": {"id": entity_id, "modifiedOn": modified},
    }
    if event_id:
        body["eventId"] = event_id
    return json.dumps(body).encode()


def _signed(body: bytes, **kw: Any) -> dict[str, str]:
    return {
        "X-ServiceTitan-Signature": sign(body, SERVICETITAN_WEBHOOK_KEY, **kw),
        "content-type": "application/json",
    }


async def _rows(store: Store) -> list[Any]:
    async with store.transaction() as tx:
        return list((await tx.connection.execute(select(inbox).order_by(inbox.c.id))).all())


async def test_good_signature_is_stored_then_acknowledged(
    sqlite_store: Store, clock: FakeClock
) -> None:
    async with _client(sqlite_store, clock) as client:
        body = _event()
        response = await client.post(URL, content=body, headers=_signed(body))
    assert response.status_code == 200
    assert response.json() == {"status": "accepted", "eventKey": "id:e-1"}
    rows = await _rows(sqlite_store)
    assert [(r.event_key, r.event_type, r.entity_type, r.entity_id, r.state) for r in rows] == [
        ("id:e-1", "invoice.updated", "invoice", "42", "pending")
    ]


async def test_duplicates_and_replays_are_acknowledged_once_stored(
    sqlite_store: Store, clock: FakeClock
) -> None:
    body = _event()
    async with _client(sqlite_store, clock) as client:
        first = await client.post(URL, content=body, headers=_signed(body))
        again = await client.post(URL, content=body, headers=_signed(body))
    assert first.json()["status"] == "accepted"
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert len(await _rows(sqlite_store)) == 1


async def test_without_event_id_identity_is_type_entity_and_modified_on(
    sqlite_store: Store, clock: FakeClock
) -> None:
    async with _client(sqlite_store, clock) as client:
        for modified in ("2026-11-02T12:00:00Z", "2026-11-02T12:00:00Z", "2026-11-02T12:05:00Z"):
            body = _event(event_id=None, modified=modified)
            assert (await client.post(URL, content=body, headers=_signed(body))).status_code == 200
    keys = [r.event_key for r in await _rows(sqlite_store)]
    assert keys == [
        "h:invoice.updated:42:2026-11-02T12:00:00Z",
        "h:invoice.updated:42:2026-11-02T12:05:00Z",
    ]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "signature missing"),
        ({"X-ServiceTitan-Signature": "bm90IHRoZSBzaWduYXR1cmU="}, "signature invalid"),
        ({"X-ServiceTitan-Signature": "%%%not-base64%%%"}, "signature invalid"),
    ],
)
async def test_bad_or_missing_signature_is_401_logged_without_body(
    sqlite_store: Store,
    clock: FakeClock,
    headers: dict[str, str],
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = _event(event_id="secret-payload-marker")
    with caplog.at_level(logging.WARNING):
        async with _client(sqlite_store, clock) as client:
            response = await client.post(URL, content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == reason
    assert await _rows(sqlite_store) == []
    assert reason in caplog.text
    assert "secret-payload-marker" not in caplog.text


async def test_signature_over_a_different_body_is_refused(
    sqlite_store: Store, clock: FakeClock
) -> None:
    async with _client(sqlite_store, clock) as client:
        response = await client.post(
            URL, content=_event(entity_id=43), headers=_signed(_event(entity_id=42))
        )
    assert response.status_code == 401


async def test_hex_encoding_by_configuration(sqlite_store: Store, clock: FakeClock) -> None:
    body = _event()
    async with _client(sqlite_store, clock, encoding="hex") as client:
        ok = await client.post(URL, content=body, headers=_signed(body, encoding="hex"))
        b64 = await client.post(URL, content=body, headers=_signed(body))
    assert ok.status_code == 200
    assert b64.status_code == 401


async def test_timestamp_tolerance_refuses_old_replays(
    sqlite_store: Store, clock: FakeClock
) -> None:
    body = _event()
    now = int(clock.now().timestamp())
    async with _client(
        sqlite_store, clock, timestamp_header="X-Timestamp", timestamp_tolerance_seconds=300
    ) as client:
        fresh = await client.post(
            URL, content=body, headers={**_signed(body, timestamp=now), "X-Timestamp": str(now)}
        )
        clock.advance(301)
        stale = await client.post(
            URL, content=body, headers={**_signed(body, timestamp=now), "X-Timestamp": str(now)}
        )
        missing = await client.post(URL, content=body, headers=_signed(body, timestamp=now))
    assert fresh.status_code == 200
    assert stale.status_code == 401
    assert stale.json()["error"] == "timestamp outside tolerance"
    assert missing.status_code == 401


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b"{not json", "not JSON"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"data": {"id": 1}}', "no type"),
    ],
)
async def test_signed_but_malformed_bodies_are_kept_visible_and_answered_400(
    sqlite_store: Store, clock: FakeClock, body: bytes, reason: str
) -> None:
    async with _client(sqlite_store, clock) as client:
        response = await client.post(URL, content=body, headers=_signed(body))
    assert response.status_code == 400
    assert reason in response.json()["error"]
    rows = await _rows(sqlite_store)
    assert [r.event_type for r in rows] == ["malformed"]
    assert reason in rows[0].payload["reason"]


async def test_oversized_body_is_413_and_not_stored(sqlite_store: Store, clock: FakeClock) -> None:
    body = json.dumps(
        {"eventType": "invoice.updated", "eventId": "big", "data": {"id": 1, "pad": "x" * 5000}}
    ).encode()
    async with _client(sqlite_store, clock, max_body_bytes=2048) as client:
        response = await client.post(URL, content=body, headers=_signed(body))
    assert response.status_code == 413
    assert await _rows(sqlite_store) == []


async def test_unknown_connection_and_unknown_event_types(
    sqlite_store: Store, clock: FakeClock
) -> None:
    body = _event(event_type="technician.dispatched")
    async with _client(sqlite_store, clock) as client:
        nowhere = await client.post(
            "/webhooks/servicetitan/elsewhere", content=body, headers=_signed(body)
        )
        unknown = await client.post(URL, content=body, headers=_signed(body))
    assert nowhere.status_code == 404
    assert unknown.status_code == 200
    rows = await _rows(sqlite_store)
    assert [(r.event_type, r.entity_type) for r in rows] == [("technician.dispatched", None)]


async def test_concurrent_deliveries_are_group_committed(
    sqlite_store: Store, clock: FakeClock
) -> None:
    endpoint = WebhookEndpoint(
        connection="default", settings=WebhookSettings(), key=Secret(SERVICETITAN_WEBHOOK_KEY)
    )
    app = create_web_app(store=sqlite_store, clock=clock, endpoints={"default": endpoint})
    bodies = [_event(event_id=f"e-{i}", entity_id=i) for i in range(200)]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        responses = await asyncio.gather(
            *(client.post(URL, content=b, headers=_signed(b)) for b in bodies)
        )
    assert all(r.status_code == 200 and r.json()["status"] == "accepted" for r in responses)
    assert len(await _rows(sqlite_store)) == 200
    writer = app.state.inbox_writer
    assert writer.events == 200
    assert writer.batches < 200, "events were committed in batches"


async def test_each_outcome_is_counted_in_the_metrics(
    sqlite_store: Store, clock: FakeClock
) -> None:
    """mlc_webhooks_total{outcome} (issue 7's /metrics): accepted, duplicate and each refusal."""
    async with _client(sqlite_store, clock, max_body_bytes=2048) as client:
        body = _event()
        await client.post(URL, content=body, headers=_signed(body))
        await client.post(URL, content=body, headers=_signed(body))
        await client.post(URL, content=body, headers={"X-ServiceTitan-Signature": "bad"})
        junk = b"{not json"
        await client.post(URL, content=junk, headers=_signed(junk))
        await client.post(URL, content=b"x" * 4096, headers=_signed(b"x" * 4096))
        await client.post("/webhooks/servicetitan/nobody", content=body, headers=_signed(body))
        text = (await client.get("/metrics")).text
    for outcome in ("accepted", "duplicate", "unauthorized", "malformed", "too_large"):
        assert f'mlc_webhooks_total{{outcome="{outcome}"}} 1.0' in text, outcome
    assert 'mlc_webhooks_total{outcome="unknown_connection"} 1.0' in text


async def test_the_inbox_hook_runs_off_the_acknowledgement_path(
    sqlite_store: Store, clock: FakeClock
) -> None:
    """A slow ``on_inbox_commit`` (deferring inbox tasks) delays no answer and no later batch;
    connections that get events meanwhile are heard by its next call."""
    release = asyncio.Event()
    heard: asyncio.Queue[set[str]] = asyncio.Queue()

    async def hook(connections: set[str]) -> None:
        heard.put_nowait(connections)
        await release.wait()

    endpoint = WebhookEndpoint(
        connection="default", settings=WebhookSettings(), key=Secret(SERVICETITAN_WEBHOOK_KEY)
    )
    app = create_web_app(
        store=sqlite_store, clock=clock, endpoints={"default": endpoint}, on_inbox_commit=hook
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
    ) as client:
        first, second = _event(event_id="e-1"), _event(event_id="e-2")
        assert (await client.post(URL, content=first, headers=_signed(first))).status_code == 200
        assert await asyncio.wait_for(heard.get(), timeout=5) == {"default"}
        # the hook is still waiting: the next event is stored and acknowledged all the same
        response = await client.post(URL, content=second, headers=_signed(second))
        assert response.status_code == 200
        assert response.json()["status"] == "accepted"
        assert len(await _rows(sqlite_store)) == 2
        assert heard.empty()
        release.set()
        assert await asyncio.wait_for(heard.get(), timeout=5) == {"default"}
    await app.state.inbox_writer.aclose()
    assert heard.empty()


def _scope(connection: str = "default", headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    return {
        "type": "http",
        "method": "POST",
        "path": f"/webhooks/servicetitan/{connection}",
        "path_params": {"connection": connection},
        "headers": headers or [],
        "client": ("127.0.0.1", 50000),
    }


async def _call(
    sqlite_store: Store, clock: FakeClock, scope: Any, messages: list[dict[str, Any]], **kw: Any
) -> list[dict[str, Any]]:
    endpoint = WebhookEndpoint(
        connection="default",
        settings=WebhookSettings(**kw),
        key=Secret(SERVICETITAN_WEBHOOK_KEY),
    )
    app = create_web_app(store=sqlite_store, clock=clock, endpoints={"default": endpoint})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app.state.webhook_receiver(scope, receive, send)
    await app.state.inbox_writer.aclose()
    return sent


async def test_a_sender_gone_mid_body_gets_no_answer_and_nothing_is_stored(
    sqlite_store: Store, clock: FakeClock
) -> None:
    body = _event()
    headers = [(k.lower().encode(), v.encode()) for k, v in _signed(body).items()]
    sent = await _call(
        sqlite_store,
        clock,
        _scope(headers=headers),
        [
            {"type": "http.request", "body": body[:10], "more_body": True},
            {"type": "http.disconnect"},
        ],
    )
    assert sent == []
    assert await _rows(sqlite_store) == []


async def test_a_chunked_body_past_the_cap_is_413_without_reading_the_rest(
    sqlite_store: Store, clock: FakeClock
) -> None:
    """No Content-Length: the cap is enforced on the bytes as they arrive."""
    chunks = [{"type": "http.request", "body": b"x" * 1500, "more_body": True} for _ in range(5)]
    sent = await _call(sqlite_store, clock, _scope(), chunks, max_body_bytes=2048)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {"status": 413, "error": "body too large"}
    assert len(chunks) == 3, "two chunks read, the rest never asked for"
    assert await _rows(sqlite_store) == []


async def test_rate_limited_answers_say_when_to_retry_and_other_methods_are_405(
    sqlite_store: Store, clock: FakeClock
) -> None:
    async with _client(sqlite_store, clock, rate_limit_per_second=1, rate_limit_burst=1) as client:
        body = _event()
        assert (await client.post(URL, content=body, headers=_signed(body))).status_code == 200
        limited = await client.post(URL, content=body, headers=_signed(body))
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "1"
        assert limited.headers["content-type"] == "application/json"
        assert limited.json() == {"status": 429, "error": "rate limit exceeded"}
        assert (await client.get(URL)).status_code == 405
