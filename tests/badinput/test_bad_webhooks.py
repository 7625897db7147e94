"""Bad webhook input (issue 8): each case gets a clear answer, and nothing is lost.

"Nothing lost" means one of two things here. A body that is signed but is not an event is kept in
the inbox as a ``malformed`` item a person can read. A request that is refused before it is
trusted (too big, unsigned, wrongly signed, too old) is not acknowledged with a 2xx, so
ServiceTitan keeps it and retries on its schedule; it is stored nowhere.
"""

from __future__ import annotations

import base64
import json
import logging

import pytest

from hook_kit import URL, event, hook_client, inbox_rows, signed
from ml_connector.clock import FakeClock
from ml_connector.store import Store

MALFORMED = [
    pytest.param(b"{not json", "body is not JSON", id="malformed-json"),
    pytest.param(b'["eventType", "invoice.updated"]', "not a JSON object", id="json-array"),
    pytest.param(b'{"data": {"id": 1}}', "no type", id="missing-type"),
    pytest.param(b"", "body is not JSON", id="empty"),
    pytest.param(b"\xff\xfe{\x00\x80 not utf-8", "not UTF-8", id="non-utf8"),
    pytest.param(b"<html><body>502 Bad Gateway</body></html>", "not JSON", id="html"),
    pytest.param(
        b'{"eventType": "invoice.updated", "data": {"id": ' + b"9" * 5000 + b"}}",
        "number too long",
        id="5000-digit-int",
    ),
    pytest.param(b"[" * 30_000 + b"]" * 30_000, "nested too deeply", id="deep-nesting"),
]


@pytest.mark.parametrize(("body", "reason"), MALFORMED)
async def test_signed_malformed_bodies_are_400_and_kept_as_malformed_inbox_items(
    sqlite_store: Store, clock: FakeClock, body: bytes, reason: str
) -> None:
    async with hook_client(sqlite_store, clock) as client:
        response = await client.post(URL, content=body, headers=signed(body))
    assert response.status_code == 400
    assert reason in response.json()["error"]
    (row,) = await inbox_rows(sqlite_store)
    assert row.event_type == "malformed"
    assert reason in row.payload["reason"]
    # the exact bytes can be recovered from the item (base64 when they are not UTF-8)
    kept = row.payload["body"]
    restored = base64.b64decode(kept) if row.payload["encoding"] == "base64" else kept.encode()
    assert restored == body


async def test_oversized_body_is_413_unacknowledged_and_not_buffered(
    sqlite_store: Store, clock: FakeClock
) -> None:
    big = json.dumps({"eventType": "invoice.updated", "eventId": "big", "pad": "x" * 4096}).encode()

    async def chunks():  # no Content-Length: the cap applies while streaming
        for i in range(0, len(big), 512):
            yield big[i : i + 512]

    async with hook_client(sqlite_store, clock, max_body_bytes=2048) as client:
        declared = await client.post(URL, content=big, headers=signed(big))
        streamed = await client.post(URL, content=chunks(), headers=signed(big))
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"] == "body too large"
    assert await inbox_rows(sqlite_store) == []


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param({}, "signature missing", id="missing"),
        pytest.param({"X-ServiceTitan-Signature": ""}, "signature missing", id="empty"),
        pytest.param(
            {"X-ServiceTitan-Signature": base64.b64encode(b"x" * 32).decode()},
            "signature invalid",
            id="wrong",
        ),
        pytest.param({"X-ServiceTitan-Signature": "***"}, "signature invalid", id="not-base64"),
        pytest.param({"X-ServiceTitan-Signature": "é" * 4}, "signature invalid", id="non-ascii"),
    ],
)
async def test_missing_or_invalid_signatures_are_401_and_nothing_is_stored(
    sqlite_store: Store,
    clock: FakeClock,
    headers: dict[str, str],
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = event("body-marker-7")
    raw_headers = [(k.encode(), v.encode("utf-8")) for k, v in headers.items()]
    with caplog.at_level(logging.WARNING):
        async with hook_client(sqlite_store, clock) as client:
            response = await client.post(URL, content=body, headers=raw_headers)
    assert response.status_code == 401
    assert response.json()["error"] == reason
    assert await inbox_rows(sqlite_store) == []
    assert reason in caplog.text
    assert "body-marker-7" not in caplog.text


async def test_a_replayed_signed_event_is_stored_once(
    sqlite_store: Store, clock: FakeClock
) -> None:
    body = event("e-replayed")
    async with hook_client(sqlite_store, clock) as client:
        first = await client.post(URL, content=body, headers=signed(body))
        clock.advance(3600)
        replay = await client.post(URL, content=body, headers=signed(body))
    assert (first.status_code, first.json()["status"]) == (200, "accepted")
    assert (replay.status_code, replay.json()["status"]) == (200, "duplicate")
    assert [r.event_key for r in await inbox_rows(sqlite_store)] == ["id:e-replayed"]


async def test_with_a_timestamp_header_an_old_signed_event_is_refused(
    sqlite_store: Store, clock: FakeClock
) -> None:
    body = event("e-old")
    sent = int(clock.now().timestamp())
    headers = {**signed(body, timestamp=sent), "X-Timestamp": str(sent)}
    async with hook_client(
        sqlite_store, clock, timestamp_header="X-Timestamp", timestamp_tolerance_seconds=300
    ) as client:
        clock.advance(301)
        old = await client.post(URL, content=body, headers=headers)
        garbled = await client.post(
            URL, content=body, headers={**headers, "X-Timestamp": "yesterday"}
        )
    assert (old.status_code, old.json()["error"]) == (401, "timestamp outside tolerance")
    assert (garbled.status_code, garbled.json()["error"]) == (401, "timestamp outside tolerance")
    assert await inbox_rows(sqlite_store) == []


async def test_unknown_event_types_are_accepted_and_kept_with_no_entity(
    sqlite_store: Store, clock: FakeClock
) -> None:
    body = event("e-new-kind", event_type="technician.shift.changed")
    async with hook_client(sqlite_store, clock) as client:
        response = await client.post(URL, content=body, headers=signed(body))
    assert (response.status_code, response.json()["status"]) == (200, "accepted")
    (row,) = await inbox_rows(sqlite_store)
    assert (row.event_type, row.entity_type) == ("technician.shift.changed", None)
    assert row.payload["eventId"] == "e-new-kind"


async def test_an_entity_id_too_long_for_the_inbox_is_kept_without_an_id(
    store: Store, clock: FakeClock
) -> None:
    """A signed event whose ``data.id`` is no ServiceTitan id (300 digits): accepted and kept with
    no entity id, which the worker ignores with its reason; on PostgreSQL it no longer fails the
    INSERT of its whole batch (the column holds 100 characters)."""
    body = event("e-long", entity_id=int("9" * 300))
    async with hook_client(store, clock) as client:
        response = await client.post(URL, content=body, headers=signed(body))
        good = event("e-good", entity_id=7)
        ok = await client.post(URL, content=good, headers=signed(good))
    assert (response.status_code, ok.status_code) == (200, 200)
    rows = {r.payload["eventId"]: r for r in await inbox_rows(store)}
    assert rows["e-long"].entity_id is None
    assert rows["e-good"].entity_id == "7"
