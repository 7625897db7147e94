"""Parked retries: a record of the ServiceTitan export feeds that failed transiently is handed to
the inbox, so the feed's cursor can move past it (decision 0012).

The export feeds (F4 invoices, F5 payments) have one ``continueFrom`` token and no way to read
"from this record on": held at a failed record, a run rereads everything after it, and under a
steady rate of transient errors (an outage's tail, 5xx bursts) nearly every page holds one, so
each run reads the feed from the start and later records wait behind earlier ones. Instead, in
the transaction that stores the page's token, each failed record becomes an inbox item of origin
``retry`` (the same item a webhook event makes, so the inbox worker fetches the record by id and
syncs it through the same code, with its backoff and attempt limit). Nothing is lost: the item is
durable before the token passes the record, and a crash before that commit rereads the page.
Nothing is duplicated: the item is a hint, the record is fetched again, and its link or pending
write intent decides what is written, as for a duplicated webhook.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TypeVar

from ml_connector.store import Tx
from ml_connector.store.records import NewInboxEvent
from ml_connector.systems.servicetitan import models as st
from ml_connector.systems.servicetitan.pagination import ExportFeed

from .base import FlowContext, sync_each

#: the records of the export feeds
R = TypeVar("R", st.Invoice, st.Payment)

ORIGIN = "retry"
#: seconds a parked record waits before the inbox worker tries it (its backoff doubles from there)
DELAY_SECONDS = 10.0


def parked(ctx: FlowContext, entity: str, source_ids: Iterable[int | str]) -> list[NewInboxEvent]:
    """The inbox items of ``entity`` records that failed transiently in this run."""
    return [
        NewInboxEvent(
            connection=ctx.connection,
            origin=ORIGIN,
            # one item per record and run: a record that fails again in a later run is parked
            # again even when an earlier item of it is done
            event_key=f"{ORIGIN}:{entity}:{source_id}:{ctx.run_id}",
            event_type=f"{entity}.retry",
            entity_type=entity,
            entity_id=str(source_id),
            payload={"run_id": ctx.run_id, "why": "failed transiently while reading the feed"},
            delay_seconds=DELAY_SECONDS,
        )
        for source_id in source_ids
    ]


async def park(tx: Tx, ctx: FlowContext, entity: str, source_ids: Iterable[int | str]) -> int:
    """Store the parked items in ``tx`` (the transaction that moves the cursor); how many."""
    events = parked(ctx, entity, source_ids)
    if events:
        await tx.inbox.enqueue(events)
    return len(events)


async def sync_feed(
    ctx: FlowContext,
    *,
    flow: str,
    entity: str,
    open_feed: Callable[[str | datetime | None], ExportFeed[R]],
    sync: Callable[[R], Awaitable[bool]],
    after_batch: Callable[[], Awaitable[object]],
    since: datetime | None = None,
    full: bool = False,
) -> set[int]:
    """One pass over an export feed (F4, F5): from the stored token (``since`` a time, ``full``
    the start), each page's records synced side by side, then ``after_batch``, then the records
    that failed parked and the token stored in one transaction. The ids read, returned."""
    start: str | datetime | None
    if full:
        start = None
    elif since is not None:
        start = since
    else:
        async with ctx.store.transaction() as tx:
            start = (await tx.cursors.get(ctx.connection, flow)).token
    seen: set[int] = set()
    async with open_feed(start) as feed:
        async for batch in feed:
            seen.update(r.id for r in batch.items)
            passed = await sync_each(ctx, batch.items, sync, key=lambda r: r.id)
            await after_batch()
            if not ctx.dry_run:
                failed = [r.id for r, ok in zip(batch.items, passed, strict=True) if not ok]
                async with ctx.store.transaction() as tx:
                    await park(tx, ctx, entity, failed)
                    await tx.cursors.advance(ctx.connection, flow, token=batch.continue_from)
    return seen
