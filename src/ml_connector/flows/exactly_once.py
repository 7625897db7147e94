"""Create a record on the target exactly once despite retries, lost answers and crashes.

DESIGN §3.2 rule 2, in order:

1. Before creating, look the record up by its business key (ServiceTitan ``externalData``, or the
   PO ``memo`` in a ``createdOnOrAfter`` window) and adopt it if found. A pending intent from an
   earlier attempt widens the window back to when that attempt started.
2. Record the intent in its own committed transaction **before** the call, so a crash after the
   target committed still leaves a trace that makes the next run look before writing.
3. On ``WriteMaybeCommitted`` (the answer was lost) look up again: adopt, or leave the intent
   pending and raise :class:`~ml_connector.errors.RetriableError` — the record is read again next
   run, and the pending intent triggers the lookup first.
4. After success the caller, in ONE transaction, completes the intents (:func:`finish`), upserts
   the link and appends the audit row.

A flow that reads a page's pending intents in one go calls :func:`create_after` with them (and a
guard that re-checks its earlier reads inside the intent's transaction); :func:`create_once` reads
them itself first. Either way the intent is committed before the create is sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ml_connector.errors import FatalError, NeedsAttentionError, RetriableError
from ml_connector.http.errors import WriteMaybeCommitted
from ml_connector.store import Tx
from ml_connector.store.records import WriteIntent

from .base import FlowContext

#: ``lookup(since)``: the target id of our record if it exists; ``since`` is when the oldest
#: pending intent was recorded (None when there is none).
Lookup = Callable[[datetime | None], Awaitable[str | None]]
Create = Callable[[], Awaitable[str]]
#: ``guard(tx)``: runs in the intent's transaction before it is recorded; raises to stop the create
Guard = Callable[[Tx], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Created:
    target_id: str
    adopted: bool
    intent_ids: tuple[int, ...]
    #: an adopted record was written from this very payload (every intent carries its hash), so
    #: it needs no update; otherwise it may hold an older version and the caller updates it
    current: bool = True


async def create_once(
    ctx: FlowContext,
    *,
    flow: str,
    target_system: str,
    business_key: str,
    payload_hash: str,
    lookup: Lookup,
    create: Create,
) -> Created:
    """Find-or-create; never a blind second POST. The caller calls :func:`finish` with the result
    in the transaction that writes the link."""
    async with ctx.store.transaction() as tx:
        pending = await tx.writes.pending(ctx.connection, flow, business_key)
    return await create_after(
        ctx,
        pending,
        flow=flow,
        target_system=target_system,
        business_key=business_key,
        payload_hash=payload_hash,
        lookup=lookup,
        create=create,
    )


async def create_after(
    ctx: FlowContext,
    pending: Sequence[WriteIntent],
    *,
    flow: str,
    target_system: str,
    business_key: str,
    payload_hash: str,
    lookup: Lookup,
    create: Create,
    guard: Guard | None = None,
) -> Created:
    """:func:`create_once` with ``business_key``'s pending intents read already (a page's batched
    read, :meth:`~ml_connector.store.repos.writes.WriteRepo.pending_for`): one store transaction
    fewer per record. ``guard`` runs first in the transaction that records the intent and may
    raise to stop the create: the place to re-check, under the write lock, what the caller read
    earlier (a link, a match hold)."""
    earlier = tuple(i.id for i in pending)
    since = min((i.created_at for i in pending), default=None)
    current = bool(pending) and all(i.payload_hash == payload_hash for i in pending)
    found = await lookup(since)
    if found is not None:
        return Created(target_id=found, adopted=True, intent_ids=earlier, current=current)
    async with ctx.store.transaction() as tx:
        if guard is not None:
            await guard(tx)
        # under the write lock: an intent recorded by another writer since ``pending`` was read
        # means a create of the same record may be in flight or done (and our lookup, made with
        # the older list, may not see it yet): not ours to create now
        now_pending = {i.id for i in await tx.writes.pending(ctx.connection, flow, business_key)}
        if now_pending - set(earlier):
            raise RetriableError(
                f"another writer recorded a create of {business_key} since its page was read; "
                "the next run looks it up first"
            )
        intent = await tx.writes.record_intent(
            connection=ctx.connection,
            flow=flow,
            target_system=target_system,
            operation="create",
            business_key=business_key,
            payload_hash=payload_hash,
        )
    try:
        target_id = await create()
    except WriteMaybeCommitted as exc:
        found = await lookup(since or intent.created_at)
        if found is not None:
            return Created(target_id=found, adopted=True, intent_ids=(*earlier, intent.id))
        raise RetriableError(
            f"the create of {business_key} may have committed but is not found yet; "
            "the intent stays pending and the next run looks it up first"
        ) from exc
    except (FatalError, NeedsAttentionError) as exc:
        # a definite refusal: nothing was written, so this intent is closed
        async with ctx.store.transaction() as tx:
            await tx.writes.fail(intent.id, error=str(exc)[:2000])
        raise
    return Created(target_id=target_id, adopted=False, intent_ids=(*earlier, intent.id))


async def finish(tx: Tx, created: Created) -> None:
    """Close the intents of a create (done, or adopted when found on the target)."""
    for intent_id in created.intent_ids:
        if created.adopted:
            await tx.writes.adopt(intent_id, target_id=created.target_id)
        else:
            await tx.writes.complete(intent_id, target_id=created.target_id)
