"""F4 invoices end to end against the sandbox (issue 6; DESIGN §3.2 rules 1–3)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from rcv_kit import LateApply, fusion_invoices

from flow_kit import Harness
from ml_connector.errors import RetriableError
from ml_connector.flows.inbox_worker import InboxWorker
from ml_connector.flows.invoices import FLOW, InvoiceFlow
from ml_connector.flows.parking import DELAY_SECONDS
from ml_connector.flows.summary import Outcome
from ml_connector.sandbox.faults import FaultConfig
from ml_connector.sandbox.fusion.ops import post_invoice
from ml_connector.store.states import AttentionState, AuditAction, InboxState
from ml_connector.systems.servicetitan.models import MarkExportedResult


async def open_attention(h: Harness, flow: str) -> dict[str, str]:
    async with h.store.transaction() as tx:
        items = await tx.attention.list(connection="default")
    return {
        i.source_id: i.reason for i in items if i.flow == flow and i.state is AttentionState.OPEN
    }


async def test_one_run_posts_every_eligible_invoice_once_with_equal_amounts(h: Harness) -> None:
    expected = h.dataset.expected.invoices
    summary = await InvoiceFlow(h.ctx()).run()
    posted = fusion_invoices(h)
    assert set(posted) == {str(i) for i in expected.eligible}
    for ident, exp in expected.eligible.items():
        inv = posted[str(ident)]
        assert inv.EnteredAmount == exp.total, ident
        assert inv.BillToCustomerNumber == exp.account_number
        assert inv.BillToSite == exp.bill_to_site
        assert inv.BusinessUnit == exp.business_unit
        assert inv.TransactionType == exp.transaction_type
        assert inv.TransactionNumber == f"ST-{exp.reference_number}"
    assert summary.created == len(expected.eligible)
    assert summary.failed == 0
    assert await open_attention(h, FLOW) == {str(i): r.kind for i, r in expected.attention.items()}
    assert set(summary.ids[Outcome.SKIPPED]) == {str(i) for i in expected.skipped}
    # ServiceTitan shows the posted invoices exported with the Fusion id as externalId
    st_rows = {r["id"]: r for r in h.table("invoices")}
    for ident in expected.eligible:
        row = st_rows[ident]
        assert row["syncStatus"] == "Exported"
        # the simulator keeps markasexported's externalId as the invoice's exportId
        assert row["exportId"] == str(posted[str(ident)].CustomerTransactionId)
    async with h.store.transaction() as tx:
        assert (await tx.cursors.get("default", FLOW)).token
        some = str(next(iter(expected.eligible)))
        (row_,) = await tx.audit.history("default", FLOW, some)
        assert row_.action is AuditAction.CREATE
        assert {"customer_account", "bill_to_site", "validation", "transaction_number"} <= {
            d["rule"] for d in row_.decisions
        }


async def test_second_run_makes_zero_writes(h: Harness) -> None:
    await InvoiceFlow(h.ctx()).run()
    h.later()
    fusion_before, st_before = len(h.sandbox.fusion.invoices), h.st_writes()
    again = await InvoiceFlow(h.ctx()).run()
    assert len(h.sandbox.fusion.invoices) == fusion_before
    assert h.st_writes() == st_before
    assert again.writes == 0
    # a full re-read sees every posted invoice as unchanged and still writes nothing
    full = await InvoiceFlow(h.ctx()).run(full=True)
    assert full.writes == 0
    assert full.adopted == 0
    assert full.unchanged == len(h.dataset.expected.invoices.eligible)
    assert len(h.sandbox.fusion.invoices) == fusion_before
    assert h.st_writes() == st_before


async def test_lost_post_answers_leave_exactly_one_invoice_each(h: Harness) -> None:
    """A POST whose response is lost after the simulator committed it (DESIGN §3.4 faults)."""
    h.sandbox.fusion_app.set_config(FaultConfig(seed=3, rate_drop_after_commit=1.0))
    first = await InvoiceFlow(h.ctx()).run()
    h.sandbox.fusion_app.set_config(FaultConfig())
    assert first.created == 0
    assert first.adopted == len(h.dataset.expected.invoices.eligible)
    assert set(fusion_invoices(h)) == {str(i) for i in h.dataset.expected.invoices.eligible}
    h.later()
    second = await InvoiceFlow(h.ctx()).run(full=True)
    assert second.writes == 0
    assert set(fusion_invoices(h)) == {str(i) for i in h.dataset.expected.invoices.eligible}
    async with h.store.transaction() as tx:
        assert await tx.writes.pending("default", FLOW) == []


async def test_crash_after_post_before_link_write_leaves_one_invoice(h: Harness) -> None:
    ctx = h.ctx()
    original = ctx.fusion.create_invoice
    calls = 0

    async def post_then_crash(payload: Any) -> Any:
        nonlocal calls
        calls += 1
        created = await original(payload)
        if calls == 4:
            raise RuntimeError("process killed after the POST")
        return created

    ctx.fusion.create_invoice = post_then_crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await InvoiceFlow(ctx).run()
    posted_before = set(fusion_invoices(h))
    async with h.store.transaction() as tx:
        # the crashed record's intent, and those of siblings cancelled mid-create (records run
        # side by side): each may or may not have committed in Fusion
        pending = await tx.writes.pending("default", FLOW)
        linked = await tx.links.by_target("default", "invoice_export_mark", "pending")
        assert (await tx.cursors.get("default", FLOW)).token is None
    assert pending
    h.later()
    summary = await InvoiceFlow(h.ctx()).run()
    # every invoice Fusion holds without a link is adopted, never posted again
    assert summary.adopted == len(posted_before) - len(linked) >= 1
    assert set(fusion_invoices(h)) == {str(i) for i in h.dataset.expected.invoices.eligible}
    async with h.store.transaction() as tx:
        assert await tx.writes.pending("default", FLOW) == []


async def test_invalid_gl_combination_goes_to_attention_and_nothing_is_posted(h: Harness) -> None:
    """Validation before posting (DESIGN §3.2 rule 3): the simulator would refuse it too, but
    the flow never sends it."""
    expected = h.dataset.expected.invoices
    bad = {i for i, r in expected.attention.items() if r.kind.endswith("_gl_combination")}
    assert bad
    ctx = h.ctx()
    sent: list[str] = []
    original = ctx.fusion.create_invoice

    async def spy(payload: Any) -> Any:
        sent.append(payload["CrossReference"])
        return await original(payload)

    ctx.fusion.create_invoice = spy  # type: ignore[method-assign]
    await InvoiceFlow(ctx).run()
    assert not {str(i) for i in bad} & set(sent)
    assert not {str(i) for i in bad} & set(fusion_invoices(h))
    async with h.store.transaction() as tx:
        items = [i for i in await tx.attention.list(connection="default") if i.flow == FLOW]
    for item in items:
        if int(item.source_id) in bad:
            assert "01-" in item.message
            assert item.suggestion


async def test_unmapped_customer_goes_to_attention_then_posts_after_the_mapping_is_fixed(
    h: Harness,
) -> None:
    expected = h.dataset.expected.invoices
    (ident,) = [i for i, r in expected.attention.items() if r.kind == "unmapped_customer"]
    await InvoiceFlow(h.ctx()).run()
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, str(ident))
    assert item is not None
    assert item.reason == "unmapped_customer"
    assert "tried" in item.message
    assert "mapping.receivables.customers" in item.message
    assert str(ident) not in fusion_invoices(h)
    # the fix: map the customer to an account with a bill-to site in the invoice's business unit
    st_invoice = next(r for r in h.table("invoices") if r["id"] == ident)
    bu = h.settings.mapping.receivables.business_units[str(st_invoice["businessUnit"]["id"])]
    account = next(
        a
        for a in h.sandbox.fusion.accounts.values()
        if a.Status == "A"
        and any(s.BusinessUnit == bu.fusion_business_unit and s.Status == "A" for s in a.sites)
    )
    receivables = h.settings.mapping.receivables.model_copy(
        update={"customers": {str(st_invoice["customer"]["id"]): account.AccountNumber}}
    )
    mapping = h.settings.mapping.model_copy(update={"receivables": receivables})
    h.settings = h.settings.model_copy(update={"mapping": mapping})
    h.later()
    replay = await InvoiceFlow(h.ctx()).sync_ids([ident])
    assert replay.created == 1
    posted = fusion_invoices(h)[str(ident)]
    assert posted.BillToCustomerNumber == account.AccountNumber
    async with h.store.transaction() as tx:
        assert await tx.attention.find_active("default", FLOW, str(ident)) is None


async def test_a_changed_invoice_after_posting_goes_to_attention_not_to_fusion(h: Harness) -> None:
    await InvoiceFlow(h.ctx()).run()
    ident = next(iter(h.dataset.expected.invoices.eligible))
    before = len(h.sandbox.fusion.invoices)
    h.later()
    rows = await h.ctx().servicetitan.invoices_by_ids([ident])
    first = rows[0].items[0]
    bumped = first.model_copy(update={"total": (first.total or 0) + 1, "quantity": None})
    assert rows[0].total is not None
    changed = rows[0].model_copy(
        update={"total": rows[0].total + 1, "items": [bumped, *rows[0].items[1:]]}
    )
    flow = InvoiceFlow(h.ctx())
    summary = flow.new_summary()
    await flow.sync(changed, summary)
    assert summary.attention == 1
    assert len(h.sandbox.fusion.invoices) == before
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, str(ident))
    assert item is not None
    assert item.reason == "changed_after_posting"


async def test_a_refused_markasexported_item_is_retried_next_run_without_reposting(
    h: Harness,
) -> None:
    ctx = h.ctx()
    original = ctx.servicetitan.mark_invoices_exported
    refused: set[int] = set()

    async def refuse_first(entries: Any) -> Any:
        entries = list(entries)
        victim = entries[0]
        refused.add(victim.invoice_id)
        results = await original(entries[1:])
        return [*results, MarkExportedResult(invoiceId=victim.invoice_id, success=False)]

    ctx.servicetitan.mark_invoices_exported = refuse_first  # type: ignore[method-assign]
    await InvoiceFlow(ctx).run()
    st_rows = {r["id"]: r for r in h.table("invoices")}
    assert refused
    assert all(st_rows[i]["syncStatus"] != "Exported" for i in refused)
    posted = len(h.sandbox.fusion.invoices)
    h.later()
    again = await InvoiceFlow(h.ctx()).run()
    assert again.writes == 0
    assert len(h.sandbox.fusion.invoices) == posted
    st_rows = {r["id"]: r for r in h.table("invoices")}
    assert all(st_rows[i]["syncStatus"] == "Exported" for i in refused)


async def test_dry_run_posts_nothing_and_keeps_the_cursor(h: Harness) -> None:
    summary = await InvoiceFlow(h.ctx(dry_run=True)).run()
    assert summary.created == len(h.dataset.expected.invoices.eligible)
    assert h.sandbox.fusion.invoices == {}
    async with h.store.transaction() as tx:
        assert (await tx.cursors.get("default", FLOW)).token is None
        assert await tx.links.count("default") == 0


async def test_first_run_on_each_store(h_any_store: Harness) -> None:
    summary = await InvoiceFlow(h_any_store.ctx()).run()
    assert summary.created == len(h_any_store.dataset.expected.invoices.eligible)
    assert len(fusion_invoices(h_any_store)) == summary.created


async def test_a_posted_invoice_stays_unchanged_when_its_fusion_account_is_closed_later(
    h: Harness,
) -> None:
    """A re-read compares with what was posted; it does not validate a posted invoice again."""
    await InvoiceFlow(h.ctx()).run()
    ident, exp = next(iter(h.dataset.expected.invoices.eligible.items()))
    account = h.sandbox.fusion.account_by_number(exp.account_number)
    assert account is not None
    h.sandbox.fusion.update_customer_account(account.AccountId, Status="I")
    h.later()
    summary = await InvoiceFlow(h.ctx()).run(full=True)
    assert summary.attention == len(h.dataset.expected.invoices.attention)
    assert str(ident) in summary.ids[Outcome.UNCHANGED]


class FailingCreates:
    """Fusion answers 503 (nothing taken) to every create of one invoice while ``failing``."""

    def __init__(self, ctx: Any, victim: str) -> None:
        self.original = ctx.fusion.create_invoice
        self.victim = victim
        self.failing = True
        ctx.fusion.create_invoice = self

    async def __call__(self, payload: Any) -> Any:
        if self.failing and payload["CrossReference"] == self.victim:
            raise RetriableError("Fusion answered 503 before taking the request")
        return await self.original(payload)


async def test_a_transient_failure_is_parked_in_the_inbox_and_the_token_moves_on(
    h: Harness,
) -> None:
    """DESIGN §3.2 rule 1 and decision 0012: the export token moves past a record that failed
    transiently only once the record is parked in the inbox (same transaction); the inbox worker
    posts it after its delay, and the next polling run does not read the feed again."""
    ctx = h.ctx()
    victim = str(sorted(h.dataset.expected.invoices.eligible)[3])
    creates = FailingCreates(ctx, victim)
    first = await InvoiceFlow(ctx).run()
    assert first.failed == 1
    assert first.created == len(h.dataset.expected.invoices.eligible) - 1
    assert victim not in fusion_invoices(h)
    async with h.store.transaction() as tx:
        assert (await tx.cursors.get("default", FLOW)).token
        parked = await tx.inbox.list(connection="default")
    assert [(p.origin, p.entity_type, p.entity_id, p.state) for p in parked] == [
        ("retry", "invoice", victim, InboxState.PENDING)
    ]
    # not before its delay
    assert (await InboxWorker(ctx=h.ctx()).drain()).claimed == 0
    creates.failing = False
    h.later(DELAY_SECONDS)
    worker = InboxWorker(ctx=ctx)
    drained = await worker.drain()
    assert (drained.claimed, drained.completed) == (1, 1)
    assert set(fusion_invoices(h)) == {str(i) for i in h.dataset.expected.invoices.eligible}
    h.later()
    second = await InvoiceFlow(h.ctx()).run()
    assert (second.created, second.adopted, second.failed) == (0, 0, 0)


async def test_a_record_that_keeps_failing_goes_to_attention_through_its_parked_retries(
    h: Harness,
) -> None:
    """Decision 0012: parking does not retry for ever: the record's limit still applies (tries
    *and* time: 5 failures in a row over at least 6 hours), and the failure that reaches it opens
    attention ``retries_exhausted``; the inbox item then completes."""
    ctx = h.ctx()
    assert (ctx.max_attempts, ctx.retry_window) == (5, timedelta(hours=6))
    victim = str(sorted(h.dataset.expected.invoices.eligible)[0])
    FailingCreates(ctx, victim)
    await InvoiceFlow(ctx).run()  # failure 1
    worker = InboxWorker(ctx=ctx)

    async def exhausted() -> bool:
        async with h.store.transaction() as tx:
            return await tx.attention.find_active("default", FLOW, victim) is not None

    for _hour in range(1, 6):  # failures 2…6, an hour apart: 5 tries reached, not 6 hours
        h.clock.advance(worker.max_delay)
        await worker.drain()
        assert not await exhausted()
    h.clock.advance(worker.max_delay)  # 6 hours after the first failure
    await worker.drain()
    async with h.store.transaction() as tx:
        items = await tx.inbox.list(connection="default")
        item = await tx.attention.find_active("default", FLOW, victim)
    assert [i.state for i in items] == [InboxState.DONE]
    assert item is not None
    assert item.reason == "retries_exhausted"
    assert victim not in fusion_invoices(h)


async def test_a_parked_record_whose_fetch_keeps_failing_reaches_attention(h: Harness) -> None:
    """Decision 0012: the parked item is all that points at the record once the token moved on.
    If fetching it by id keeps failing (its attempt never runs, so its own limit never counts),
    the item's last failure opens attention ``retries_exhausted`` in the same transaction, with an
    audit row that ends the record's streak. Decision 0013: like the record's own limit it counts
    time as well as tries, from the item's first *failed try* (not from when it was received: an
    item that waited out an outage of the connector gets its full window): ``max_attempts`` tries
    at their backoff (10 s doubling, 42 minutes in all) are not enough before 6 hours."""
    ctx = h.ctx()
    victim = str(sorted(h.dataset.expected.invoices.eligible)[1])
    FailingCreates(ctx, victim)
    await InvoiceFlow(ctx).run()

    async def unreachable(_ids: Any) -> Any:
        raise RetriableError("ServiceTitan answered 503")

    ctx.servicetitan.invoices_by_ids = unreachable  # type: ignore[method-assign]
    worker = InboxWorker(ctx=ctx)
    h.clock.advance(7 * 3600)  # the connector was down for 7 hours before the first try
    first_try = ctx.clock.now()
    for tries in range(1, worker.max_attempts + 1):
        summary = await worker.drain()
        assert (summary.retried, summary.failed) == (1, 0)
        h.clock.advance(worker.backoff(tries))
    async with h.store.transaction() as tx:
        (pending,) = await tx.inbox.list(connection="default")
    assert pending.state is InboxState.PENDING
    assert pending.attempts == worker.max_attempts
    assert pending.first_failed_at == first_try
    for _hour in range(12):  # hourly tries from here on, until the window has passed
        if (await worker.drain()).failed:
            break
        assert ctx.clock.now() - first_try < ctx.retry_window
        h.clock.advance(worker.max_delay)
    assert ctx.clock.now() - first_try >= ctx.retry_window
    async with h.store.transaction() as tx:
        items = await tx.inbox.list(connection="default")
        item = await tx.attention.find_active("default", FLOW, victim)
        history = await tx.audit.history("default", FLOW, victim)
    assert [(i.origin, i.state) for i in items] == [("retry", InboxState.FAILED)]
    assert item is not None
    assert item.reason == "retries_exhausted"
    assert "ServiceTitan answered 503" in item.message
    assert [r.action for r in history][-1] is AuditAction.ATTENTION


async def lose_the_invoice_create(
    h: Harness, monkeypatch: pytest.MonkeyPatch, ident: int
) -> LateApply:
    """The invoice POST gets no answer and is not (yet) in Fusion: its intent stays pending."""
    late = LateApply(h.sandbox.fusion_app, suffix="/receivablesInvoices")
    monkeypatch.setattr(h.sandbox, "fusion_app", late)
    assert (await InvoiceFlow(h.ctx()).sync_ids([ident])).failed == 1
    assert late.held is not None
    async with h.store.transaction() as tx:
        assert len(await tx.writes.pending("default", FLOW)) == 1
    return late


async def test_an_invoice_voided_after_a_lost_create_that_committed_goes_to_attention(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN §3.2 rule 2: a pending intent is settled before the eligibility skip; Fusion holds
    the invoice (committed after the lookup), so the voided invoice is not skipped silently."""
    ident = min(h.dataset.expected.invoices.eligible)
    late = await lose_the_invoice_create(h, monkeypatch, ident)
    assert await late.commit() < 300
    h.later()
    h.sandbox.servicetitan.update_invoice(ident, active=False)
    await InvoiceFlow(h.ctx()).sync_ids([ident])
    assert (await open_attention(h, FLOW)).get(str(ident)) == "voided_after_posting"
    assert str(ident) in fusion_invoices(h)


