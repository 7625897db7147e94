"""F2: Fusion purchase orders → ServiceTitan purchase orders (DESIGN §1, issue 5).

Poll POs by ``LastUpdateDate`` in the mapped procurement BUs, in the configured statuses plus the
ending ones (a linked PO that Fusion cancels or closes is cancelled in ServiceTitan where the API
still allows it). Per PO: vendor through the supplier link (F1 runs first when the supplier is not
linked yet) → SKUs (the ``match items`` link, else by code) → map (an unmapped item stops the whole PO) → unchanged? skip → linked?
replace the items by PATCH (only while ServiceTitan lets us edit) → else find by memo in a
``createdOnOrAfter`` window, or create exactly once; then link the PO and each line to its item.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from ml_connector.errors import NeedsAttentionError
from ml_connector.mapping.decisions import Decisions
from ml_connector.mapping.purchase_orders import (
    FUSION_ENDED,
    ST_EDITABLE,
    MappedPO,
    live_lines,
    map_purchase_order,
    po_hash,
    sku_code,
    sku_codes,
)
from ml_connector.matching.model import Entity
from ml_connector.store import Tx
from ml_connector.store.records import Link
from ml_connector.store.states import AuditAction
from ml_connector.systems.fusion.models import PurchaseOrder
from ml_connector.systems.servicetitan.models import PurchaseOrder as STPurchaseOrder
from ml_connector.systems.servicetitan.models import Sku, Warehouse

from .base import BEGINNING, Attempt, FlowContext, attempt, read_window, run_pages, succeed
from .exactly_once import create_once, finish
from .summary import Outcome, RunSummary
from .suppliers import ENTITY as SUPPLIER_ENTITY
from .suppliers import SupplierFlow

FLOW = "purchase_orders"
#: links written by ``ml-connector match items`` (Fusion item number → ServiceTitan SKU id)
ITEM_ENTITY = Entity.ITEMS.value
ENTITY = "purchase_order"
LINE_ENTITY = "purchase_order_line"
CANCELED_HASH = "status:canceled"
#: a create is looked for from a little before its intent was recorded (clock skew)
LOOKUP_MARGIN = timedelta(minutes=5)


class _CreatedIndex:
    """ServiceTitan POs created since ``lo``, by memo: one read per run instead of one per PO.

    Extended backwards when a PO needs an earlier window; our own creates are added as made."""

    def __init__(self) -> None:
        self.lo: datetime | None = None
        self.by_memo: dict[str, list[tuple[int, int | None]]] = {}

    def add(self, order: STPurchaseOrder) -> None:
        self.by_memo.setdefault((order.summary or "").strip(), []).append(
            (order.id, order.vendorId)
        )


class PurchaseOrderFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self._skus: dict[str, Sku | None] = {}
        self._warehouses: dict[int, Warehouse] | None = None
        self._suppliers_synced = False
        self._suppliers_lock = asyncio.Lock()  # POs run side by side; F1 runs once for them
        self._index = _CreatedIndex()

    async def run(self, *, since: datetime | None = None, full: bool = False) -> RunSummary:
        ctx = self.ctx
        mapping = ctx.mapping.purchase_orders
        window = await read_window(ctx, FLOW, since=since, full=full)
        summary = RunSummary(
            flow=FLOW, connection=ctx.connection, started_at=window.until, dry_run=ctx.dry_run
        )
        statuses = sorted(set(mapping.statuses) | FUSION_ENDED)
        pages = ctx.fusion.purchase_order_pages(
            window.since,
            until=window.until,
            procurement_bus=sorted(mapping.business_units) or None,
            statuses=statuses,
        )
        await run_pages(
            ctx,
            FLOW,
            pages,
            lambda po: self.sync(po, summary),
            lambda po: (po.LastUpdateDate, po.POHeaderId),
        )
        summary.ended_at = ctx.clock.now()
        return summary

    async def sync(self, po: PurchaseOrder, summary: RunSummary) -> bool:
        record = Attempt(
            flow=FLOW,
            source_system="fusion",
            source_id=str(po.POHeaderId),
            source_version=po.LastUpdateDate.isoformat(),
            target_system="servicetitan",
            started_at=self.ctx.clock.now(),
            source_record={"OrderNumber": po.OrderNumber, "StatusCode": po.StatusCode},
        )
        return await attempt(self.ctx, summary, record, lambda r: self._work(po, r))

    # -- one PO -------------------------------------------------------------------------------

    async def _work(self, po: PurchaseOrder, record: Attempt) -> Outcome:
        ctx = self.ctx
        async with ctx.store.transaction() as tx:
            link = await tx.links.get(ctx.connection, ENTITY, record.source_id)
        status = (po.StatusCode or "").upper()
        if status in FUSION_ENDED:
            return await self._ended(po, record, status, link)
        if status not in {s.upper() for s in ctx.mapping.purchase_orders.statuses}:
            record.decisions.add("eligibility", f"status {status} is not synced", source=status)
            await self._audit(record, AuditAction.SKIP, link.target_id if link else None)
            return Outcome.SKIPPED
        vendor_id = await self._vendor(po, record)
        item_ids = await self._item_ids(po) if link else {}
        mapped = map_purchase_order(
            po,
            ctx.mapping.purchase_orders,
            vendor_id=vendor_id,
            skus=await self._sku_map(po),
            warehouses=await self._warehouse_map(),
            item_ids=item_ids,
            decisions=record.decisions,
        )
        body_hash = po_hash(mapped.order)
        request = {"memo": mapped.order.memo, "items": len(mapped.order.items), "hash": body_hash}
        if link is not None and link.version_hash == body_hash:
            record.decisions.add("version", "unchanged since the last write", target=body_hash)
            await self._audit(record, AuditAction.SKIP, link.target_id)
            return Outcome.UNCHANGED
        if ctx.dry_run:
            await self._audit(
                record,
                AuditAction.UPDATE if link else AuditAction.CREATE,
                link.target_id if link else None,
                request,
            )
            return Outcome.UPDATED if link else Outcome.CREATED
        if link is not None:
            await self._update(po, int(link.target_id), mapped)
            async with ctx.store.transaction() as tx:
                await self._link(tx, record.source_id, link.target_id, body_hash)
                await succeed(
                    tx, ctx, record, AuditAction.UPDATE, target_id=link.target_id, request=request
                )
            return Outcome.UPDATED
        return await self._create(po, record, mapped, body_hash, request)

    async def _update(self, po: PurchaseOrder, target_id: int, mapped: MappedPO) -> None:
        st = self.ctx.servicetitan
        current = await st.get_purchase_order(target_id)
        if current.status not in ST_EDITABLE:
            raise NeedsAttentionError(
                "po_not_editable",
                f"PO {po.OrderNumber} changed in Fusion, but ServiceTitan PO {current.number} is "
                f"{current.status} and can no longer be edited",
                suggestion="make the change in ServiceTitan by hand (or a new PO), then resolve",
            )
        new = [i for i in mapped.order.items if i.id is None]
        if new:
            raise NeedsAttentionError(
                "po_line_added",
                f"PO {po.OrderNumber} has {len(new)} line(s) added after it reached ServiceTitan; "
                "the API cannot add lines to an existing PO safely",
                suggestion=f"add the line(s) to ServiceTitan PO {current.number} by hand",
            )
        await st.update_purchase_order(target_id, mapped.order)

    async def _create(
        self,
        po: PurchaseOrder,
        record: Attempt,
        mapped: MappedPO,
        body_hash: str,
        request: dict[str, Any],
    ) -> Outcome:
        ctx = self.ctx
        st = ctx.servicetitan
        memo = mapped.order.memo or ""
        vendor_id = mapped.order.vendor_id

        async def lookup(since: datetime | None) -> str | None:
            if since is not None:  # an earlier attempt: read fresh from the target
                found = await st.find_purchase_orders(
                    created_on_or_after=since - LOOKUP_MARGIN, memo=memo, vendor_id=vendor_id
                )
                ids = [o.id for o in found]
            else:  # ours can only be younger than the Fusion PO
                ids = await self._indexed(memo, vendor_id, po.CreationDate or BEGINNING)
            if not ids:
                return None
            record.decisions.add(
                "adopt", "ServiceTitan PO found by memo and vendor", source=memo, target=min(ids)
            )
            return str(min(ids))

        async def create() -> str:
            return str(await st.create_purchase_order(mapped.order))

        created = await create_once(
            ctx,
            flow=FLOW,
            target_system="servicetitan",
            business_key=f"{ENTITY}:{record.source_id}",
            payload_hash=body_hash,
            lookup=lookup,
            create=create,
        )
        written = await st.get_purchase_order(int(created.target_id))
        self._index.add(written)
        pairs = _pair_items(mapped, written)
        # adopted from an older payload (crash or lost answer, then the PO changed in Fusion)
        stale = created.adopted and not created.current
        action = AuditAction.ADOPT if created.adopted else AuditAction.CREATE
        request = {**request, "number": written.number}
        async with ctx.store.transaction() as tx:
            await finish(tx, created)
            # linked first without a hash: if the update below fails, the next run updates
            await self._link(tx, record.source_id, created.target_id, None if stale else body_hash)
            for line_id, item_id in pairs:
                await tx.links.upsert(
                    connection=ctx.connection,
                    entity=LINE_ENTITY,
                    source_system="fusion",
                    source_id=str(line_id),
                    target_system="servicetitan",
                    target_id=str(item_id),
                    version_hash=None,
                )
            if not stale:
                await succeed(tx, ctx, record, action, target_id=created.target_id, request=request)
        if stale:
            await self._update_adopted(po, record, created.target_id, dict(pairs), vendor_id)
            async with ctx.store.transaction() as tx:
                await self._link(tx, record.source_id, created.target_id, body_hash)
                await succeed(tx, ctx, record, action, target_id=created.target_id, request=request)
        return Outcome.ADOPTED if created.adopted else Outcome.CREATED

    async def _update_adopted(
        self, po: PurchaseOrder, record: Attempt, target: str, item_ids: dict[int, int], vendor: int
    ) -> None:
        """An adopted PO from an older payload is updated now, not when Fusion next changes it."""
        record.decisions.add("version", "adopted PO was written from an older version: updated")
        remapped = map_purchase_order(
            po,
            self.ctx.mapping.purchase_orders,
            vendor_id=vendor,
            skus=await self._sku_map(po),
            warehouses=await self._warehouse_map(),
            item_ids=item_ids,
            decisions=Decisions(),  # the record's decisions were taken by the first mapping
        )
        await self._update(po, int(target), remapped)

    async def _ended(
        self, po: PurchaseOrder, record: Attempt, status: str, link: Link | None
    ) -> Outcome:
        ctx = self.ctx
        if link is None:
            record.decisions.add("eligibility", f"status {status} and never synced", source=status)
            await self._audit(record, AuditAction.SKIP, None)
            return Outcome.SKIPPED
        target = link.target_id
        if link.version_hash == CANCELED_HASH:
            record.decisions.add("version", "already cancelled in ServiceTitan")
            await self._audit(record, AuditAction.SKIP, target)
            return Outcome.UNCHANGED
        current = await ctx.servicetitan.get_purchase_order(int(target))
        if current.status == "Canceled":
            outcome, action = Outcome.UNCHANGED, AuditAction.SKIP
            record.decisions.add("cancel", "already Canceled in ServiceTitan")
        elif current.status not in ST_EDITABLE:
            if status == "CANCELED":
                raise NeedsAttentionError(
                    "po_not_cancellable",
                    f"PO {po.OrderNumber} was cancelled in Fusion, but ServiceTitan PO "
                    f"{current.number} is {current.status} and cannot be cancelled",
                    suggestion="reverse the receipt in ServiceTitan or return the goods",
                )
            record.decisions.add(
                "cancel", f"Fusion {status}; ServiceTitan PO is {current.status}: left as is"
            )
            outcome, action = Outcome.UNCHANGED, AuditAction.SKIP
        else:
            record.decisions.add("cancel", f"Fusion {status} → ServiceTitan cancellation")
            if ctx.dry_run:
                await self._audit(record, AuditAction.UPDATE, target, {"cancel": True})
                return Outcome.UPDATED
            await ctx.servicetitan.cancel_purchase_order(int(target), "NotRequired")
            outcome, action = Outcome.UPDATED, AuditAction.UPDATE
        async with ctx.store.transaction() as tx:
            if not ctx.dry_run:
                await self._link(tx, record.source_id, target, CANCELED_HASH)
            await succeed(tx, ctx, record, action, target_id=target, request={"cancel": True})
        return outcome

    # -- lookups (cached per run) -------------------------------------------------------------

    async def _vendor(self, po: PurchaseOrder, record: Attempt) -> int:
        ctx = self.ctx
        supplier_id = str(po.SupplierId)
        async with ctx.store.transaction() as tx:
            link = await tx.links.get(ctx.connection, SUPPLIER_ENTITY, supplier_id)
        if link is None:
            async with self._suppliers_lock:
                if not self._suppliers_synced:
                    self._suppliers_synced = True
                    record.decisions.add("vendor", "supplier not linked: ran the supplier flow")
                    await SupplierFlow(ctx).run()
            async with ctx.store.transaction() as tx:
                link = await tx.links.get(ctx.connection, SUPPLIER_ENTITY, supplier_id)
        if link is None:
            raise NeedsAttentionError(
                "supplier_not_synced",
                f"PO {po.OrderNumber}: supplier {po.Supplier} ({supplier_id}) has no ServiceTitan "
                "vendor (not eligible, or in attention itself)",
                suggestion="fix the supplier so F1 syncs it, then replay the PO",
            )
        return int(link.target_id)

    async def _item_ids(self, po: PurchaseOrder) -> dict[int, int]:
        out: dict[int, int] = {}
        async with self.ctx.store.transaction() as tx:
            for line in po.lines:
                link = await tx.links.get(self.ctx.connection, LINE_ENTITY, str(line.POLineId))
                if link is not None:
                    out[line.POLineId] = int(link.target_id)
        return out

    async def _sku_map(self, po: PurchaseOrder) -> dict[str, Sku | None]:
        """SKU code → SKU for the PO's live lines: an item linked by ``ml-connector match``
        (entity ``item``: Fusion item number → SKU id) is its linked SKU, whatever its code says;
        any other item is the SKU whose code is the item number (with the configured prefix)."""
        ctx = self.ctx
        mapping = ctx.mapping.purchase_orders
        wanted = {
            code: line.Item.strip()
            for line in live_lines(po)
            if line.Item and (code := sku_code(line, mapping)) and code not in self._skus
        }
        if wanted:
            async with ctx.store.transaction() as tx:
                links = {
                    code: link
                    for code, item in wanted.items()
                    if (link := await tx.links.get(ctx.connection, ITEM_ENTITY, item)) is not None
                }
            for code, link in links.items():
                self._skus[code] = await ctx.servicetitan.sku_by_id(int(link.target_id))
            missing = [c for c in wanted if c not in links]
            found = await ctx.servicetitan.skus_by_code(missing) if missing else {}
            for code in missing:
                self._skus[code] = found.get(code)
        return {c: self._skus[c] for c in sku_codes(po, mapping)}

    async def _warehouse_map(self) -> dict[int, Warehouse]:
        if self._warehouses is None:
            self._warehouses = {w.id: w for w in await self.ctx.servicetitan.warehouses()}
        return self._warehouses

    async def _indexed(self, memo: str, vendor_id: int, since: datetime) -> list[int]:
        index = self._index
        since = since - LOOKUP_MARGIN
        if index.lo is None or since < index.lo:
            async for order in self.ctx.servicetitan.purchase_orders(
                created_on_or_after=since, created_before=index.lo
            ):
                index.add(order)
            index.lo = since
        return [i for i, v in index.by_memo.get(memo.strip(), []) if v == vendor_id]

    # -- store --------------------------------------------------------------------------------

    async def _audit(
        self,
        record: Attempt,
        action: AuditAction,
        target_id: str | None,
        request: dict[str, Any] | None = None,
    ) -> None:
        async with self.ctx.store.transaction() as tx:
            await succeed(tx, self.ctx, record, action, target_id=target_id, request=request)

    async def _link(self, tx: Tx, source_id: str, target_id: str, body_hash: str | None) -> None:
        await tx.links.upsert(
            connection=self.ctx.connection,
            entity=ENTITY,
            source_system="fusion",
            source_id=source_id,
            target_system="servicetitan",
            target_id=target_id,
            version_hash=body_hash,
        )


def _pair_items(mapped: MappedPO, written: STPurchaseOrder) -> list[tuple[int, int]]:
    """Fusion line → ServiceTitan item: items come back in the order they were sent; each pair is
    checked on the SKU, and a mismatch falls back to the first unused item with that SKU."""
    live = [i for i in written.items if (i.status or "") != "Inactive"]
    used: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for n, (line_id, item) in enumerate(zip(mapped.line_ids, mapped.order.items, strict=True)):
        candidate = live[n] if n < len(live) else None
        if candidate is None or candidate.skuId != item.sku_id or candidate.id in used:
            candidate = next((i for i in live if i.skuId == item.sku_id and i.id not in used), None)
        if candidate is not None:
            used.add(candidate.id)
            pairs.append((line_id, candidate.id))
    return pairs
