"""Page lists and export feeds: nothing skipped while rows change, prefetch, loop guards."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from st_client_kit import Sandbox, label

from ml_connector.http import PaginationLoopError, RetriesExhausted, RetryPolicy
from ml_connector.sandbox.servicetitan import InvoiceItemSeed, STSimConfig
from ml_connector.systems.servicetitan import models as st
from ml_connector.systems.servicetitan.pagination import ExportFeed, iter_list

EXPORT_INVOICES = label("GET", "accounting", "/export/invoices")


def add_invoices(box: Sandbox, n: int) -> list[int]:
    seed = box.seed
    return [
        box.state.add_invoice(
            customer_id=seed.customers[i % 2],
            business_unit_id=seed.business_units[0],
            items=[
                InvoiceItemSeed(sku_id=seed.materials[0], quantity=Decimal(1), price=Decimal(10))
            ],
        ).id
        for i in range(n)
    ]


async def test_invoice_feed_reads_everything_and_resumes(
    make_box: Callable[..., Sandbox],
) -> None:
    """servicetitan-api.md §5: inactive records included; ``hasMore: false`` still returns a
    ``continueFrom``; resuming from it yields only later changes."""
    box = make_box(STSimConfig(requests_per_second=100_000, export_page_size=3))
    add_invoices(box, 7)
    client = box.client()
    seen: list[int] = []
    last = ""
    async with client.invoice_feed() as feed:
        async for batch in feed:
            seen += [i.id for i in batch.items]
            last = batch.continue_from
            assert all(isinstance(i, st.Invoice) for i in batch.items)
    everything = {r.id for r in box.state.table("invoices")}
    assert set(seen) == everything
    assert box.seed.inactive_invoice in seen
    assert last

    box.clock.advance(60)
    box.state.update_invoice(box.seed.invoices[0], summary="edited")
    resumed: list[int] = []
    async with client.invoice_feed(last) as feed:
        async for batch in feed:
            resumed += [i.id for i in batch.items]
    assert resumed == [box.seed.invoices[0]]


async def test_payment_feed_from_a_datetime(box: Sandbox) -> None:
    """§5: ``from`` also takes a datetime (sent as ``YYYY-MM-DDTHH:MM:SSZ``)."""
    client = box.client()
    box.clock.advance(3600)
    cut = box.clock.now()
    box.clock.advance(5)
    box.state.update_payment(box.seed.payments[0], memo="late change")
    got: list[int] = []
    async with client.payment_feed(cut) as feed:
        async for batch in feed:
            got += [p.id for p in batch.items]
    assert got == [box.seed.payments[0]]
    old = [
        p.id async for b in client.payment_feed(datetime(2000, 1, 1, tzinfo=UTC)) for p in b.items
    ]
    assert set(old) >= set(box.seed.payments)


async def test_export_prefetches_the_next_page(make_box: Callable[..., Sandbox]) -> None:
    """DESIGN §4: the next export page is fetched while the caller processes the current one."""
    box = make_box(STSimConfig(requests_per_second=100_000, export_page_size=2))
    add_invoices(box, 6)
    client = box.client()
    await client.get_vendor(box.seed.vendors[0])  # token first, so only export calls count below
    feed = client.invoice_feed()
    async with feed:
        first = await feed.__anext__()
        assert first.has_more
        for _ in range(20):  # the caller "processes" page 1; the prefetch runs meanwhile
            await asyncio.sleep(0)
        assert await box.api_requests(EXPORT_INVOICES) == 2
        assert feed.prefetched == 1
        second = await feed.__anext__()
        assert {i.id for i in second.items}.isdisjoint({i.id for i in first.items})
    # closing with a prefetch in flight cancels it cleanly (no stray task)
    assert feed.prefetched == 2


async def test_export_rows_changed_while_paging_are_not_skipped(
    make_box: Callable[..., Sandbox],
) -> None:
    """§5 (modifiedOn order): rows inserted or updated between pages come later in the feed."""
    made: list[int] = []

    def hook(path: str, query: str) -> None:
        if not path.endswith("/export/invoices"):
            return
        box.clock.advance(1)
        made.extend(add_invoices(box, 1))
        box.state.update_invoice(box.seed.invoices[0], summary=f"edit {len(made)}")

    box = make_box(
        STSimConfig(requests_per_second=100_000, export_page_size=3), on_page_served=hook
    )
    add_invoices(box, 8)
    box.set_faults(insert_while_paging_every=1)
    client = box.client()
    seen: set[int] = set()
    pages = 0
    async with client.invoice_feed() as feed:
        async for batch in feed:
            seen |= {i.id for i in batch.items}
            pages += 1
            if pages == 4:
                box.set_faults()  # stop changing rows so the feed can catch up
    assert made
    assert seen == {r.id for r in box.state.table("invoices")}


async def test_page_list_rows_changed_while_paging_are_not_skipped(
    make_box: Callable[..., Sandbox],
) -> None:
    """DESIGN §3.2 rule 1: paging in id order, an update mid-read moves nothing across a page
    boundary and an insert lands at the end — every vendor present at the start is read."""
    touched: list[int] = []

    def hook(path: str, query: str) -> None:
        if not path.endswith("/vendors"):
            return
        box.clock.advance(1)
        ids = sorted(r.id for r in box.state.table("vendors"))
        victim = ids[len(touched) % len(ids)]
        box.state.update("vendors", victim, memo=f"edit {len(touched)}")
        touched.append(box.state.add_vendor(f"Inserted {len(touched)}").id)

    box = make_box(on_page_served=hook)
    for i in range(10):
        box.state.add_vendor(f"Vendor {i}")
    at_start = {r.id for r in box.state.table("vendors")}
    box.set_faults(insert_while_paging_every=1)
    client = box.client(page_size=3)
    seen = [v.id async for v in client.vendors_changed_since(None)]
    assert len(seen) == len(set(seen))
    assert at_start <= set(seen)
    assert touched


async def test_modified_order_paging_would_skip_rows(make_box: Callable[..., Sandbox]) -> None:
    """The control for the test above: paged in ``modifiedOn`` order with the same edits, a row
    moves to the end and the next one slips back across the page boundary, unseen."""

    def hook(path: str, query: str) -> None:
        if path.endswith("/vendors") and "page=1" in query:
            box.clock.advance(1)
            first = min(r.id for r in box.state.table("vendors"))
            box.state.update("vendors", first, memo="moved to the end")

    box = make_box(on_page_served=hook)
    for i in range(6):
        box.state.add_vendor(f"Vendor {i}")
    at_start = {r.id for r in box.state.table("vendors")}
    box.set_faults(insert_while_paging_every=1)
    client = box.client()
    seen = [
        v.id
        async for v in iter_list(
            client._session,
            "inventory",
            "vendors",
            st.Vendor,
            resource="vendors",
            params={"active": "Any", "sort": "+ModifiedOn"},
            page_size=3,
            sort_by_id=False,
        )
    ]
    assert not at_start <= set(seen)


async def test_repeated_continue_from_raises() -> None:
    """STYLE: an infinite loop is a bug, not a hang — a token seen twice raises."""
    tokens = iter(["A", "B", "A"])

    async def fetch(token: str) -> st.ExportPage:
        return st.ExportPage(
            hasMore=True, continueFrom=next(tokens), data=[{"id": 1, "createdOn": None}]
        )

    feed: ExportFeed[st.Invoice] = ExportFeed(fetch, st.Invoice, start=None, resource="export/x")
    async with feed:
        await feed.__anext__()
        await feed.__anext__()
        with pytest.raises(PaginationLoopError, match="returned twice"):
            await feed.__anext__()


async def test_server_handing_back_our_own_token_raises() -> None:
    async def fetch(token: str) -> st.ExportPage:
        return st.ExportPage(hasMore=True, continueFrom=token, data=[{"id": 2}])

    feed: ExportFeed[st.Invoice] = ExportFeed(fetch, st.Invoice, start="TOKEN", resource="export/x")
    async with feed:
        with pytest.raises(PaginationLoopError):
            await feed.__anext__()


async def test_has_more_without_rows_raises() -> None:
    async def fetch(token: str) -> st.ExportPage:
        return st.ExportPage(hasMore=True, continueFrom=token + "x", data=[])

    feed: ExportFeed[st.Invoice] = ExportFeed(fetch, st.Invoice, start=None, resource="export/x")
    async with feed:
        with pytest.raises(PaginationLoopError, match="no rows"):
            await feed.__anext__()


async def test_caught_up_page_without_token_keeps_the_last_one() -> None:
    """§5: ``continueFrom`` is required, but if a caught-up page lacked it, the feed hands back the
    token it resumed from — never "", which would restart the feed from the top."""

    async def fetch(token: str) -> st.ExportPage:
        return st.ExportPage(hasMore=False, continueFrom=None, data=[])

    feed: ExportFeed[st.Invoice] = ExportFeed(fetch, st.Invoice, start="T1", resource="export/x")
    async with feed:
        batches = [b async for b in feed]
    assert [(b.items, b.continue_from, b.has_more) for b in batches] == [([], "T1", False)]


async def test_a_failed_page_ends_the_feed(box: Sandbox) -> None:
    """A page that fails (retries exhausted) ends the feed; it is not silently restarted."""
    client = box.client(retry=RetryPolicy(max_attempts=2, max_total_seconds=60))
    await client.get_vendor(box.seed.vendors[0])
    box.set_faults(rate_5xx=1.0, statuses_5xx=[503])
    async with client.invoice_feed() as feed:
        with pytest.raises(RetriesExhausted):
            await feed.__anext__()
        box.set_faults()
        assert [b async for b in feed] == []
