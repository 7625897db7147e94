"""What every flow shares: its context, the read window and cursor rule, and one record's attempt.

A flow is thin (DESIGN §3): read a page of changes, and for each record map → validate → write →
record. :func:`attempt` wraps one record: it turns the error tree of ``ml_connector.errors`` into
an audit row, an attention item or a retry next run, so flows only say what success looks like.

Cursor rule (DESIGN §3.2 rule 1): the window is ``[watermark − overlap, run start)``; the cursor
moves to the last (``LastUpdateDate``, id) of a page in the transaction after that page's records
are durable, never backwards, and never past a record that failed transiently (it is read again
next run; records already written are then skipped as unchanged by their version hash).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from ml_connector.clock import Clock, ensure_aware
from ml_connector.errors import MaybeCommittedError, NeedsAttentionError, RetriableError
from ml_connector.mapping.config import MappingConfig
from ml_connector.mapping.decisions import Decisions
from ml_connector.settings import ConnectionSettings
from ml_connector.store import Store, Tx
from ml_connector.store.records import AuditEntry
from ml_connector.store.states import AuditAction
from ml_connector.systems.fusion import errors as fusion_errors
from ml_connector.systems.fusion.client import FusionClient
from ml_connector.systems.servicetitan import errors as st_errors
from ml_connector.systems.servicetitan import models as st
from ml_connector.systems.servicetitan.client import STClient

from .summary import Outcome, RunSummary

#: Where a first run (no cursor) or ``--full`` starts reading.
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_OVERLAP = timedelta(minutes=5)
_TIEBREAK_WIDTH = 20  # ids are zero-padded so the store's string comparison orders them as numbers

Progress = Callable[[str, int], None]
#: The target refused this one record (validation, conflict, gone): a person fixes it. Other fatal
#: errors (credentials, scopes, privileges) concern every record, so they end the run instead.
RECORD_REFUSALS = (
    st_errors.STRequestError,
    st_errors.NotFound,
    fusion_errors.FusionValidationError,
    fusion_errors.NotFound,
)
R = TypeVar("R")


@dataclass(kw_only=True)
class FlowContext:
    """Everything one run of a flow needs; built by the CLI, the scheduler or a test."""

    connection: str
    settings: ConnectionSettings
    application_guid: str
    store: Store
    clock: Clock
    fusion: FusionClient
    servicetitan: STClient
    dry_run: bool = False
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    progress: Progress | None = None
    overlap: timedelta = DEFAULT_OVERLAP
    #: transient failures in a row of one record before it goes to attention …
    max_attempts: int = 5
    #: … and how long since the first of them: both must be reached (under a steady rate of
    #: faults a few quick failures are bad luck, not an outage; settings ``retries``)
    retry_window: timedelta = timedelta(hours=6)
    #: records of one page in flight at once: ServiceTitan at ~150 ms a request needs about 8
    #: to use its 50 requests/s (the client's limiter keeps the rate)
    concurrency: int = 8

    @property
    def mapping(self) -> MappingConfig:
        return self.settings.mapping

    def today(self) -> date:
        """Business dates (inactive dates, need-by dates) are in the connection's time zone."""
        return self.clock.now().astimezone(ZoneInfo(self.settings.timezone)).date()

    def tick(self, flow: str, n: int = 1) -> None:
        if self.progress is not None:
            self.progress(flow, n)


@dataclass(frozen=True, kw_only=True)
class Window:
    since: datetime
    until: datetime


async def read_window(
    ctx: FlowContext, flow: str, *, since: datetime | None = None, full: bool = False
) -> Window:
    """``[stored watermark − overlap, now)``; ``since``/``full`` read further back (a backfill
    re-reads, and unchanged records are skipped by their version hash)."""
    until = ctx.clock.now()
    if full:
        return Window(since=BEGINNING, until=until)
    if since is not None:
        return Window(since=ensure_aware(since), until=until)
    async with ctx.store.transaction() as tx:
        cursor = await tx.cursors.get(ctx.connection, flow)
    lo = cursor.watermark - ctx.overlap if cursor.watermark is not None else BEGINNING
    return Window(since=min(lo, until), until=until)


