"""``ml-connector match``: read both sides through the clients, propose links, store them.

The target side is read first into an :class:`~.engine.Index` of compact keys; the source side is
then streamed page by page, each record matched and its proposal written with the page (one
transaction per page), so memory holds the index and one page, never whole payloads. After the
stream: targets chosen by more than one source make those proposals ambiguous; with
``auto_accept_exact`` the unambiguous exact proposals are accepted; accepted proposals are applied
(:func:`apply_accepted`). Source records that already have a link are not matched again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import select

from ml_connector.flows.base import BEGINNING, FlowContext
from ml_connector.mapping.suppliers import SUPPLIER_KEY
from ml_connector.store import Store, Tx
from ml_connector.store.records import AuditEntry
from ml_connector.store.repos.matches import ACCEPTED, PROPOSED, MatchProposal, NewProposal
from ml_connector.store.schema import audit, links
from ml_connector.store.states import AuditAction
from ml_connector.systems.servicetitan.payloads import ExternalDataInput

from . import read, review
from .engine import Index, Matcher, Settings
from .model import Entity, Keys, Kind, Proposal

T = TypeVar("T")

FLOW = "match"
#: who auto-accepted a proposal, in ``decided_by`` and the audit trail
AUTO = "auto-accept exact"
#: an exact proposal is accepted automatically only if its names and addresses are not unlike
AUTO_MIN_SIMILARITY = 0.5
PAGE = 500
#: Fusion supplier windows read at once (the client's concurrency cap still applies)
SUPPLIER_WINDOWS = 4


@dataclass(kw_only=True)
class MatchReport:
    entity: Entity
    targets: int = 0
    sources: int = 0
    already_linked: int = 0
    compared: int = 0
    proposed: int = 0
    exact: int = 0
    ambiguous: int = 0
    kept_decided: int = 0
    auto_accepted: int = 0
    applied: int = 0
    apply_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def settings_of(ctx: FlowContext) -> Settings:
    m = ctx.mapping.matching
    return Settings(threshold=m.threshold, margin=m.margin)


# --- reading both sides ------------------------------------------------------------------------


class ReadAhead(Generic[T]):
    """Reads an async iterator in a task of its own, ahead of the consumer, into a queue of at
    most ``depth`` items (0: no limit). ``match`` reads the source side this way while the
    target side is still being indexed: both systems are read at once, and what waits is the
    sources' compact keys, never their payloads."""

    def __init__(self, rows: AsyncIterator[T], depth: int = 2) -> None:
        self._rows = rows
        self._queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue(maxsize=depth)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> ReadAhead[T]:
        if self._task is None:
            self._task = asyncio.create_task(self._pump())
        return self

    async def _pump(self) -> None:
        try:
            async for row in self._rows:
                await self._queue.put((True, row))
        except Exception as exc:
            await self._queue.put((False, exc))
            return
        await self._queue.put((False, None))

    async def __aiter__(self) -> AsyncIterator[T]:
        self.start()
        while True:
            more, item = await self._queue.get()
            if not more:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def _batched(rows: AsyncIterator[Any], size: int = PAGE) -> AsyncIterator[list[Any]]:
    batch: list[Any] = []
    async for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _targets(ctx: FlowContext, entity: Entity) -> AsyncIterator[Keys]:
    if entity is Entity.VENDORS:
        async for vendor in ctx.servicetitan.vendors_changed_since(None):
            yield read.vendor_keys(vendor)
    elif entity is Entity.CUSTOMERS:
        async for sites in ctx.fusion.customer_site_pages():
            for site in sites:
                keys = read.site_keys(site)
                if keys is not None:
                    yield keys
    else:
        async for sku in ctx.servicetitan.skus():
            yield read.sku_keys(sku, ctx.mapping)


async def _sources(ctx: FlowContext, entity: Entity) -> AsyncIterator[list[Keys]]:
    if entity is Entity.VENDORS:
        today = ctx.today()
        until = ctx.clock.now()
        earliest = await _earliest_supplier(ctx, until)
        if earliest is None:
            return
        # disjoint LastUpdateDate windows side by side (DESIGN §4): page latency overlaps
        windows = ctx.fusion.read_windows("suppliers", earliest, until, windows=SUPPLIER_WINDOWS)
        async for part in windows:
            yield [read.supplier_keys(s, today) for s in part.records]
    elif entity is Entity.CUSTOMERS:
        field_name = read.customer_field(ctx.mapping)
        async for customers in _batched(ctx.servicetitan.customers()):
            yield [read.customer_keys(c, field_name) for c in customers if c.mergedToId is None]
    else:
        seen: set[str] = set()
        async for orders in ctx.fusion.purchase_order_pages(BEGINNING, until=ctx.clock.now()):
            page: list[Keys] = []
            for order in orders:
                for line in order.lines:
                    if line.Item and line.Item not in seen:
                        seen.add(line.Item)
                        page.append(read.item_keys(line.Item, line.Description, ctx.mapping))
            yield page


