"""F1's store cost (issue 9, B4): a page's links, match proposals and pending intents are read in
one transaction, so a created supplier takes two (its intent before the POST; link + intent +
audit after) and an unchanged one takes one; what the page read is checked again under the
intent's write lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from flow_kit import Harness
from ml_connector.flows.summary import Outcome
from ml_connector.flows.suppliers import FLOW, SupplierFlow
from ml_connector.mapping.suppliers import SUPPLIER_KEY
from ml_connector.matching.safety import REASON
from ml_connector.store.repos.matches import NewProposal
from ml_connector.store.states import AuditAction


def ours(h: Harness) -> set[str]:
    """The Fusion SupplierIds our vendors carry."""
    return {
        item["value"]
        for vendor in h.table("vendors")
        for item in vendor.get("externalData") or []
        if item["key"] == SUPPLIER_KEY
    }


@contextmanager
def counting_transactions(h: Harness) -> Iterator[list[str]]:
    began: list[str] = []
    engine = h.store.engine.sync_engine

    def on_begin(connection: Any) -> None:
        began.append("begin")

    event.listen(engine, "begin", on_begin)
    try:
        yield began
    finally:
        event.remove(engine, "begin", on_begin)


def counting_pages(flow: SupplierFlow) -> list[int]:
    pages: list[int] = []
    prefetch = flow._prefetch

    async def counted(page: list[Any]) -> None:
        pages.append(len(page))
        await prefetch(page)

    flow._prefetch = counted  # type: ignore[method-assign]
    return pages


async def test_a_created_supplier_takes_two_store_transactions_an_unchanged_one_one(
    h: Harness,
) -> None:
    flow = SupplierFlow(h.ctx())
    pages = counting_pages(flow)
    with counting_transactions(h) as began:
        first = await flow.run()
    assert first.created > 0
    # per page: its reads and its cursor; per record: two per create, one per skip or attention
    per_record = 2 * first.created + first.skipped + first.attention
    assert len(began) == per_record + 2 * len(pages) + 1  # + reading the cursor

    h.later()
    flow = SupplierFlow(h.ctx())
    pages = counting_pages(flow)
    with counting_transactions(h) as began:
        second = await flow.run(full=True)
    assert second.unchanged == first.created
    assert second.created == second.updated == 0
    assert len(began) == second.unchanged + second.skipped + second.attention + 2 * len(pages)


async def test_a_link_made_after_the_page_was_read_stops_the_create(h: Harness) -> None:
    """``match apply`` may link a supplier while its page is synced: the intent's transaction
    sees the link, and nothing is created (the next run updates the linked vendor)."""
    ctx = h.ctx()
    target = str(next(iter(h.dataset.expected.suppliers.eligible)))
    lookup = ctx.servicetitan.find_vendors_by_external_data

    async def lookup_then_link(*args: Any) -> Any:
        found = await lookup(*args)
        if target in args[2]:  # the page's batched lookup runs after its store reads
            async with h.store.transaction() as tx:
                await tx.links.upsert(
                    connection="default",
                    entity="supplier",
                    source_system="fusion",
                    source_id=target,
                    target_system="servicetitan",
                    target_id="424242",
                    version_hash=None,
                )
        return found

    ctx.servicetitan.find_vendors_by_external_data = lookup_then_link  # type: ignore[method-assign]
    summary = await SupplierFlow(ctx).run()
    assert target not in ours(h)
    assert summary.failed == 1
    assert target in summary.ids[Outcome.FAILED]
    async with h.store.transaction() as tx:
        assert await tx.writes.pending("default", FLOW) == []
        (row,) = await tx.audit.history("default", FLOW, target)
    assert row.action is AuditAction.FAIL
    assert "was linked while its page was synced" in (row.error_message or "")


async def test_a_proposal_made_after_the_page_was_read_holds_the_create(h: Harness) -> None:
    ctx = h.ctx()
    target = str(next(iter(h.dataset.expected.suppliers.eligible)))
    lookup = ctx.servicetitan.find_vendors_by_external_data

    async def lookup_then_propose(*args: Any) -> Any:
        found = await lookup(*args)
        if target in args[2]:
            async with h.store.transaction() as tx:
                await tx.matches.save(
                    NewProposal(
                        connection="default",
                        entity="supplier",
                        source_system="fusion",
                        source_id=target,
                        source_label="the supplier",
                        target_system="servicetitan",
                        target_id="424242",
                        target_label="a vendor typed by hand",
                        score=0.99,
                        kind="similar",
                        ambiguous=False,
                        why_ambiguous=None,
                        evidence={},
                        candidates=[{"target_id": "424242", "score": 0.99, "agreed": ["name"]}],
                    )
                )
        return found

    ctx.servicetitan.find_vendors_by_external_data = lookup_then_propose  # type: ignore[method-assign]
    summary = await SupplierFlow(ctx).run()
    assert target not in ours(h)
    assert target in summary.ids[Outcome.ATTENTION]
    async with h.store.transaction() as tx:
        items = await tx.attention.list(connection="default", reason=REASON)
        assert [i.source_id for i in items] == [target]
        assert await tx.writes.pending("default", FLOW) == []


async def test_an_intent_recorded_after_the_page_was_read_stops_the_create(h: Harness) -> None:
    """DESIGN §3.2 rule 2: another writer (a run that outlived its lease) records a create of a
    supplier after this page's intents were read; the intent's transaction sees it, and nothing
    is created twice (the next run looks the vendor up first)."""
    ctx = h.ctx()
    target = str(next(iter(h.dataset.expected.suppliers.eligible)))
    lookup = ctx.servicetitan.find_vendors_by_external_data

    async def lookup_then_intent(*args: Any) -> Any:
        found = await lookup(*args)
        if target in args[2]:  # the page's batched lookup runs after its store reads
            async with h.store.transaction() as tx:
                await tx.writes.record_intent(
                    connection="default",
                    flow=FLOW,
                    target_system="servicetitan",
                    operation="create",
                    business_key=f"supplier:{target}",
                    payload_hash="someone-else",
                )
        return found

    ctx.servicetitan.find_vendors_by_external_data = lookup_then_intent  # type: ignore[method-assign]
    summary = await SupplierFlow(ctx).run()
    assert target not in ours(h)
    assert target in summary.ids[Outcome.FAILED]
    async with h.store.transaction() as tx:
        (row,) = await tx.audit.history("default", FLOW, target)
    assert "another writer recorded a create" in (row.error_message or "")
