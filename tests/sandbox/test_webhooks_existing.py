"""Events for records that existed before the subscription (servicetitan-api.md §8.2).

§8.2: a subscriber is sent events for changes; nothing announces what already existed, and only
failed deliveries can be replayed. The sandbox's ``emit_existing`` is the demo's way to show seeded
invoices and payments arriving by webhook; these tests pin what it sends.
"""

from __future__ import annotations

import json

import httpx

from ml_connector.clock import FakeClock
from ml_connector.sandbox.credentials import SERVICETITAN_WEBHOOK_KEY
from ml_connector.sandbox.server import build_sandbox
from ml_connector.sandbox.servicetitan import seed_minimal
from ml_connector.systems.servicetitan.webhooks import verify

CALLBACK = "http://127.0.0.1:8700/webhooks/servicetitan/default"


def _recorder(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "accepted"})

    return httpx.MockTransport(handle)


async def test_every_existing_invoice_and_payment_is_sent_once_signed_invoices_first(
    clock: FakeClock,
) -> None:
    seen: list[httpx.Request] = []
    box = build_sandbox(clock=clock, populate=False, webhook_transport=lambda: _recorder(seen))
    seed_minimal(box.servicetitan)
    invoices = {row["id"] for row in box.servicetitan.snapshot("invoices")}
    payments = {row["id"] for row in box.servicetitan.snapshot("payments")}
    assert invoices
    assert payments
    assert box.emitter.stats()["pending"] == 0, "no subscriber yet: the seeding queued nothing"

    box.emitter.config = box.emitter.config.model_copy(update={"callback_urls": [CALLBACK]})
    emitted = box.emit_existing()
    await box.emitter.deliver_due()

    assert emitted == len(invoices) + len(payments)
    assert box.emitter.stats()["pending"] == 0
    bodies = [json.loads(request.content) for request in seen]
    types = [body["eventType"] for body in bodies]
    assert types == ["invoice.created"] * len(invoices) + ["payment.created"] * len(payments)
    assert {b["data"]["id"] for b in bodies if b["eventType"] == "invoice.created"} == invoices
    assert {b["data"]["id"] for b in bodies if b["eventType"] == "payment.created"} == payments
    assert len({body["eventId"] for body in bodies}) == len(bodies)
    for request in seen:
        signature = request.headers["X-ServiceTitan-Signature"]
        assert verify(request.content, SERVICETITAN_WEBHOOK_KEY, signature, encoding="base64")
    await box.emitter.aclose()


async def test_the_subscriptions_event_filter_applies(clock: FakeClock) -> None:
    box = build_sandbox(clock=clock, populate=False)
    seed_minimal(box.servicetitan)
    invoices = len(box.servicetitan.snapshot("invoices"))
    payments = len(box.servicetitan.snapshot("payments"))
    box.emitter.config = box.emitter.config.model_copy(
        update={"callback_urls": [CALLBACK], "event_types": ["payment.created"]}
    )
    before = box.emitter.stats()["filtered"]

    assert box.emit_existing() == payments
    assert box.emitter.stats()["filtered"] - before == invoices
    assert box.emitter.stats()["pending"] == payments
    await box.emitter.aclose()