async def _earliest_supplier(ctx: FlowContext, until: datetime) -> datetime | None:
    """The oldest ``LastUpdateDate`` (one page read), where the windows start."""
    pages = ctx.fusion.supplier_pages(BEGINNING, until=until)
    try:
        async for page in pages:
            return page[0].LastUpdateDate if page else None
    finally:
        if isinstance(pages, AsyncGenerator):
            await pages.aclose()
    return None


async def _linked(tx: Tx, connection: str, entity: Entity, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = await tx.connection.execute(
        select(links.c.source_id).where(
            links.c.connection == connection,
            links.c.entity == entity.value,
            links.c.source_id.in_(ids),
        )
    )
    return {str(r[0]) for r in rows}


# --- storing -----------------------------------------------------------------------------------


def _new(ctx: FlowContext, p: Proposal) -> NewProposal:
    source_system, target_system = p.entity.systems
    return NewProposal(
        connection=ctx.connection,
        entity=p.entity.value,
        source_system=source_system,
        source_id=p.source_id,
        source_label=p.source_label,
        target_system=target_system,
        target_id=p.best.target_id,
        target_label=p.best.target_label,
        score=round(p.best.score, 4),
        kind=p.best.kind.value,
        ambiguous=p.ambiguous,
        why_ambiguous=p.why_ambiguous or None,
        evidence={**p.best.evidence(), "similarity": round(p.best.similarity, 4)},
        candidates=[c.brief() for c in p.candidates],
    )


def audit_entry(
    ctx: FlowContext,
    proposal: NewProposal | MatchProposal,
    action: AuditAction,
    *,
    note: str,
    by: str,
    error: str | None = None,
) -> AuditEntry:
    now = ctx.clock.now()
    return AuditEntry(
        connection=ctx.connection,
        flow=FLOW,
        run_id=ctx.run_id,
        source_system=proposal.source_system,
        source_id=proposal.source_id,
        target_system=proposal.target_system,
        target_id=proposal.target_id,
        action=action,
        started_at=now,
        ended_at=now,
        decisions=[
            {
                "rule": f"match.{proposal.entity}",
                "detail": note,
                "by": by,
                "score": proposal.score,
                "kind": proposal.kind,
                "evidence": proposal.evidence,
            }
        ],
        error_message=error,
    )


async def _save_page(ctx: FlowContext, proposals: list[Proposal], report: MatchReport) -> None:
    if not proposals:
        return
    async with ctx.store.transaction() as tx:
        news = [_new(ctx, p) for p in proposals]
        outcome = await tx.matches.save_many(news)
        entries: list[AuditEntry] = []
        for p, new in zip(proposals, news, strict=True):
            what = outcome[p.source_id]
            if what in ("new", "refreshed"):
                report.proposed += 1
                report.exact += p.best.kind is Kind.EXACT
                if what == "new":
                    entries.append(
                        audit_entry(ctx, new, AuditAction.PROPOSE, note="proposed", by=FLOW)
                    )
            else:
                report.kept_decided += 1
        if (
            entries
        ):  # plain rows: AuditRepo.append_many deep-copies each entry (a third of the time)
            await tx.connection.execute(audit.insert(), [_audit_row(e) for e in entries])


def _audit_row(entry: AuditEntry) -> dict[str, Any]:
    row = {f.name: getattr(entry, f.name) for f in fields(entry)}
    row["action"] = entry.action.value
    return row


# --- the run -----------------------------------------------------------------------------------


async def match_entity(
    ctx: FlowContext,
    entity: Entity,
    *,
    auto_accept_exact: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> MatchReport:
    """Propose links for ``entity``; store them; optionally accept the unambiguous exact ones."""
    started = time.monotonic()
    report = MatchReport(entity=entity)
    index = Index()
    sources = ReadAhead(_sources(ctx, entity), depth=0).start()
    try:
        targets = ReadAhead(_targets(ctx, entity), depth=PAGE)
        try:
            async for keys in targets:
                index.add(keys)
        finally:
            await targets.aclose()
        report.targets = len(index)
        await _match_sources(ctx, entity, index, sources, report, progress)
    finally:
        await sources.aclose()
    report.ambiguous += await _crowded_targets(ctx, entity)
    if auto_accept_exact:
        report.auto_accepted = await _auto_accept(ctx, entity)
    applied, errors = await apply_accepted(ctx, entity)
    report.applied, report.apply_errors = applied, errors
    report.seconds = time.monotonic() - started
    return report


async def _match_sources(
    ctx: FlowContext,
    entity: Entity,
    index: Index,
    sources: ReadAhead[list[Keys]],
    report: MatchReport,
    progress: Callable[[str, int], None] | None,
) -> None:
    matcher = Matcher(entity, index, settings_of(ctx))
    async for page in sources:
        report.sources += len(page)
        async with ctx.store.transaction() as tx:
            linked = await _linked(tx, ctx.connection, entity, [k.id for k in page])
        report.already_linked += len(linked)
        proposals = [p for k in page if k.id not in linked and (p := matcher.match(k)) is not None]
        await _save_page(ctx, proposals, report)
        if progress is not None:
            progress(entity.label, len(page))
        report.compared = matcher.compared


async def proposal_pages(
    store: Store, connection: str, entity: Entity, states: tuple[str, ...]
) -> AsyncIterator[list[MatchProposal]]:
    """Stored proposals of one entity in these states, page by page in id order."""
    after = 0
    while True:
        async with store.transaction() as tx:
            page = await tx.matches.page(
                connection, entity=entity.value, states=states, after_id=after, limit=PAGE
            )
        if not page:
            return
        after = page[-1].id
        yield page


async def _crowded_targets(ctx: FlowContext, entity: Entity) -> int:
    """Targets more than one source chose: none of those proposals can be accepted blindly.
    Returns how many proposals this made ambiguous."""
    async with ctx.store.transaction() as tx:
        shared = await tx.matches.shared_targets(ctx.connection, entity.value)
        for target, ids in shared.items():
            await tx.matches.mark_ambiguous(
                ids, f"{len(ids)} source records chose the same target {target}"
            )
    return sum(len(ids) for ids in shared.values())


def _auto_acceptable(p: MatchProposal) -> bool:
    """Exact, unambiguous, and not contradicted: an identifier on a record whose name is unlike
    (say a number that happens to be in a memo) is left for a person."""
    if p.kind != Kind.EXACT.value or p.ambiguous:
        return False
    name_differs = "name" in (p.evidence.get("differed") or [])
    return not name_differs or float(p.evidence.get("similarity", 0.0)) >= AUTO_MIN_SIMILARITY


async def _auto_accept(ctx: FlowContext, entity: Entity) -> int:
    accepted = 0
    async for page in proposal_pages(ctx.store, ctx.connection, entity, (PROPOSED,)):
        chosen = [p for p in page if _auto_acceptable(p)]
        if not chosen:
            continue
        async with ctx.store.transaction() as tx:
            for p in chosen:
                decided = await tx.matches.decide(p.id, ACCEPTED, by=AUTO)
                await tx.audit.append(
                    audit_entry(
                        ctx, decided, AuditAction.ACCEPT, note="unambiguous exact key", by=AUTO
                    )
                )
                accepted += 1
    return accepted


# --- applying accepted proposals ---------------------------------------------------------------


async def _conflict(tx: Tx, ctx: FlowContext, p: MatchProposal) -> str | None:
    link = await tx.links.get(ctx.connection, p.entity, p.source_id)
    if link is not None and link.target_id != p.target_id:
        return f"{p.source_label} ({p.source_id}) is already linked to {link.target_id}"
    if p.entity != Entity.CUSTOMERS.value:  # many customers may bill to one Fusion account
        others = [
            other
            for other in await tx.links.by_target(ctx.connection, p.entity, p.target_id)
            if other.source_id != p.source_id
        ]
        if others:
            return f"{p.target_label} ({p.target_id}) is already linked to {others[0].source_id}"
    return None


async def apply_one(ctx: FlowContext, p: MatchProposal, *, by: str) -> str | None:
    """Make an accepted proposal a link (and mark a vendor with our ``externalData`` key so later
    runs find it without the table). Returns an error message instead of raising for a conflict."""
    async with ctx.store.transaction() as tx:
        problem = await _conflict(tx, ctx, p)
        if problem is not None:
            await tx.audit.append(
                audit_entry(ctx, p, AuditAction.FAIL, note="not linked", by=by, error=problem)
            )
            return problem
    note = "linked"
    if p.entity == Entity.VENDORS.value:
        external = ExternalDataInput(
            application_guid=ctx.application_guid, values={SUPPLIER_KEY: p.source_id}
        )
        await ctx.servicetitan.mark_vendor(int(p.target_id), external)
        note = f"linked; vendor marked with externalData {SUPPLIER_KEY}={p.source_id}"
    async with ctx.store.transaction() as tx:
        await tx.links.upsert(
            connection=ctx.connection,
            entity=p.entity,
            source_system=p.source_system,
            source_id=p.source_id,
            target_system=p.target_system,
            target_id=p.target_id,
            version_hash=None,  # F1 writes the full vendor on its next run
        )
        await tx.matches.mark_applied(p.id)
        await tx.audit.append(audit_entry(ctx, p, AuditAction.UPDATE, note=note, by=by))
    return None


async def apply_accepted(
    ctx: FlowContext, entity: Entity | None = None, *, by: str = FLOW
) -> tuple[int, list[str]]:
    """Apply every accepted proposal not applied yet; (how many, the conflicts met)."""
    applied, errors = 0, []
    for one in [entity] if entity is not None else list(Entity):
        async for page in proposal_pages(ctx.store, ctx.connection, one, (ACCEPTED,)):
            for p in page:
                if p.applied_at is not None:
                    continue
                problem = await apply_one(ctx, p, by=by)
                if problem is None:
                    applied += 1
                else:
                    errors.append(problem)
    return applied, errors


# --- decisions from the review file ------------------------------------------------------------


@dataclass(kw_only=True)
class ReviewResult:
    accepted: int = 0
    rejected: int = 0
    unchanged: int = 0
    applied: int = 0
    apply_errors: list[str] = field(default_factory=list)


async def apply_review(ctx: FlowContext, text: str, *, by: str) -> ReviewResult:
    """Check every row of an edited review file, then record the decisions in one transaction
    and apply what was accepted. A bad row raises :class:`~.review.ReviewFileError` (nothing
    saved)."""
    parsed = review.parse(text)
    ids = {int(r["proposal_id"]) for _, r in parsed if r.get("proposal_id", "").isdigit()}
    known: dict[int, MatchProposal | None] = {}
    async with ctx.store.transaction() as tx:
        for pid in ids:
            found = await tx.matches.get(pid)
            known[pid] = found if found is not None and found.connection == ctx.connection else None
    decisions, errors = review.check(parsed, known)
    if errors:
        raise review.ReviewFileError(errors)
    result = await record_decisions(
        ctx, decisions, by=by, note=lambda d: f"review file line {d.line}"
    )
    result.unchanged = len(parsed) - len(decisions)
    result.applied, result.apply_errors = await apply_accepted(ctx, by=by)
    return result


async def record_decisions(
    ctx: FlowContext,
    decisions: list[review.Decision],
    *,
    by: str,
    note: Callable[[review.Decision], str],
) -> ReviewResult:
    """Record checked decisions (see :func:`.review.check`, :func:`.review.refusal`) in one
    transaction, each with its ``accept`` or ``reject`` audit row naming ``by``. Linking what was
    accepted is the caller's next step (:func:`apply_accepted` or :func:`apply_one`)."""
    result = ReviewResult()
    async with ctx.store.transaction() as tx:
        for d in decisions:
            decided = await tx.matches.decide(d.proposal_id, d.state, by=by, target_id=d.target_id)
            action = AuditAction.ACCEPT if d.state == ACCEPTED else AuditAction.REJECT
            await tx.audit.append(audit_entry(ctx, decided, action, note=note(d), by=by))
            if d.state == ACCEPTED:
                result.accepted += 1
            else:
                result.rejected += 1
    return result


class DecisionRefused(ValueError):
    """A decision on one proposal that cannot be recorded (the message says why)."""


async def decide_one(
    ctx: FlowContext, proposal_id: int, state: str, *, target_id: str | None, by: str, note: str
) -> tuple[MatchProposal, ReviewResult]:
    """One person's decision on one proposal (the dashboard's review page): checked as a row of
    the review file is, recorded by :func:`record_decisions`, and an accepted proposal linked by
    :func:`apply_one` as ``match apply`` links it. :class:`LookupError` for a proposal not of
    this connection, :class:`DecisionRefused` for one the decision cannot apply to."""
    async with ctx.store.transaction() as tx:
        found = await tx.matches.get(proposal_id)
    if found is None or found.connection != ctx.connection:
        raise LookupError(f"no match proposal {proposal_id} in connection {ctx.connection}")
    target = target_id or found.target_id
    problem = review.refusal(found, state, target)
    if problem is not None:
        raise DecisionRefused(problem)
    if review.settled(found, state, target):
        result = ReviewResult(unchanged=1)
    else:
        decision = review.Decision(line=0, proposal_id=proposal_id, state=state, target_id=target)
        result = await record_decisions(ctx, [decision], by=by, note=lambda _d: note)
    async with ctx.store.transaction() as tx:
        current = await tx.matches.get(proposal_id)
    assert current is not None
    if current.state == ACCEPTED and current.applied_at is None:
        problem = await apply_one(ctx, current, by=by)
        if problem is None:
            result.applied = 1
        else:
            result.apply_errors.append(problem)
        async with ctx.store.transaction() as tx:
            current = await tx.matches.get(proposal_id) or current
    return current, result


async def export_rows(
    store: Store, connection: str, entity: Entity | None, states: tuple[str, ...]
) -> AsyncIterator[str]:
    """The review CSV in chunks (header first), page by page from the store."""
    yield review.header()
    for one in [entity] if entity is not None else list(Entity):
        async for page in proposal_pages(store, connection, one, states):
            yield review.rows(page)
