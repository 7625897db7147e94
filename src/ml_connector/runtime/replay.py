"""Replay: process records again after their cause was fixed (issue 7), for the CLI and the dashboard.

A record is named by :class:`RecordRef` (connection, flow as the store writes it, source id). A
record with an active attention item goes through it: the item is marked replayed, and the flow
resolves it on success or reopens it. How a record is read again depends on what its systems allow:

- invoices and payments are fetched from ServiceTitan by id and run through the same per-record
  code as polling (``sync_ids``); payments waiting for an invoice posted now are retried after;
- a purchase order is fetched from Fusion by its order number when that is known (from its
  attention item or the mapping decisions in its audit trail), a receipt from the ServiceTitan
  receipts of its PO (known from its attention item);
- otherwise — and always for suppliers, which the Fusion client cannot fetch one by one — the
  flow makes a full pass, in which every unchanged record is skipped; the outcome says so.

Every replay holds its flows' store leases (:mod:`.leases`) for its whole length, all taken before
anything is written, so it never runs beside the daemon's or a ``sync``'s run of the same records;
a busy lease is a :class:`~ml_connector.runtime.leases.LeaseBusy` naming its holder. How each record
ended is read back from the audit rows the attempt wrote, not guessed from counters.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from ml_connector.errors import ConfigError, RetriableError
from ml_connector.flows.base import FlowContext
from ml_connector.flows.invoices import InvoiceFlow
from ml_connector.flows.payments import PaymentFlow
from ml_connector.flows.purchase_orders import PurchaseOrderFlow
from ml_connector.flows.receipts import ReceiptFlow
from ml_connector.flows.registry import make_flow
from ml_connector.flows.summary import RunSummary
from ml_connector.runtime.clients import open_clients
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.leases import held, lease_name
from ml_connector.store import Store
from ml_connector.store.records import AttentionItem, AuditRecord
from ml_connector.store.states import AttentionState, AuditAction

#: flow names as commands spell them (``flows/registry.py``) and as the store and audit do
STORE_FLOWS = {
    "suppliers": "suppliers",
    "purchase-orders": "purchase_orders",
    "purchase_orders": "purchase_orders",
    "receipts": "receipts",
    "invoices": "invoices",
    "payments": "payments",
}
RECEIVABLES = ("invoices", "payments")
#: the attempt's audit action that means the record went through
PROCESSED_ACTIONS = frozenset(
    {AuditAction.CREATE, AuditAction.UPDATE, AuditAction.ADOPT, AuditAction.SKIP}
)
STILL_FAILING = (AuditAction.FAIL, AuditAction.ATTENTION)


def store_flow(name: str) -> str:
    """The store's name of a flow given either way (``purchase-orders`` → ``purchase_orders``)."""
    try:
        return STORE_FLOWS[name.strip().lower()]
    except KeyError:
        known = ", ".join(n for n in STORE_FLOWS if n != "purchase_orders")
        raise ConfigError(f"unknown flow {name!r}; one of {known}") from None


class RecordRef(NamedTuple):
    """One source record of one flow of one connection (``flow`` in either spelling)."""

    connection: str
    flow: str
    source_id: str

    def normalised(self) -> RecordRef:
        return RecordRef(self.connection, store_flow(self.flow), self.source_id.strip())

    def __str__(self) -> str:
        return f"{self.connection}/{self.flow} {self.source_id}"


class ReplayStatus(StrEnum):
    PROCESSED = "processed"
    ATTENTION = "attention"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class ReplayOutcome:
    """How one record ended: processed, still needing attention (``reason`` and ``message``) or
    failed (``message`` is the error). ``audit_id`` is the new attempt's row, when there is one."""

    ref: RecordRef
    status: ReplayStatus
    action: AuditAction | None = None
    audit_id: int | None = None
    reason: str | None = None
    message: str | None = None
    attention_id: int | None = None
    #: the flow could not read this one record, so it made a full pass
    full_pass: bool = False
    note: str | None = None


# -- selection (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Selection:
    """Records whose latest audit row is still a failure, and those processed since."""

    replay: list[AuditRecord] = field(default_factory=list)
    already_processed: list[AuditRecord] = field(default_factory=list)


