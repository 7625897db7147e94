"""F1: Fusion suppliers → ServiceTitan vendors (DESIGN §1, issue 5).

Poll suppliers by ``LastUpdateDate`` (keyset pages, :mod:`.base` cursor rule); per supplier: in
scope? → map → unchanged (version hash of the request body) → skip; linked → PATCH the vendor;
not linked → find it by our ``externalData`` key, else create it exactly once (:mod:`.exactly_once`).
A linked supplier that became inactive is written with ``active: false`` (deactivation propagates).

Store cost (issue 9, B4): a page's links, match proposals and pending intents are read in one
transaction before its records (:class:`_PageReads`), so a created supplier takes two transactions
(its intent, committed before the POST; then link + intent + audit) and an unchanged one takes one.
The intent's transaction checks the link and the match hold again, under the write lock, so a
``match apply`` or review that lands while the page is synced still stops the create.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ml_connector.errors import RetriableError
from ml_connector.mapping.decisions import version_hash
from ml_connector.mapping.suppliers import SUPPLIER_KEY, eligibility, map_supplier
from ml_connector.matching import safety as matching_safety
from ml_connector.store import Tx
from ml_connector.store.records import Link, WriteIntent
from ml_connector.store.repos.matches import MatchProposal
from ml_connector.store.states import AuditAction
from ml_connector.systems.fusion.models import Supplier
from ml_connector.systems.servicetitan.payloads import VendorInput, vendor_request

from .base import Attempt, FlowContext, attempt, read_window, run_pages, succeed
from .exactly_once import create_after, create_once, finish
from .summary import Outcome, RunSummary

FLOW = "suppliers"
ENTITY = "supplier"


def _summary(vendor: VendorInput, body_hash: str) -> dict[str, Any]:
    return {"name": vendor.name, "active": vendor.active, "payload_hash": body_hash}


def _key(source_id: str) -> str:
    return f"{ENTITY}:{source_id}"


@dataclass(frozen=True)
class _PageReads:
    """What one page's records need from the store, read in one transaction before the records
    (instead of three transactions per record): links, match proposals and pending create
    intents, by source id. ``ids`` are the suppliers read; one that occurs twice in a page is
    left out (its second attempt must see what the first wrote), and so read per record."""

    ids: frozenset[str] = frozenset()
    links: dict[str, Link] = field(default_factory=dict)
    proposals: dict[str, MatchProposal] = field(default_factory=dict)
    pending: dict[str, list[WriteIntent]] = field(default_factory=dict)


class SupplierFlow:
    """One connection's F1. ``run`` is one cycle; ``sync`` handles one supplier (F2 uses the
    link it leaves)."""

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        # the page's batched externalData lookup: who was looked for, and what was found
        self._looked_up: set[str] = set()
        self._found: dict[str, int] = {}
        self._reads = _PageReads()

    async def run(self, *, since: datetime | None = None, full: bool = False) -> RunSummary:
        ctx = self.ctx
        window = await read_window(ctx, FLOW, since=since, full=full)
        summary = RunSummary(
            flow=FLOW, connection=ctx.connection, started_at=window.until, dry_run=ctx.dry_run
        )
        await run_pages(
            ctx,
            FLOW,
            ctx.fusion.supplier_pages(window.since, until=window.until),
            lambda supplier: self.sync(supplier, summary),
            lambda supplier: (supplier.LastUpdateDate, supplier.SupplierId),
            self._prefetch,
        )
        # what was read for the last page is not kept: a later ``sync`` reads the store itself
        self._reads, self._looked_up, self._found = _PageReads(), set(), {}
        summary.ended_at = ctx.clock.now()
        return summary

    async def _prefetch(self, page: list[Supplier]) -> None:
        """The page's store reads in one transaction (:class:`_PageReads`), then one
        ``externalData`` lookup (50 ids per call) for its unlinked suppliers instead of one per
        supplier: it halves the ServiceTitan requests of a first sync."""
        ctx = self.ctx
        self._looked_up, self._found = set(), {}
        seen = Counter(str(s.SupplierId) for s in page)
        once = [source_id for source_id, n in seen.items() if n == 1]
        async with ctx.store.transaction() as tx:
            links = await tx.links.get_many(ctx.connection, ENTITY, seen)
            unlinked = [source_id for source_id in seen if source_id not in links]
            proposals, pending = {}, {}
            if unlinked:
                proposals = await tx.matches.for_sources(ctx.connection, ENTITY, unlinked)
                by_key = await tx.writes.pending_for(
                    ctx.connection, FLOW, [_key(source_id) for source_id in unlinked]
                )
                pending = {key.removeprefix(f"{ENTITY}:"): found for key, found in by_key.items()}
        self._reads = _PageReads(
            ids=frozenset(once),
            links={i: links[i] for i in once if i in links},
            proposals={i: proposals[i] for i in once if i in proposals},
            pending={i: pending[i] for i in once if i in pending},
        )
        if ctx.dry_run or not unlinked:
            return
        wanted = set(unlinked)
        try:
            vendors = await ctx.servicetitan.find_vendors_by_external_data(
                ctx.application_guid, SUPPLIER_KEY, unlinked
            )
        except RetriableError:
            return  # each supplier looks itself up (and fails, or not, on its own)
        for vendor in vendors:
            for item in vendor.externalData:
                if item.key == SUPPLIER_KEY and item.value in wanted:
                    known = self._found.get(item.value)
                    self._found[item.value] = vendor.id if known is None else min(known, vendor.id)
        self._looked_up = wanted

    async def sync(self, supplier: Supplier, summary: RunSummary) -> bool:
        record = Attempt(
            flow=FLOW,
            source_system="fusion",
            source_id=str(supplier.SupplierId),
            source_version=supplier.LastUpdateDate.isoformat(),
            target_system="servicetitan",
            started_at=self.ctx.clock.now(),
            source_record={
                "SupplierNumber": supplier.SupplierNumber,
                "Supplier": supplier.Supplier,
            },
        )
        return await attempt(self.ctx, summary, record, lambda r: self._work(supplier, r))

    async def _work(self, supplier: Supplier, record: Attempt) -> Outcome:
        ctx = self.ctx
        today = ctx.today()
        reads = self._reads
        prefetched = record.source_id in reads.ids
        if prefetched:
            link = reads.links.get(record.source_id)
        else:
            async with ctx.store.transaction() as tx:
                link = await tx.links.get(ctx.connection, ENTITY, record.source_id)
        skip = eligibility(supplier, ctx.mapping.suppliers, today, linked=link is not None)
        if skip is not None:
            record.decisions.add("eligibility", skip, source=supplier.SupplierNumber)
            async with ctx.store.transaction() as tx:
                await succeed(tx, ctx, record, AuditAction.SKIP, target_id=None)
            return Outcome.SKIPPED
        vendor = map_supplier(
            supplier,
            ctx.mapping.suppliers,
            application_guid=ctx.application_guid,
            today=today,
            decisions=record.decisions,
        )
        what = f"supplier {supplier.SupplierNumber} ({supplier.Supplier})"
        if link is None and prefetched:  # issue 11: a vendor typed by hand may be this supplier
            threshold = ctx.mapping.matching.threshold
            matching_safety.check_hold(reads.proposals.get(record.source_id), threshold, what)
        elif link is None:
            async with ctx.store.transaction() as tx:
                await self._hold(tx, record.source_id, what)
        body_hash = version_hash(vendor_request(vendor))
        request = _summary(vendor, body_hash)
        if link is not None and link.version_hash == body_hash:
            record.decisions.add("version", "unchanged since the last write", target=body_hash)
            async with ctx.store.transaction() as tx:
                await succeed(tx, ctx, record, AuditAction.SKIP, target_id=link.target_id)
            return Outcome.UNCHANGED
        if ctx.dry_run:
            action = AuditAction.UPDATE if link else AuditAction.CREATE
            async with ctx.store.transaction() as tx:
                await succeed(
                    tx,
                    ctx,
                    record,
                    action,
                    target_id=link.target_id if link else None,
                    request=request,
                )
            return Outcome.UPDATED if link else Outcome.CREATED
        if link is not None:
            await ctx.servicetitan.update_vendor(int(link.target_id), vendor)
            async with ctx.store.transaction() as tx:
                await self._link(tx, record.source_id, link.target_id, body_hash)
                await succeed(
                    tx, ctx, record, AuditAction.UPDATE, target_id=link.target_id, request=request
                )
            return Outcome.UPDATED
        return await self._create(record, vendor, body_hash, request, what, prefetched)

    async def _hold(self, tx: Tx, source_id: str, what: str) -> None:
        threshold = self.ctx.mapping.matching.threshold
        await matching_safety.hold_for_review(
            tx, self.ctx.connection, ENTITY, source_id, threshold=threshold, what=what
        )

    async def _create(
        self,
        record: Attempt,
        vendor: VendorInput,
        body_hash: str,
        request: dict[str, Any],
        what: str,
        prefetched: bool,
    ) -> Outcome:
        ctx = self.ctx
        st = ctx.servicetitan

        async def lookup(since: datetime | None) -> str | None:
            if since is None and record.source_id in self._looked_up:
                found_id = self._found.get(record.source_id)  # this page's batched lookup
            else:  # an earlier or a lost write: ask again now
                found = await st.find_vendors_by_external_data(
                    ctx.application_guid, SUPPLIER_KEY, [record.source_id]
                )
                found_id = min((v.id for v in found), default=None)
            if found_id is None:
                return None
            record.decisions.add(
                "adopt",
                f"vendor found by externalData {SUPPLIER_KEY}",
                source=record.source_id,
                target=found_id,
            )
            return str(found_id)

        async def create() -> str:
            return str(await st.create_vendor(vendor))

        async def guard(tx: Tx) -> None:
            """What the page's read said, checked again under the intent's write lock: a
            ``match apply`` or a review may have come in since."""
            if await tx.links.get(ctx.connection, ENTITY, record.source_id) is not None:
                raise RetriableError(
                    f"{what} was linked while its page was synced; the next run updates it"
                )
            await self._hold(tx, record.source_id, what)

        if prefetched:
            created = await create_after(
                ctx,
                self._reads.pending.get(record.source_id, []),
                flow=FLOW,
                target_system="servicetitan",
                business_key=_key(record.source_id),
                payload_hash=body_hash,
                lookup=lookup,
                create=create,
                guard=guard,
            )
        else:
            created = await create_once(
                ctx,
                flow=FLOW,
                target_system="servicetitan",
                business_key=_key(record.source_id),
                payload_hash=body_hash,
                lookup=lookup,
                create=create,
            )
        if created.adopted and not created.current:
            # what was written before the crash or lost answer may be an older version
            await st.update_vendor(int(created.target_id), vendor)
        async with ctx.store.transaction() as tx:
            await finish(tx, created)
            await self._link(tx, record.source_id, created.target_id, body_hash)
            await succeed(
                tx,
                ctx,
                record,
                AuditAction.ADOPT if created.adopted else AuditAction.CREATE,
                target_id=created.target_id,
                request=request,
            )
        return Outcome.ADOPTED if created.adopted else Outcome.CREATED

    async def _link(self, tx: Tx, source_id: str, target_id: str, body_hash: str) -> None:
        await tx.links.upsert(
            connection=self.ctx.connection,
            entity=ENTITY,
            source_system="fusion",
            source_id=source_id,
            target_system="servicetitan",
            target_id=target_id,
            version_hash=body_hash,
        )
