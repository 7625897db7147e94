"""The inbox worker: webhook events for invoices and payments → the same per-record code as polling.

An event is a hint, never the record (DESIGN §5 "Webhooks"): the worker fetches the current
invoice or payment by id through the API and hands it to :meth:`InvoiceFlow.sync` /
:meth:`PaymentFlow.sync`, so duplicates and out-of-order deliveries are harmless — the second
look finds the record linked and unchanged, and exactly one Fusion document exists.

Per claimed item (leases from the injected clock, so a crashed worker's items come back):

- unknown entity types or a missing/malformed entity id → ``ignore`` with the reason (kept, visible);
- a record that no longer exists in ServiceTitan → ``ignore``;
- a transient failure (fetch, or the record's attempt held back) → ``retry_later`` with exponential
  backoff (10 s doubling to an hour), until the item has been tried ``max_attempts`` times *and*
  ``ctx.retry_window`` has passed since its first failed try (decision 0013) → ``fail``, and the
  record goes to attention ``retries_exhausted`` in the same transaction unless it is there
  already (a parked retry may be all that still points at it, and a record whose fetch kept
  failing never reached its own limit);
- otherwise ``complete`` — only after the record's writes are durable (``sync`` returns after its
  success transaction).

Items are processed ``ctx.concurrency`` at a time, the items of one record one after the other.
Besides webhook events the inbox holds records parked by the polling runs (:mod:`.parking`).

After invoices post, payments waiting for them are retried at once ("applied after the invoice
posts"), and posted invoices are marked exported.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from ml_connector.errors import RetriableError
from ml_connector.store.records import InboxItem
from ml_connector.store.states import AuditAction

from .base import Attempt, FlowContext, sync_each
from .invoices import InvoiceFlow
from .payments import PaymentFlow
from .summary import RunSummary

log = logging.getLogger(__name__)
HANDLED = ("invoice", "payment")
#: the flow of each handled entity (the attention item of a record whose item failed for good)
FLOWS = {"invoice": "invoices", "payment": "payments"}


@dataclass(kw_only=True)
class WorkerSummary:
    claimed: int = 0
    completed: int = 0
    ignored: int = 0
    retried: int = 0
    failed: int = 0
    invoices: RunSummary | None = None
    payments: RunSummary | None = None


@dataclass(kw_only=True)
class InboxWorker:
    ctx: FlowContext
    worker_id: str = field(default_factory=lambda: f"inbox-{uuid.uuid4().hex[:12]}")
    lease_seconds: float = 300.0
    batch: int = 50
    max_attempts: int = 8
    base_delay: float = 10.0
    max_delay: float = 3600.0

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` tries: 10 s, 20 s, 40 s … capped."""
        return float(min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1)))

    def exhausted(self, item: InboxItem) -> bool:
        """Tried enough times over long enough to give up on (tries and time, as a record's own
        limit: under steady faults a few quick failures are bad luck, not an outage)."""
        now = self.ctx.clock.now()
        age = now - (item.first_failed_at or now)
        return item.attempts >= self.max_attempts and age >= self.ctx.retry_window

    async def drain(self, *, max_rounds: int = 1000) -> WorkerSummary:
        """Process due items until none is left (items retried later are not waited for)."""
        total = WorkerSummary()
        invoices, payments = InvoiceFlow(self.ctx), PaymentFlow(self.ctx)
        total.invoices, total.payments = invoices.new_summary(), payments.new_summary()
        for _ in range(max_rounds):
            if not await self._round(total, invoices, payments):
                break
        return total

    async def run_once(self) -> WorkerSummary:
        """One claim of up to ``batch`` items."""
        total = WorkerSummary()
        invoices, payments = InvoiceFlow(self.ctx), PaymentFlow(self.ctx)
        total.invoices, total.payments = invoices.new_summary(), payments.new_summary()
        await self._round(total, invoices, payments)
        return total

    async def _round(
        self, total: WorkerSummary, invoices: InvoiceFlow, payments: PaymentFlow
    ) -> int:
        ctx = self.ctx
        async with ctx.store.transaction() as tx:
            items = await tx.inbox.claim(
                worker=self.worker_id,
                limit=self.batch,
                lease_seconds=self.lease_seconds,
                connection=ctx.connection,
            )
        total.claimed += len(items)

        def posted() -> int:
            return total.invoices.created + total.invoices.adopted if total.invoices else 0

        before = posted()

        async def one(item: InboxItem) -> bool:
            await self._one(item, total, invoices, payments)
            return True

        # side by side, ``ctx.concurrency`` at a time; events of one record one after the other
        await sync_each(ctx, items, one, key=lambda i: (i.entity_type, (i.entity_id or "").strip()))
        if items:
            await invoices.mark_pending()
            if posted() > before and total.payments is not None:
                await payments.retry_waiting(total.payments)
            await payments.mark_pending()
        return len(items)

    async def _one(
        self, item: InboxItem, total: WorkerSummary, invoices: InvoiceFlow, payments: PaymentFlow
    ) -> None:
        ctx = self.ctx
        entity_id = (item.entity_id or "").strip()
        reason: str | None = None
        if item.entity_type not in HANDLED:
            reason = f"event type {item.event_type!r} is not handled (entity {item.entity_type})"
        elif not entity_id.isdigit():
            reason = f"event {item.event_type!r} has no usable entity id ({item.entity_id!r})"
        if reason is not None:
            async with ctx.store.transaction() as tx:
                await tx.inbox.ignore(item.id, worker=self.worker_id, reason=reason)
            total.ignored += 1
            return
        ident = int(entity_id)
        try:
            if item.entity_type == "invoice":
                assert total.invoices is not None
                rows_i = await ctx.servicetitan.invoices_by_ids([ident])
                passed = await invoices.sync(rows_i[0], total.invoices) if rows_i else None
            else:
                assert total.payments is not None
                rows_p = await ctx.servicetitan.payments_by_ids([ident])
                passed = await payments.sync(rows_p[0], total.payments) if rows_p else None
        except RetriableError as exc:
            await self._retry(item, total, str(exc))
            return
        except Exception as exc:  # a bug or an outage the flow did not classify: keep the event
            log.exception("inbox item %s (%s %s) failed", item.id, item.entity_type, ident)
            await self._retry(item, total, f"{type(exc).__name__}: {exc}")
            return
        async with ctx.store.transaction() as tx:
            if passed is None:
                await tx.inbox.ignore(
                    item.id, worker=self.worker_id, reason=f"{item.entity_type} {ident} not found"
                )
                total.ignored += 1
            elif passed:
                await tx.inbox.complete(item.id, worker=self.worker_id)
                total.completed += 1
        if passed is False:
            await self._retry(item, total, "the record failed transiently; see its audit")

    async def _retry(self, item: InboxItem, total: WorkerSummary, error: str) -> None:
        ctx = self.ctx
        async with ctx.store.transaction() as tx:
            if self.exhausted(item):
                await tx.inbox.fail(item.id, worker=self.worker_id, error=error[:2000])
                # The item may be all that still points at the record (a parked retry: the feed
                # has moved past it), and a record whose fetch kept failing never reached its own
                # attempt limit: a person hears of it here, in the same transaction.
                flow = FLOWS[item.entity_type or ""]
                source_id = (item.entity_id or "").strip()
                active = await tx.attention.find_active(ctx.connection, flow, source_id)
                if active is None and not ctx.dry_run:
                    # the audit row ends the record's streak of failures: a later failure (a
                    # replay, a webhook days on) starts a new one instead of counting this one
                    await tx.audit.append(
                        Attempt(
                            flow=flow,
                            source_system="servicetitan",
                            source_id=source_id,
                            source_version=None,
                            target_system="fusion",
                            started_at=ctx.clock.now(),
                        ).audit(
                            ctx,
                            AuditAction.ATTENTION,
                            error=RetriableError(error[:2000]),
                            response={"reason": "retries_exhausted", "inbox_item": item.id},
                        )
                    )
                    await tx.attention.open(
                        connection=ctx.connection,
                        flow=flow,
                        source_system="servicetitan",
                        source_id=source_id,
                        reason="retries_exhausted",
                        message=f"{item.entity_type} {source_id}: inbox item {item.id} "
                        f"({item.origin}) failed {item.attempts} times since "
                        f"{(item.first_failed_at or ctx.clock.now()).isoformat(timespec='seconds')}"
                        f", last: {error[:500]}",
                        suggestion="check ServiceTitan's and Fusion's availability, then replay",
                    )
                total.failed += 1
            else:
                await tx.inbox.retry_later(
                    item.id,
                    worker=self.worker_id,
                    delay_seconds=self.backoff(item.attempts),
                    error=error[:2000],
                    first_failed_at=item.first_failed_at,
                )
                total.retried += 1
