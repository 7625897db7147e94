"""Webhook delivery and retries on a FakeClock (servicetitan-api.md §8.2, DESIGN §5 "Webhooks").

§8.2: "Retries on non-200 at 10, 30, 60 and 300 seconds"; the emitter reads them as the wait after
each failed attempt. A non-2xx answer or a transport error is a failure.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.clock import FakeClock
from ml_connector.sandbox.credentials import SERVICETITAN_TENANT_ID, SERVICETITAN_WEBHOOK_KEY
from ml_connector.sandbox.webhooks import WebhookConfig, WebhookEmitter
from ml_connector.systems.servicetitan.webhooks import verify

INVOICE = {"id": 501, "total": "125.00", "modifiedOn": "2026-11-02T11:59:00Z"}


@dataclass
class Receiver:
    """A callback endpoint that records what arrived and fails on command."""

    clock: FakeClock
    fail_with: list[int] = field(default_factory=list)  # statuses to answer, first to last
    received: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            self.received.append((self.clock.monotonic(), dict(request.headers), body))
            status = self.fail_with.pop(0) if self.fail_with else 200
            return Response(status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def times(self, start: float) -> list[float]:
        return [moment - start for moment, _, _ in self.received]

    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(body) for _, _, body in self.received]


@pytest.fixture
def receiver(clock: FakeClock) -> Receiver:
    return Receiver(clock=clock)


def make_emitter(receiver: Receiver, clock: FakeClock, **knobs: object) -> WebhookEmitter:
    config = WebhookConfig.model_validate(
        {"callback_urls": ["http://receiver/hook"], "seed": 3, **knobs}
    )
    return WebhookEmitter(config, clock, lambda: httpx.ASGITransport(app=receiver.app()))


@pytest.fixture
async def emitter(receiver: Receiver, clock: FakeClock) -> AsyncIterator[WebhookEmitter]:
    async with make_emitter(receiver, clock) as e:
        yield e


async def test_event_shape_and_default_signature(
    emitter: WebhookEmitter, receiver: Receiver, clock: FakeClock
) -> None:
    """DESIGN §5: eventId, eventType, ISO UTC timestamp, tenantId and the entity as the API has it."""
    event = emitter.emit("invoice.updated", {**INVOICE, "balance": Decimal("25.69")})
    assert event is not None
    assert await emitter.deliver_due() == 1
    [(_, headers, raw)] = receiver.received
    body = json.loads(raw)
    assert body == {
        "eventId": event.event_id,
        "eventType": "invoice.updated",
        "timestamp": "2026-11-02T12:00:00.000Z",
        "tenantId": SERVICETITAN_TENANT_ID,
        "data": {**INVOICE, "balance": "25.69"},
    }
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", event.event_id
    )
    assert headers["content-type"] == "application/json"
    assert verify(raw, SERVICETITAN_WEBHOOK_KEY, headers["x-servicetitan-signature"])
    assert emitter.stats() == {
        "emitted": 1, "attempts": 1, "delivered": 1, "failures": 0,
        "duplicates": 0, "dead": 0, "filtered": 0, "pending": 0, "held": 0,
    }  # fmt: skip


async def test_hex_signature_with_timestamp_header(receiver: Receiver, clock: FakeClock) -> None:
    knobs = {"encoding": "hex", "timestamp_header": "X-Timestamp", "signature_header": "X-Sig"}
    async with make_emitter(receiver, clock, **knobs) as emitter:
        emitter.emit("payment.created", {"id": 9, "total": "10.00"})
        await emitter.deliver_due()
    [(_, headers, raw)] = receiver.received
    timestamp = headers["x-timestamp"]
    assert timestamp == str(int(clock.now().timestamp()))
    key = SERVICETITAN_WEBHOOK_KEY
    assert verify(raw, key, headers["x-sig"], encoding="hex", timestamp=timestamp)
    assert not verify(raw, key, headers["x-sig"], encoding="hex")
    assert "x-servicetitan-signature" not in headers


async def test_no_key_means_no_signature(receiver: Receiver, clock: FakeClock) -> None:
    """HMAC is optional in V2 (§8.2)."""
    async with make_emitter(receiver, clock, hmac_key=None) as emitter:
        emitter.emit("invoice.created", INVOICE)
        await emitter.deliver_due()
    assert "x-servicetitan-signature" not in receiver.received[0][1]


async def test_fails_twice_then_delivered_on_the_10_and_30_second_retries(
    emitter: WebhookEmitter, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.fail_with = [500, 503]
    start = clock.monotonic()
    emitter.emit("invoice.updated", INVOICE)
    assert await emitter.deliver_due() == 1
    clock.advance(9.9)
    assert await emitter.deliver_due() == 0  # never early
    clock.advance(0.1)
    assert await emitter.deliver_due() == 1
    clock.advance(29.9)
    assert await emitter.deliver_due() == 0
    clock.advance(0.1)
    assert await emitter.deliver_due() == 1
    assert receiver.times(start) == pytest.approx([0, 10, 40])
    assert len({body for _, _, body in receiver.received}) == 1  # a retry resends the same bytes
    stats = emitter.stats()
    assert (stats["attempts"], stats["failures"], stats["delivered"]) == (3, 2, 1)
    assert (stats["pending"], stats["dead"]) == (0, 0)


async def test_always_failing_receiver_gives_up_after_four_retries(
    emitter: WebhookEmitter, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.fail_with = [500] * 10
    start = clock.monotonic()
    event = emitter.emit("invoice.updated", INVOICE)
    assert event is not None
    for _ in range(100):  # 500 s in 5 s steps
        await emitter.deliver_due()
        clock.advance(5)
    assert receiver.times(start) == pytest.approx([0, 10, 40, 100, 400], abs=5)
    assert len(receiver.received) == 5
    [dead] = emitter.dead_letters()
    assert (dead.event_id, dead.attempts, dead.last_error) == (event.event_id, 5, "HTTP 500")
    stats = emitter.stats()
    assert (stats["attempts"], stats["failures"], stats["dead"], stats["pending"]) == (5, 5, 1, 0)
    clock.advance(3600)
    assert await emitter.deliver_due() == 0
    # The portal's manual replay: dead deliveries start over and now succeed.
    receiver.fail_with = []
    assert emitter.replay_dead() == 1
    assert await emitter.deliver_due() == 1
    assert emitter.stats()["delivered"] == 1
    assert emitter.dead_letters() == []


async def test_exact_retry_times_and_time_scale(receiver: Receiver, clock: FakeClock) -> None:
    """time_scale 0.01 turns the 10/30/60/300 s schedule into 0.1/0.3/0.6/3 s."""
    receiver.fail_with = [500] * 5
    start = clock.monotonic()
    async with make_emitter(receiver, clock, time_scale=0.01) as emitter:
        emitter.emit("invoice.updated", INVOICE)
        while (wait := emitter.next_due_in()) is not None:
            clock.advance(wait)
            await emitter.deliver_due()
    assert receiver.times(start) == pytest.approx([0, 0.1, 0.4, 1.0, 4.0])
    assert emitter.stats()["dead"] == 1


async def test_transport_errors_count_as_failures(clock: FakeClock) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    config = WebhookConfig(callback_urls=["http://127.0.0.1:9/hook"], retry_schedule=[1])
    async with WebhookEmitter(config, clock, lambda: httpx.MockTransport(refuse)) as emitter:
        emitter.emit("invoice.updated", INVOICE)
        await emitter.deliver_due()
        clock.advance(1)
        await emitter.deliver_due()
    [dead] = emitter.dead_letters()
    assert dead.attempts == 2
    assert dead.last_error == "ConnectError: connection refused"


async def test_every_callback_url_gets_its_own_delivery(
    receiver: Receiver, clock: FakeClock
) -> None:
    urls = ["http://receiver/hook", "http://receiver/hook?copy=2"]
    receiver.fail_with = [200, 500]  # the second URL fails once and is retried alone
    async with make_emitter(receiver, clock, callback_urls=urls) as emitter:
        emitter.emit("invoice.updated", INVOICE)
        assert await emitter.deliver_due() == 2
        clock.advance(10)
        assert await emitter.deliver_due() == 1
    assert emitter.stats()["delivered"] == 2


async def test_run_loop_delivers_and_retries_on_the_clock(
    emitter: WebhookEmitter, receiver: Receiver, clock: FakeClock
) -> None:
    """The server's delivery loop sleeps on the injected clock: no real waiting here."""
    receiver.fail_with = [502]
    start = clock.monotonic()
    task = asyncio.create_task(emitter.run())
    emitter.emit("payment.updated", {"id": 7})
    for _ in range(200):
        await asyncio.sleep(0)
        if emitter.stats()["delivered"]:
            break
    emitter.close()
    await asyncio.wait_for(task, timeout=5)
    assert receiver.times(start) == pytest.approx([0, 10])
    assert emitter.stats()["delivered"] == 1
