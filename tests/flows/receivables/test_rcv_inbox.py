"""The inbox worker: webhook events are hints, the record is fetched (issue 6; DESIGN §5 "Webhooks").

Events are stored exactly as the receiver stores them (``parse_event`` on the signed body, then
``inbox.enqueue``), including duplicate deliveries and older events arriving after newer ones.
"""

from __future__ import annotations

import json
from typing import Any

from rcv_kit import applications, fusion_invoices, fusion_receipts

from flow_kit import Harness
from ml_connector.flows.inbox_worker import InboxWorker
from ml_connector.flows.invoices import InvoiceFlow
from ml_connector.mapping.payments import receipt_number
from ml_connector.store.records import NewInboxEvent
from ml_connector.store.states import InboxState
from ml_connector.systems.servicetitan.webhooks import parse_event


def event(event_type: str, data: dict[str, Any], event_id: str | None = None) -> NewInboxEvent:
    body: dict[str, Any] = {"eventType": event_type, "data": data}
    if event_id is not None:
        body["eventId"] = event_id
    parsed = parse_event(json.dumps(body).encode())
    return NewInboxEvent(
        connection="default",
        origin="webhook",
        event_key=parsed.event_key,
        event_type=parsed.event_type,
        entity_type=parsed.entity_type,
        entity_id=parsed.entity_id,
        payload=parsed.payload,
    )


async def enqueue(h: Harness, *events: NewInboxEvent) -> list[bool]:
    async with h.store.transaction() as tx:
        return await tx.inbox.enqueue(list(events))


async def states(h: Harness) -> dict[str, InboxState]:
    async with h.store.transaction() as tx:
        items = await tx.inbox.list(connection="default", limit=1000)
    return {i.event_key: i.state for i in items}


async def test_duplicate_and_out_of_order_events_make_exactly_one_invoice(h: Harness) -> None:
    ident = next(iter(h.dataset.expected.invoices.eligible))
    new = event("Invoice.Updated", {"id": ident, "modifiedOn": "2026-11-02T12:00:05Z"}, "e-2")
    old = event("Invoice.Created", {"id": ident, "modifiedOn": "2026-11-02T12:00:01Z"}, "e-1")
    stored = await enqueue(h, new, new, old, old)
    assert stored == [True, False, True, False], "duplicates are absorbed by the inbox key"
    summary = await InboxWorker(ctx=h.ctx()).drain()
    assert summary.completed == 2
    assert summary.invoices is not None
    assert summary.invoices.created == 1
    assert summary.invoices.unchanged == 1
    assert list(fusion_invoices(h)) == [str(ident)]
    # the same invoice seen again by polling is not posted twice
    h.later()
    poll = await InvoiceFlow(h.ctx()).run()
    assert poll.created == len(h.dataset.expected.invoices.eligible) - 1
    assert set(fusion_invoices(h)) == {str(i) for i in h.dataset.expected.invoices.eligible}
    assert set((await states(h)).values()) == {InboxState.DONE}


async def test_unknown_and_malformed_events_are_ignored_with_a_reason(h: Harness) -> None:
    await enqueue(
        h,
        event("Job.Completed", {"id": 5}, "j-1"),
        event("Invoice.Updated", {"id": "not-a-number"}, "bad-1"),
        event("Invoice.Updated", {"id": 99999999}, "gone-1"),
    )
    summary = await InboxWorker(ctx=h.ctx()).drain()
    assert summary.ignored == 3
    assert h.sandbox.fusion.invoices == {}
    async with h.store.transaction() as tx:
        items = await tx.inbox.list(connection="default")
    reasons = {i.event_key: i.last_error for i in items}
    assert all(i.state is InboxState.IGNORED for i in items)
    assert "not handled" in (reasons["id:j-1"] or "")
    assert "no usable entity id" in (reasons["id:bad-1"] or "")
    assert "not found" in (reasons["id:gone-1"] or "")


async def test_an_event_for_an_invoice_not_yet_eligible_posts_nothing(h: Harness) -> None:
    (ident,) = [
        i
        for i, r in h.dataset.expected.invoices.skipped.items()
        if r.kind == "invoice_needs_review"
    ]
    await enqueue(h, event("Invoice.Updated", {"id": ident}, "r-1"))
    summary = await InboxWorker(ctx=h.ctx()).drain()
    assert summary.completed == 1
    assert h.sandbox.fusion.invoices == {}


async def test_payment_event_before_its_invoice_is_applied_once_the_invoice_event_posts(
    h: Harness,
) -> None:
    pid, exp = next(
        (p, e) for p, e in h.dataset.expected.payments.eligible.items() if len(e.applications) == 1
    )
    (invoice_id, amount) = exp.applications[0]
    await enqueue(h, event("Payment.Created", {"id": pid}, "p-1"))
    await InboxWorker(ctx=h.ctx()).drain()
    number = receipt_number(h.settings.mapping.receivables, pid)
    assert number in fusion_receipts(h)
    assert applications(h) == {}
    h.later()
    await enqueue(h, event("Invoice.Created", {"id": invoice_id}, "i-1"))
    await InboxWorker(ctx=h.ctx()).drain()
    assert applications(h) == {number: [(str(invoice_id), amount)]}
    # a repeated payment event applies nothing twice
    h.later()
    await enqueue(h, event("Payment.Updated", {"id": pid}, "p-2"))
    await InboxWorker(ctx=h.ctx()).drain()
    assert applications(h) == {number: [(str(invoice_id), amount)]}
    assert len(fusion_receipts(h)) == 1
