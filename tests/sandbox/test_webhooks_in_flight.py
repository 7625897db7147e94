"""``max_in_flight``: how many deliveries the emitter has on the wire at once.

servicetitan-api.md §8.2 says nothing about concurrency, so it is a knob: 1 (the default) sends one
at a time in queue order; more lets a receiver's group commit see concurrent requests (the demo).
"""

from __future__ import annotations

import asyncio
import json

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_connector.clock import FakeClock
from ml_connector.sandbox.webhooks import WebhookConfig, WebhookEmitter


class Gate:
    """A receiver that holds each request until ``width`` are in flight together (or the test's
    bound runs out), recording the most it ever saw at once."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.in_flight = 0
        self.most = 0
        self.ids: list[str] = []
        self.full = asyncio.Event()

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.ids.append(json.loads(await request.body())["eventId"])
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            if self.in_flight >= self.width:
                self.full.set()
            try:
                await asyncio.wait_for(self.full.wait(), timeout=0.5)
            except TimeoutError:
                pass  # fewer than ``width`` came together: ``most`` says so
            finally:
                self.in_flight -= 1
            return Response(status_code=200)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def _emitter(gate: Gate, clock: FakeClock, width: int) -> WebhookEmitter:
    app = gate.app()
    config = WebhookConfig(callback_urls=["http://127.0.0.1:9/hook"], max_in_flight=width)
    return WebhookEmitter(config, clock=clock, transport_factory=lambda: httpx.ASGITransport(app))


async def test_deliveries_go_out_side_by_side_each_once(clock: FakeClock) -> None:
    gate = Gate(width=4)
    emitter = _emitter(gate, clock, width=4)
    events = [emitter.emit("invoice.created", {"id": n}) for n in range(10)]

    assert await emitter.deliver_due() == 10

    assert gate.most == 4
    assert sorted(gate.ids) == sorted(e.event_id for e in events if e is not None)
    assert emitter.stats()["delivered"] == 10
    assert emitter.stats()["pending"] == 0
    await emitter.aclose()


async def test_one_in_flight_keeps_queue_order(clock: FakeClock) -> None:
    gate = Gate(width=2)
    gate.full.set()  # nothing waits: one at a time must never overlap anyway
    emitter = _emitter(gate, clock, width=1)
    events = [emitter.emit("payment.created", {"id": n}) for n in range(5)]

    assert await emitter.deliver_due() == 5

    assert gate.most == 1
    assert gate.ids == [e.event_id for e in events if e is not None]
    await emitter.aclose()