def split_failed(latest: Iterable[AuditRecord]) -> Selection:
    """Split the latest row of each record (from ``AuditRepo.latest_per_record``): a ``fail`` or
    ``attention`` row is replayed, once per record; any other means a later attempt went through."""
    replay: dict[RecordRef, AuditRecord] = {}
    done: dict[RecordRef, AuditRecord] = {}
    for row in sorted(latest, key=lambda r: r.id):
        if not replayable(row.flow):
            continue  # e.g. ``match`` rows: a review decision, not a record a flow can replay
        ref = ref_of(row)
        replay.pop(ref, None)
        done.pop(ref, None)
        (replay if row.action in STILL_FAILING else done)[ref] = row
    return Selection(replay=list(replay.values()), already_processed=list(done.values()))


def replayable(flow: str) -> bool:
    """Whether audit rows of ``flow`` belong to a flow that replay can run."""
    return flow.strip().lower() in STORE_FLOWS


def ref_of(row: AuditRecord) -> RecordRef:
    return RecordRef(row.connection, store_flow(row.flow), row.source_id)


def pick_record(
    source_id: str,
    candidates: Iterable[tuple[str, str]],
    *,
    connection: str | None = None,
    flow: str | None = None,
) -> RecordRef | None:
    """The one (connection, flow) of ``candidates`` that fits the filters; None if none does; a
    :class:`ConfigError` listing the choices if several do."""
    wanted = store_flow(flow) if flow is not None else None
    fits = sorted(
        {
            RecordRef(c, store_flow(f), source_id)
            for c, f in candidates
            if replayable(f)
            and (connection is None or c == connection)
            and (wanted is None or store_flow(f) == wanted)
        }
    )
    if len(fits) > 1:
        choices = ", ".join(
            f"--connection {r.connection} --flow {r.flow.replace('_', '-')}" for r in fits
        )
        raise ConfigError(
            f"source id {source_id} names records of several flows or connections; "
            f"pick one: {choices}"
        )
    return fits[0] if fits else None


# -- replay -------------------------------------------------------------------------------------


async def replay_items(app_ctx: AppContext, item_ids: list[int], who: str) -> list[AttentionItem]:
    """Mark each attention item replayed and process its record again; return the items as they
    end up (resolved on success, open again with the new reason otherwise)."""
    store = app_ctx.open_store()
    try:
        async with store.transaction() as tx:
            items = []
            for item_id in item_ids:
                item = await tx.attention.get(item_id)
                if item is None:
                    raise ConfigError(f"attention item {item_id} does not exist")
                if item.state not in (AttentionState.OPEN, AttentionState.REPLAYED):
                    raise ConfigError(
                        f"attention item {item_id} is {item.state.value}: there is nothing to replay"
                    )
                items.append(item)
    finally:
        await store.close()
    await replay_records(
        app_ctx, [RecordRef(i.connection, i.flow, i.source_id) for i in items], who
    )
    store = app_ctx.open_store()
    try:
        async with store.transaction() as tx:
            return [await tx.attention.get(item.id) or item for item in items]
    finally:
        await store.close()


async def replay_records(
    app_ctx: AppContext, refs: list[RecordRef], who: str
) -> list[ReplayOutcome]:
    """Process each record once more (duplicates count once) and say how each ended, in order."""
    wanted = list(dict.fromkeys(ref.normalised() for ref in refs))
    if not wanted:
        return []
    settings = app_ctx.config.settings
    guid = settings.application_guid
    if not guid:
        raise ConfigError(
            "application_guid is not set in the config (ml-connector init writes one): "
            "it marks our records in ServiceTitan"
        )
    for connection in sorted({ref.connection for ref in wanted}):
        settings.connection(connection)  # an unknown one is a one-line error before any work
    store = app_ctx.open_store()
    try:
        async with AsyncExitStack() as leases:
            holder = f"replay:{os.getpid()}"
            groups = {lease_name(r.connection, r.flow): r for r in wanted}
            for name in sorted(groups):
                ref = groups[name]
                await leases.enter_async_context(
                    held(store, ref.connection, ref.flow, holder=holder)
                )
            marks, items = await _prepare(store, wanted, who)
            notes: dict[RecordRef, _Note] = {}
            for connection in sorted({ref.connection for ref in wanted}):
                clients = await open_clients(app_ctx, store, connection)
                try:
                    ctx = clients.flow_context(
                        store=store, clock=app_ctx.clock, application_guid=guid
                    )
                    mine = [ref for ref in wanted if ref.connection == connection]
                    notes.update(await _Replayer(ctx=ctx, items=items).run(mine))
                finally:
                    await clients.aclose()
        return await _outcomes(store, wanted, marks, notes)
    finally:
        await store.close()


