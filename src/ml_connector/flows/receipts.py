"""F3: ServiceTitan PO receipts → Fusion receiving receipt requests (DESIGN §1, issue 5).

Poll receipts by ``modifiedOn`` (``active=Any``, so a cancelled receipt is seen); only receipts of
POs that came from Fusion (a PO link) are ours. Per receipt: map the items through the PO line
links → create one ``receivingReceiptRequests`` exactly once (business key ``ReceiptNumber``) →
follow its processing status. Oracle's processing errors go to attention with Oracle's message; a
receipt cancelled in ServiceTitan goes to attention too (a return in Fusion needs a person).

The ServiceTitan receipt list is paged by offset and not ordered by ``modifiedOn``: the window is
``[cursor − overlap, run start)``, the cursor moves to the newest ``modifiedOn`` processed, and
only once the whole window is done. Only the lower bound goes to ServiceTitan (sorted by id): with
``modifiedBefore`` a receipt changed mid-read would drop out of the filtered list and shift a later
one back across a page boundary, never read. Rows at or after the run start are skipped here and
left out of the cursor; they come in the next window (DESIGN §3.2 rule 1).
"""

from __future__ import annotations

from datetime import datetime

from ml_connector.errors import NeedsAttentionError, RetriableError
from ml_connector.mapping.decisions import version_hash
from ml_connector.mapping.receipts import map_receipt, receipt_number
from ml_connector.store import Tx
from ml_connector.store.states import AuditAction
from ml_connector.systems.fusion.models import PurchaseOrder, ReceivingReceiptRequest
from ml_connector.systems.servicetitan.models import Receipt

from .base import Attempt, FlowContext, advance_cursor, attempt, read_window, succeed
from .exactly_once import create_once, finish
from .purchase_orders import ENTITY as PO_ENTITY
from .purchase_orders import LINE_ENTITY
from .summary import Outcome, RunSummary

FLOW = "receipts"
ENTITY = "receipt"
DONE, FAILED, PENDING, CANCELLED = "SUCCESS", "ERROR", "PENDING", "CANCELLED"


class ReceiptFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self._orders: dict[str, PurchaseOrder | None] = {}

    async def run(self, *, since: datetime | None = None, full: bool = False) -> RunSummary:
        ctx = self.ctx
        window = await read_window(ctx, FLOW, since=since, full=full)
        summary = RunSummary(
            flow=FLOW, connection=ctx.connection, started_at=window.until, dry_run=ctx.dry_run
        )
        newest: tuple[datetime, int] | None = None
        blocked = False
        async for receipt in ctx.servicetitan.receipts_changed_since(window.since):
            stamp = receipt.modifiedOn or receipt.createdOn
            if stamp is not None and stamp >= window.until:
                continue  # changed during the run: it is in the next window, not this cursor
            passed = await self.sync(receipt, summary)
            blocked = blocked or not passed
            if passed and stamp is not None:
                key = (stamp, receipt.id)
                newest = key if newest is None else max(newest, key)
        if newest is not None and not blocked:
            async with ctx.store.transaction() as tx:
                await advance_cursor(tx, ctx, FLOW, newest[0], newest[1])
        summary.ended_at = ctx.clock.now()
        return summary

    async def sync(self, receipt: Receipt, summary: RunSummary) -> bool:
        record = Attempt(
            flow=FLOW,
            source_system="servicetitan",
            source_id=str(receipt.id),
            source_version=(
                receipt.modifiedOn or receipt.createdOn or self.ctx.clock.now()
            ).isoformat(),
            target_system="fusion",
            started_at=self.ctx.clock.now(),
            source_record={"number": receipt.number, "purchaseOrderId": receipt.purchaseOrderId},
        )
        return await attempt(self.ctx, summary, record, lambda r: self._work(receipt, r))

    async def _work(self, receipt: Receipt, record: Attempt) -> Outcome:
        ctx = self.ctx
        async with ctx.store.transaction() as tx:
            po_links = await tx.links.by_target(
                ctx.connection, PO_ENTITY, str(receipt.purchaseOrderId)
            )
            link = await tx.links.get(ctx.connection, ENTITY, record.source_id)
        if not po_links:
            record.decisions.add("eligibility", "the PO did not come from Fusion")
            await self._audit(record, AuditAction.SKIP, None)
            return Outcome.SKIPPED
        if link is not None:
            return await self._linked(receipt, record, link.target_id, link.version_hash)
        if not receipt.active:
            record.decisions.add("eligibility", "cancelled before it reached Fusion")
            await self._audit(record, AuditAction.SKIP, None)
            return Outcome.SKIPPED
        po = await self._fusion_po(receipt)
        if po is None:
            raise NeedsAttentionError(
                "fusion_po_not_found",
                f"receipt {receipt.number}: the Fusion PO of ServiceTitan PO "
                f"{receipt.purchaseOrderId} was not found",
                suggestion="check the PO in Fusion",
            )
        async with ctx.store.transaction() as tx:
            by_item: dict[int, int] = {}
            for item in receipt.items:
                if item.purchaseOrderItemId is None:
                    continue
                found = await tx.links.by_target(
                    ctx.connection, LINE_ENTITY, str(item.purchaseOrderItemId)
                )
                if found:
                    by_item[item.purchaseOrderItemId] = int(found[0].source_id)
        payload = map_receipt(
            receipt,
            po,
            ctx.mapping.purchase_orders,
            po_line_for_item=by_item,
            decisions=record.decisions,
        )
        number = receipt_number(receipt)
        request = {"ReceiptNumber": number, "lines": len(payload["lines"])}
        if ctx.dry_run:
            await self._audit(record, AuditAction.CREATE, None, request)
            return Outcome.CREATED
        fusion = ctx.fusion

        async def lookup(_since: datetime | None) -> str | None:
            found = await fusion.find_receiving_request(number)
            return str(found.HeaderInterfaceId) if found is not None else None

        async def create() -> str:
            return str((await fusion.create_receiving_request(payload)).HeaderInterfaceId)

        created = await create_once(
            ctx,
            flow=FLOW,
            target_system="fusion",
            business_key=f"{ENTITY}:{number}",
            payload_hash=version_hash(payload),
            lookup=lookup,
            create=create,
        )
        async with ctx.store.transaction() as tx:
            await finish(tx, created)
            await self._link(tx, record.source_id, created.target_id, PENDING)
        await self._follow(record, created.target_id)
        async with ctx.store.transaction() as tx:
            await self._link(tx, record.source_id, created.target_id, DONE)
            await succeed(
                tx,
                ctx,
                record,
                AuditAction.ADOPT if created.adopted else AuditAction.CREATE,
                target_id=created.target_id,
                request=request,
            )
        return Outcome.ADOPTED if created.adopted else Outcome.CREATED

    async def _linked(
        self, receipt: Receipt, record: Attempt, target: str, state: str | None
    ) -> Outcome:
        ctx = self.ctx
        if not receipt.active and state != CANCELLED:
            if not ctx.dry_run:
                async with ctx.store.transaction() as tx:
                    await self._link(tx, record.source_id, target, CANCELLED)
            raise NeedsAttentionError(
                "receipt_cancelled",
                f"ServiceTitan receipt {receipt.number} was cancelled after it was received in "
                f"Fusion (receipt request {target})",
                suggestion="record the return or correction in Fusion, then resolve",
            )
        if state == PENDING and not ctx.dry_run:
            await self._follow(record, target)
            async with ctx.store.transaction() as tx:
                await self._link(tx, record.source_id, target, DONE)
                await succeed(tx, ctx, record, AuditAction.UPDATE, target_id=target)
            return Outcome.UPDATED
        record.decisions.add("version", f"already sent to Fusion ({state})", target=target)
        await self._audit(record, AuditAction.SKIP, target)
        return Outcome.UNCHANGED

    async def _follow(self, record: Attempt, target: str) -> ReceivingReceiptRequest:
        """Wait for Fusion to process the request; its errors → attention with Oracle's words."""
        ctx = self.ctx
        try:
            done = await ctx.fusion.wait_for_receiving_request(int(target))
        except RetriableError:
            record.decisions.add("processing", "still pending in Fusion; followed next run")
            raise
        status = (done.ProcessingStatusCode or "").upper()
        record.decisions.add("processing", "Fusion ProcessingStatusCode", target=status)
        messages = [
            e.ErrorMessage or e.ErrorMessageName or "error"
            for line in done.lines
            for e in line.processingErrors
        ]
        if status in {"ERROR", "FAILED"} or messages:
            async with ctx.store.transaction() as tx:
                await self._link(tx, record.source_id, target, FAILED)
            raise NeedsAttentionError(
                "receiving_error",
                f"Fusion could not process receipt request {target}: " + "; ".join(messages),
                suggestion="fix the PO in Fusion (or receive by hand), then resolve",
            )
        return done

    async def _fusion_po(self, receipt: Receipt) -> PurchaseOrder | None:
        st_id = receipt.purchaseOrderId
        key = str(st_id)
        if key not in self._orders:
            st_po = await self.ctx.servicetitan.get_purchase_order(int(st_id or 0))
            number = (st_po.summary or "").strip().removeprefix("Fusion PO ").strip()
            self._orders[key] = await self.ctx.fusion.purchase_order(number) if number else None
        return self._orders[key]

    async def _audit(
        self,
        record: Attempt,
        action: AuditAction,
        target_id: str | None,
        request: dict[str, object] | None = None,
    ) -> None:
        async with self.ctx.store.transaction() as tx:
            await succeed(tx, self.ctx, record, action, target_id=target_id, request=request)

    async def _link(self, tx: Tx, source_id: str, target_id: str, state: str) -> None:
        await tx.links.upsert(
            connection=self.ctx.connection,
            entity=ENTITY,
            source_system="servicetitan",
            source_id=source_id,
            target_system="fusion",
            target_id=target_id,
            version_hash=state,
        )