async def test_an_invoice_voided_after_a_lost_create_that_never_committed_is_skipped(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not in Fusion: the pending intent is failed and the invoice skipped (DESIGN §3.2 rule 2)."""
    ident = min(h.dataset.expected.invoices.eligible)
    late = await lose_the_invoice_create(h, monkeypatch, ident)
    late.held = None
    h.later()
    h.sandbox.servicetitan.update_invoice(ident, active=False)
    summary = await InvoiceFlow(h.ctx()).sync_ids([ident])
    assert summary.skipped == 1
    assert str(ident) not in await open_attention(h, FLOW)
    assert str(ident) not in fusion_invoices(h)
    async with h.store.transaction() as tx:
        assert await tx.writes.pending("default", FLOW) == []


async def test_a_fusion_invoice_with_our_number_but_another_cross_reference_is_not_adopted(
    h: Harness,
) -> None:
    """DESIGN §3.2 rule 2: the business key finds a candidate; adopting it also needs its
    CrossReference to be our ServiceTitan invoice id, else it is someone else's invoice."""
    ident = min(h.dataset.expected.invoices.eligible)
    ctx = h.ctx()
    captured: list[dict[str, Any]] = []

    async def capture(payload: Any) -> Any:
        captured.append(json.loads(json.dumps(payload, default=float)))  # as sent on the wire
        raise RetriableError("Fusion answered 503 before taking the request")

    ctx.fusion.create_invoice = capture  # type: ignore[method-assign]
    assert (await InvoiceFlow(ctx).sync_ids([ident])).failed == 1
    (payload,) = captured
    foreign = post_invoice(h.sandbox.fusion, {**payload, "CrossReference": "424242"})
    h.later()
    summary = await InvoiceFlow(h.ctx()).sync_ids([ident])
    assert summary.adopted == 0
    assert summary.ids[Outcome.ATTENTION] == [str(ident)]
    assert (await open_attention(h, FLOW))[str(ident)] == "duplicate_transaction_number"
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, str(ident))
        assert item is not None
        assert payload["TransactionNumber"] in item.message
        assert "424242" in item.message
        assert await tx.links.get("default", "invoice", str(ident)) is None
    assert [
        i.CustomerTransactionId
        for i in h.sandbox.fusion.invoices.values()
        if i.TransactionNumber == payload["TransactionNumber"]
    ] == [foreign.CustomerTransactionId]