@dataclass(kw_only=True)
class _Note:
    full_pass: bool = False
    note: str | None = None
    error: str | None = None


async def _prepare(
    store: Store, refs: list[RecordRef], who: str
) -> tuple[dict[RecordRef, int], dict[RecordRef, AttentionItem]]:
    """Each record's last audit id before the replay, and its active attention item, now marked
    replayed (an item already replayed and left so by a transient failure is taken as it is)."""
    marks: dict[RecordRef, int] = {}
    items: dict[RecordRef, AttentionItem] = {}
    async with store.transaction() as tx:
        for ref in refs:
            history = await tx.audit.history(*ref)
            marks[ref] = max((row.id for row in history), default=0)
            item = await tx.attention.find_active(*ref)
            if item is not None and item.state is AttentionState.OPEN:
                item = await tx.attention.mark_replayed(item.id, by=who)
            if item is not None:
                items[ref] = item
    return marks, items


async def _outcomes(
    store: Store, refs: list[RecordRef], marks: dict[RecordRef, int], notes: dict[RecordRef, _Note]
) -> list[ReplayOutcome]:
    out = []
    async with store.transaction() as tx:
        for ref in refs:
            note = notes.get(ref, _Note())
            new = [r for r in await tx.audit.history(*ref) if r.id > marks[ref] and not r.dry_run]
            item = await tx.attention.find_active(*ref)
            common: dict[str, Any] = {
                "ref": ref,
                "full_pass": note.full_pass,
                "note": note.note,
                "attention_id": item.id if item is not None else None,
            }
            if not new:
                message = note.error or (
                    f"the full pass of {ref.flow} did not read it (out of scope, or gone)"
                    if note.full_pass
                    else "no attempt was made"
                )
                out.append(ReplayOutcome(status=ReplayStatus.FAILED, message=message, **common))
                continue
            last = max(new, key=lambda r: r.id)
            common.update(action=last.action, audit_id=last.id)
            if last.action in PROCESSED_ACTIONS:
                out.append(ReplayOutcome(status=ReplayStatus.PROCESSED, **common))
            elif last.action is AuditAction.ATTENTION:
                reason = item.reason if item else (last.response_summary or {}).get("reason")
                said = item.message if item else last.error_message
                out.append(
                    ReplayOutcome(
                        status=ReplayStatus.ATTENTION, reason=reason, message=said, **common
                    )
                )
            else:
                out.append(
                    ReplayOutcome(status=ReplayStatus.FAILED, message=last.error_message, **common)
                )
    return out