async def advance_cursor(tx: Tx, ctx: FlowContext, flow: str, at: datetime, ident: int) -> bool:
    """Move ``flow``'s cursor to (``at``, ``ident``) if that is ahead of it (take the max); a dry
    run never moves it. Call inside the transaction that makes the page durable."""
    if ctx.dry_run:
        return False
    at = ensure_aware(at)
    tiebreak = str(ident).zfill(_TIEBREAK_WIDTH)
    current = await tx.cursors.get(ctx.connection, flow)
    if current.watermark is not None and (at, tiebreak) <= (
        ensure_aware(current.watermark),
        current.tiebreak or "",
    ):
        return False
    await tx.cursors.advance(ctx.connection, flow, watermark=at, tiebreak=tiebreak)
    return True


async def sync_each(
    ctx: FlowContext,
    items: Sequence[R],
    sync: Callable[[R], Awaitable[bool]],
    key: Callable[[R], Hashable],
) -> list[bool]:
    """Sync ``items`` ``ctx.concurrency`` at a time and return each one's result, in order.

    Items with the same ``key`` (one record delivered twice in a batch) run one after the other,
    never side by side: two concurrent attempts at one record could both find no link and no
    pending intent, and both create. A TaskGroup: if one record crashes the run, its siblings are
    cancelled (their pending write intents make the next run look them up before writing), and the
    run ends with the record's own error.
    """
    limit = asyncio.Semaphore(max(1, ctx.concurrency))
    results: list[bool] = [False] * len(items)
    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(key(item), []).append(index)

    async def one_key(indexes: list[int]) -> None:
        for index in indexes:
            async with limit:
                results[index] = await sync(items[index])

    try:
        async with asyncio.TaskGroup() as group:
            for indexes in groups.values():
                group.create_task(one_key(indexes))
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return results


async def run_pages(
    ctx: FlowContext,
    flow: str,
    pages: AsyncIterator[list[R]],
    sync: Callable[[R], Awaitable[bool]],
    key: Callable[[R], tuple[datetime, int]],
    prepare: Callable[[list[R]], Awaitable[None]] | None = None,
) -> None:
    """Sync every record of every page (:func:`sync_each`); after each page, move the cursor to
    its last record — unless a record failed transiently, which holds the cursor before it for the
    rest of the run. ``prepare`` runs once per page first (batched lookups)."""
    blocked = False
    async for page in pages:
        if prepare is not None:
            await prepare(page)
        results = await sync_each(ctx, page, sync, key=lambda item: key(item)[1])
        last: R | None = None
        for item, passed in zip(page, results, strict=True):
            blocked = blocked or not passed
            if not blocked:
                last = item
        if last is not None:
            at, ident = key(last)
            async with ctx.store.transaction() as tx:
                await advance_cursor(tx, ctx, flow, at, ident)


@dataclass(kw_only=True)
class Attempt:
    """One record's attempt: what the flow fills in while it works, read by :func:`attempt`."""

    flow: str
    source_system: str
    source_id: str
    source_version: str | None
    target_system: str
    started_at: datetime
    decisions: Decisions = field(default_factory=Decisions)
    source_record: Any = None

    def audit(
        self,
        ctx: FlowContext,
        action: AuditAction,
        *,
        target_id: str | None = None,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        error: BaseException | None = None,
        attempt: int = 1,
    ) -> AuditEntry:
        return AuditEntry(
            connection=ctx.connection,
            flow=self.flow,
            source_system=self.source_system,
            source_id=self.source_id,
            source_version=self.source_version,
            target_system=self.target_system,
            target_id=target_id,
            action=action,
            started_at=self.started_at,
            ended_at=ctx.clock.now(),
            attempt=attempt,
            run_id=ctx.run_id,
            dry_run=ctx.dry_run,
            decisions=self.decisions.as_list(),
            request_summary=request,
            response_summary=response,
            error_class=type(error).__name__ if error is not None else None,
            error_message=str(error)[:2000] if error is not None else None,
        )