@dataclass(kw_only=True)
class _Replayer:
    """Reads one connection's records again, each the narrowest way its flow allows."""

    ctx: FlowContext
    items: dict[RecordRef, AttentionItem]
    notes: dict[RecordRef, _Note] = field(default_factory=dict)

    async def run(self, refs: list[RecordRef]) -> dict[RecordRef, _Note]:
        by_flow: dict[str, list[RecordRef]] = {}
        for ref in refs:
            self.notes[ref] = _Note()
            by_flow.setdefault(ref.flow, []).append(ref)
        await self._receivables(by_flow.get("invoices", []), by_flow.get("payments", []))
        full: dict[str, list[RecordRef]] = {"suppliers": by_flow.get("suppliers", [])}
        full["purchase_orders"] = await self._purchase_orders(by_flow.get("purchase_orders", []))
        full["receipts"] = await self._receipts(by_flow.get("receipts", []))
        for flow, pending in full.items():
            if pending:
                await self._full_pass(flow, pending)
        return self.notes

    def _fail(self, refs: Iterable[RecordRef], error: str) -> None:
        for ref in refs:
            self.notes[ref].error = error

    async def _receivables(self, invoices: list[RecordRef], payments: list[RecordRef]) -> None:
        ctx = self.ctx
        numeric = [ref for ref in invoices + payments if ref.source_id.isdigit()]
        for ref in invoices + payments:
            if ref not in numeric:
                self.notes[ref].error = f"{ref.source_id!r} is not a ServiceTitan id"
        invoice_ids = [int(r.source_id) for r in invoices if r in numeric]
        payment_ids = [int(r.source_id) for r in payments if r in numeric]
        posted = False
        if invoice_ids:
            try:
                done = await InvoiceFlow(ctx).sync_ids(invoice_ids)
                posted = done.created + done.adopted > 0
            except RetriableError as exc:
                self._fail([r for r in invoices if r in numeric], str(exc))
        if payment_ids or posted:
            flow = PaymentFlow(ctx)
            try:
                summary = await flow.sync_ids(payment_ids) if payment_ids else flow.new_summary()
                if posted:  # payments waiting for an invoice posted now are applied now
                    await flow.retry_waiting(summary, skip=payment_ids)
            except RetriableError as exc:
                self._fail([r for r in payments if r in numeric], str(exc))
        for ref in invoices + payments:
            if ref in numeric and not self.notes[ref].error:
                self.notes[
                    ref
                ].error = f"{ref.flow[:-1]} {ref.source_id} was not found in ServiceTitan"

    async def _purchase_orders(self, refs: list[RecordRef]) -> list[RecordRef]:
        """POs whose order number is known are fetched one by one; the rest are returned."""
        if not refs:
            return []
        flow = PurchaseOrderFlow(self.ctx)
        summary = flow_summary(self.ctx, "purchase_orders")
        rest = []
        for ref in refs:
            number = await self._order_number(ref)
            try:
                po = await self.ctx.fusion.purchase_order(number) if number else None
            except RetriableError as exc:
                self.notes[ref].error = str(exc)
                continue
            if po is None or str(po.POHeaderId) != ref.source_id:
                rest.append(ref)
                continue
            self.notes[ref].note = f"read by order number {number}"
            await flow.sync(po, summary)
        return rest

    async def _order_number(self, ref: RecordRef) -> str | None:
        item = self.items.get(ref)
        if item is not None and isinstance(item.source_record, dict):
            number = item.source_record.get("OrderNumber")
            if number:
                return str(number)
        async with self.ctx.store.transaction() as tx:
            history = await tx.audit.history(*ref)
        for row in reversed(history):
            for decision in row.decisions or []:
                if decision.get("rule") == "memo" and decision.get("source_value"):
                    return str(decision["source_value"])
        return None

    async def _receipts(self, refs: list[RecordRef]) -> list[RecordRef]:
        """Receipts whose ServiceTitan PO is known are read from that PO's receipts (there is no
        GET by id); the rest are returned."""
        if not refs:
            return []
        flow = ReceiptFlow(self.ctx)
        summary = flow_summary(self.ctx, "receipts")
        rest = []
        for ref in refs:
            item = self.items.get(ref)
            record = item.source_record if item is not None else None
            po_id = record.get("purchaseOrderId") if isinstance(record, dict) else None
            if not isinstance(po_id, int):
                rest.append(ref)
                continue
            try:
                found = [
                    receipt
                    async for receipt in self.ctx.servicetitan.receipts_changed_since(
                        None, purchase_order_ids=[po_id]
                    )
                    if str(receipt.id) == ref.source_id
                ]
            except RetriableError as exc:
                self.notes[ref].error = str(exc)
                continue
            if not found:
                self.notes[
                    ref
                ].error = f"receipt {ref.source_id} is not among ServiceTitan PO {po_id}'s receipts"
                continue
            self.notes[ref].note = f"read from ServiceTitan PO {po_id}'s receipts"
            await flow.sync(found[0], summary)
        return rest

    async def _full_pass(self, flow: str, refs: list[RecordRef]) -> None:
        why = (
            "Fusion suppliers cannot be read one by one"
            if flow == "suppliers"
            else "the record could not be read on its own"
        )
        for ref in refs:
            self.notes[ref].full_pass = True
            self.notes[ref].note = f"full pass of {flow} ({why}; unchanged records skipped)"
        try:
            await make_flow(flow.replace("_", "-"), self.ctx).run(full=True)
        except RetriableError as exc:
            self._fail(refs, str(exc))


def flow_summary(ctx: FlowContext, flow: str) -> RunSummary:
    """An empty run summary for records synced one at a time, outside a run."""
    return RunSummary(
        flow=flow, connection=ctx.connection, started_at=ctx.clock.now(), dry_run=ctx.dry_run
    )