async def attempt(
    ctx: FlowContext,
    summary: RunSummary,
    record: Attempt,
    work: Callable[[Attempt], Awaitable[Outcome]],
) -> bool:
    """Run ``work`` for one record and record how it ended; True if the cursor may pass it.

    ``work`` writes its own success (link, audit, intents — in one transaction). Here: a record
    that needs a person → attention + audit; a transient failure → audit ``fail`` and read again
    next run, until it has failed ``max_attempts`` times in a row over at least ``retry_window``
    → attention ``retries_exhausted``; a refusal retrying cannot fix → attention with
    the target's message. Anything else (a bad credential, a bug, a crash) ends the run (the
    pending write intent makes the next run look the record up before writing again).
    """
    summary.read += 1
    ctx.tick(record.flow)
    try:
        outcome = await work(record)
    except NeedsAttentionError as exc:
        await _to_attention(ctx, record, exc.reason, exc.message, exc.suggestion, exc)
        summary.count(Outcome.ATTENTION, record.source_id)
        return True
    except (RetriableError, MaybeCommittedError) as exc:
        earlier, since = await _failures(ctx, record)
        failures = earlier + 1
        now = ctx.clock.now()
        first = since or now
        if failures >= ctx.max_attempts and now - first >= ctx.retry_window:
            await _to_attention(
                ctx,
                record,
                "retries_exhausted",
                f"failed {failures} times in a row since {first.isoformat(timespec='seconds')}, "
                f"last: {exc}",
                "check the target system's availability, then replay",
                exc,
            )
            summary.count(Outcome.ATTENTION, record.source_id)
            return True
        async with ctx.store.transaction() as tx:
            await tx.audit.append(record.audit(ctx, AuditAction.FAIL, error=exc, attempt=failures))
        summary.count(Outcome.FAILED, record.source_id)
        return False
    except RECORD_REFUSALS as exc:
        await _to_attention(
            ctx,
            record,
            "target_refused",
            str(exc),
            "fix the record or the mapping so the target accepts it, then replay",
            exc,
        )
        summary.count(Outcome.ATTENTION, record.source_id)
        return True
    summary.count(outcome, record.source_id)
    return True


async def _failures(ctx: FlowContext, record: Attempt) -> tuple[int, datetime | None]:
    """Consecutive ``fail`` rows of this record since its last other outcome, and when the first
    of them ended (None when there are none)."""
    async with ctx.store.transaction() as tx:
        history = await tx.audit.history(ctx.connection, record.flow, record.source_id)
    count, first = 0, None
    for row in sorted(history, key=lambda r: r.id, reverse=True):
        if row.dry_run:
            continue
        if row.action != AuditAction.FAIL:
            break
        count, first = count + 1, ensure_aware(row.ended_at)
    return count, first


async def _to_attention(
    ctx: FlowContext,
    record: Attempt,
    reason: str,
    message: str,
    suggestion: str,
    error: BaseException,
) -> None:
    async with ctx.store.transaction() as tx:
        if not ctx.dry_run:
            await tx.attention.open(
                connection=ctx.connection,
                flow=record.flow,
                source_system=record.source_system,
                source_id=record.source_id,
                reason=reason,
                message=message,
                suggestion=suggestion,
                source_record=record.source_record,
                decisions=record.decisions.as_list(),
            )
        await tx.audit.append(
            record.audit(ctx, AuditAction.ATTENTION, error=error, response={"reason": reason})
        )


async def succeed(
    tx: Tx,
    ctx: FlowContext,
    record: Attempt,
    action: AuditAction,
    *,
    target_id: str | None,
    request: dict[str, Any] | None = None,
) -> None:
    """The tail of every successful write: audit the record and close its attention item."""
    await tx.audit.append(record.audit(ctx, action, target_id=target_id, request=request))
    if not ctx.dry_run and action is not AuditAction.SKIP:
        await tx.attention.resolve_for(ctx.connection, record.flow, record.source_id, by="sync")


def receivable_attempt(flow: str, record: st.Invoice | st.Payment, started_at: datetime) -> Attempt:
    """The attempt of one ServiceTitan invoice or payment on its way to Fusion receivables."""
    return Attempt(
        flow=flow,
        source_system="servicetitan",
        source_id=str(record.id),
        source_version=record.modifiedOn.isoformat() if record.modifiedOn else None,
        target_system="fusion",
        started_at=started_at,
        source_record={
            "referenceNumber": record.referenceNumber,
            "total": str(record.total),
            "customer": record.customer.id if record.customer else None,
        },
    )
