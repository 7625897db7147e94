"""F5: ServiceTitan payments → Fusion standard receipts, applied to the invoices (issue 6, 0007).

Read ``export/payments`` from the stored ``continueFrom`` token; per payment:

- refunds and reversals → attention (by :func:`~ml_connector.mapping.payments.map_payment`);
- applied to an invoice ServiceTitan does not consider eligible → attention, nothing posted;
- customer (:mod:`.customers`), map, validate (:mod:`.receivables_validation`), then the receipt is
  created exactly once, looked up by ``ReceiptNumber`` (:mod:`.exactly_once`);
- each ``appliedTo`` entry is applied to the invoice's installment (``applyReceipt``) and stored
  as a link (``receipt_application``, key ``paymentId:invoiceId``): never applied twice, and one
  added later in ServiceTitan is applied on the next look. An invoice not yet in Fusion leaves the
  application *waiting*; waiting payments are fetched again after every run. ``applyReceipt`` has
  no business key, so a lost answer is settled by the installment balance, else by a person.
- ``ActionUnavailable`` (a pod before 26C) or ``apply_method = "attention"``: the receipt stays
  unapplied and the payment goes to attention "apply in Fusion" — never silently on account.
- finally ``payments/status`` = Exported (retried until ServiceTitan accepted it).

A page's payments are synced ``ctx.concurrency`` at a time; one that failed transiently is parked
in the inbox (:mod:`.parking`) in the transaction that stores the page's token.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from ml_connector.errors import NeedsAttentionError, RetriableError
from ml_connector.mapping.decisions import version_hash
from ml_connector.mapping.payments import ReceiptPlan, map_payment, receipt_number
from ml_connector.store import Tx
from ml_connector.store.states import AuditAction
from ml_connector.systems.fusion.errors import ActionUnavailable
from ml_connector.systems.servicetitan import models as st

from . import invoices
from .applications import APPLICATION, WAITING, Applier
from .base import Attempt, FlowContext, attempt, receivable_attempt, succeed
from .customers import CustomerResolver, remember
from .exactly_once import create_once, finish
from .ineligible import settle_before_skip
from .parking import sync_feed
from .receivables_validation import ReceivablesValidator
from .summary import Outcome, RunSummary

FLOW = "payments"
ENTITY = "payment"
EXPORT_MARK = "payment_export_mark"
BY_HAND = "apply_in_fusion"
log = logging.getLogger(__name__)


def unposted_reason(payment: st.Payment) -> str | None:
    """Why a payment the connector has not posted yet is left alone (an audited skip); None if it
    may post. Once posted (a link exists), later changes are followed whatever these say."""
    if not payment.active:
        return "inactive payment"
    if payment.syncStatus == "Exported":
        return "syncStatus Exported before the connector posted it"
    return None


class PaymentFlow:
    """One connection's F5. ``run`` is one polling cycle; ``sync`` handles one payment."""

    def __init__(self, ctx: FlowContext, *, validator: ReceivablesValidator | None = None) -> None:
        self.ctx = ctx
        self.validator = validator or ReceivablesValidator.for_context(ctx)
        self.customers = CustomerResolver(ctx=ctx)
        self.applier = Applier(ctx=ctx)

    def new_summary(self) -> RunSummary:
        ctx = self.ctx
        return RunSummary(
            flow=FLOW, connection=ctx.connection, started_at=ctx.clock.now(), dry_run=ctx.dry_run
        )

    async def run(self, *, since: datetime | None = None, full: bool = False) -> RunSummary:
        ctx = self.ctx
        summary = self.new_summary()
        seen = await sync_feed(
            ctx,
            flow=FLOW,
            entity=ENTITY,
            open_feed=lambda start: ctx.servicetitan.payment_feed(start),
            sync=lambda p: self.sync(p, summary),
            after_batch=self.mark_pending,
            since=since,
            full=full,
        )
        await self.retry_waiting(summary, skip=seen)
        summary.ended_at = ctx.clock.now()
        return summary

    async def retry_waiting(self, summary: RunSummary, *, skip: Iterable[int] = ()) -> None:
        """Payments with an application waiting for its invoice: fetched and synced again."""
        ctx = self.ctx
        async with ctx.store.transaction() as tx:
            waiting = await tx.links.by_target(ctx.connection, WAITING, "waiting")
        ids = {int(w.source_id.split(":")[0]) for w in waiting} - set(skip)
        if ids:
            await self.sync_ids(sorted(ids), summary)

    async def sync_ids(self, ids: Iterable[int], summary: RunSummary | None = None) -> RunSummary:
        """Fetch payments by id and sync them (replay, inbox events, waiting applications)."""
        summary = summary or self.new_summary()
        for payment in await self.ctx.servicetitan.payments_by_ids(ids):
            await self.sync(payment, summary)
        await self.mark_pending()
        summary.ended_at = self.ctx.clock.now()
        return summary

    async def sync(self, payment: st.Payment, summary: RunSummary) -> bool:
        record = receivable_attempt(FLOW, payment, self.ctx.clock.now())
        return await attempt(self.ctx, summary, record, lambda r: self._work(payment, r))

    async def _work(self, payment: st.Payment, record: Attempt) -> Outcome:
        ctx = self.ctx
        d = record.decisions
        async with ctx.store.transaction() as tx:
            link = await tx.links.get(ctx.connection, ENTITY, record.source_id)
        if link is None and unposted_reason(payment) is not None:
            d.add("eligibility", f"active={payment.active}, syncStatus {payment.syncStatus}")
            await self._unposted_or_attention(payment)
            async with ctx.store.transaction() as tx:
                await succeed(tx, ctx, record, AuditAction.SKIP, target_id=None)
            return Outcome.SKIPPED
        customer = await self.customers.resolve(payment.customer, f"payment {payment.id}", d)
        mapped = map_payment(
            payment,
            customer.account_number,
            ctx.mapping.receivables,
            timezone=ctx.settings.timezone,
        )
        d.items.extend(mapped.decisions)
        plan = mapped.payload
        # the receipt's own content; applications are settled one by one (links), so one added
        # later in ServiceTitan is applied on the next look instead of needing a person
        body_hash = version_hash(plan.payload)
        request = {"ReceiptNumber": plan.payload["ReceiptNumber"], "payload_hash": body_hash}
        if link is not None:
            if link.version_hash != body_hash:
                raise NeedsAttentionError(
                    "changed_after_posting",
                    f"payment {payment.id} changed after its receipt "
                    f"{plan.payload['ReceiptNumber']} was created in Fusion (amount, date, method "
                    "or customer)",
                    suggestion="correct the receipt or its applications in Fusion by hand, then "
                    "resolve this item",
                )
            await self._check_invoices(payment, plan)
            applied = await self._settle(payment.id, plan, int(link.target_id), record)
            if not applied:
                d.add("version", "unchanged since the receipt was created", target=link.target_id)
            async with ctx.store.transaction() as tx:
                action = AuditAction.UPDATE if applied else AuditAction.SKIP
                await succeed(tx, ctx, record, action, target_id=link.target_id, request=request)
            return Outcome.UPDATED if applied else Outcome.UNCHANGED
        await self._check_invoices(payment, plan)
        await self.validator.receipt(plan.payload)
        d.add("validation", "business unit, receipt method, currency, account")
        if ctx.dry_run:
            async with ctx.store.transaction() as tx:
                await succeed(tx, ctx, record, AuditAction.CREATE, target_id=None, request=request)
            return Outcome.CREATED
        number = plan.payload["ReceiptNumber"]

        async def lookup(_since: datetime | None) -> str | None:
            found = await ctx.fusion.find_receipt(number)
            if found is None:
                return None
            d.add("adopt", f"receipt {number} found in Fusion", target=found.StandardReceiptId)
            return str(found.StandardReceiptId)

        async def create() -> str:
            return str((await ctx.fusion.create_receipt(plan.payload)).StandardReceiptId)

        created = await create_once(
            ctx,
            flow=FLOW,
            target_system="fusion",
            business_key=f"{ENTITY}:{number}",
            payload_hash=body_hash,
            lookup=lookup,
            create=create,
        )
        async with ctx.store.transaction() as tx:
            await finish(tx, created)
            await self._link(tx, ENTITY, record.source_id, created.target_id, body_hash)
            await self._link(tx, EXPORT_MARK, record.source_id, invoices.PENDING, None)
            await remember(tx, ctx, customer)
        await self._settle(payment.id, plan, int(created.target_id), record)
        async with ctx.store.transaction() as tx:
            await succeed(
                tx,
                ctx,
                record,
                AuditAction.ADOPT if created.adopted else AuditAction.CREATE,
                target_id=created.target_id,
                request=request,
            )
        return Outcome.ADOPTED if created.adopted else Outcome.CREATED

    async def _unposted_or_attention(self, payment: st.Payment) -> None:
        """An ineligible payment is skipped only when no earlier create of its receipt may have
        committed: with a pending intent (a lost answer) the receipt is looked up first — found
        means Fusion holds a receipt for a payment no longer valid, which a person reverses."""
        ctx = self.ctx
        number = receipt_number(ctx.mapping.receivables, payment.id)
        business_key = f"{ENTITY}:{number}"
        async with ctx.store.transaction() as tx:
            pending = await tx.writes.pending(ctx.connection, FLOW, business_key)

        async def find() -> str | None:
            found = await ctx.fusion.find_receipt(number)
            return None if found is None else str(found.StandardReceiptId)

        await settle_before_skip(
            ctx,
            pending,
            find,
            what=f"payment {payment.id} (receipt {number})",
            why=f"active={payment.active}, syncStatus {payment.syncStatus}",
        )

    async def _check_invoices(self, payment: st.Payment, plan: ReceiptPlan) -> None:
        """A payment applied to an invoice that will never post needs a person before posting."""
        ctx = self.ctx
        unlinked: list[int] = []
        async with ctx.store.transaction() as tx:
            for app in plan.applications:
                if (
                    await tx.links.get(ctx.connection, invoices.ENTITY, str(app.st_invoice_id))
                    is None
                ):
                    unlinked.append(app.st_invoice_id)
        if not unlinked:
            return
        found = {i.id: i for i in await ctx.servicetitan.invoices_by_ids(unlinked)}
        for ident in unlinked:
            invoice = found.get(ident)
            why = "does not exist" if invoice is None else invoices.eligible(invoice, ctx)
            if why is not None:
                raise NeedsAttentionError(
                    "payment_invoice_not_eligible",
                    f"payment {payment.id} is applied to invoice {ident}, which is not eligible "
                    f"for posting ({why})",
                    suggestion="make the invoice eligible (review it) or correct the payment's "
                    "applications in ServiceTitan, then replay",
                )

    async def _settle(
        self, payment_id: int, plan: ReceiptPlan, receipt_id: int, record: Attempt
    ) -> int:
        """Apply every application that can be applied now; returns how many were applied.
        Raises attention when applying must be done by a person."""
        ctx = self.ctx
        d = record.decisions
        applied = 0
        by_hand: list[tuple[str, str]] = []
        for app in plan.applications:
            key = f"{payment_id}:{app.st_invoice_id}"
            async with ctx.store.transaction() as tx:
                done = await tx.links.get(ctx.connection, APPLICATION, key)
                invoice = await tx.links.get(
                    ctx.connection, invoices.ENTITY, str(app.st_invoice_id)
                )
                if done is None and invoice is None:
                    await self._link(tx, WAITING, key, "waiting", None)
            if done is not None:
                continue
            if invoice is None:
                d.add(
                    "application",
                    f"waits for invoice {app.st_invoice_id} to post",
                    target=str(app.amount),
                )
                continue
            if ctx.mapping.receivables.apply_method == "attention":
                by_hand.append((key, f"{app.amount} to invoice {app.st_invoice_id}"))
                continue
            try:
                await self.applier.apply(key, app, receipt_id, int(invoice.target_id))
            except ActionUnavailable:
                by_hand.append((key, f"{app.amount} to invoice {app.st_invoice_id}"))
                continue
            d.add("application", f"applied to invoice {app.st_invoice_id}", target=str(app.amount))
            applied += 1
        async with ctx.store.transaction() as tx:
            for key, _text in by_hand:
                # a person applies it; the connector does not try again
                await self._link(tx, APPLICATION, key, BY_HAND, None)
            earlier = await self._unresolved_by_hand(tx, payment_id, plan)
        if by_hand or earlier:
            # the attention item is one per payment and its message is replaced: it names every
            # by-hand application still open, not only this run's (invoices post at different
            # times), and it stays open while one is — even when this run applied the rest itself
            texts = [*earlier, *(text for key, text in by_hand if text not in earlier)]
            raise NeedsAttentionError(
                "apply_in_fusion",
                f"receipt {plan.payload['ReceiptNumber']} was created unapplied: apply "
                + "; ".join(texts),
                suggestion="apply the receipt in Fusion (this pod has no applyReceipt action, or "
                "apply_method is 'attention'), then resolve this item",
            )
        return applied

    async def _unresolved_by_hand(self, tx: Tx, payment_id: int, plan: ReceiptPlan) -> list[str]:
        """By-hand applications of the payment named by its still open "apply in Fusion" item
        (once a person resolved that item, they are done and not named again)."""
        ctx = self.ctx
        item = await tx.attention.find_active(ctx.connection, FLOW, str(payment_id))
        if item is None or item.reason != "apply_in_fusion":
            return []
        texts: list[str] = []
        for app in plan.applications:
            done = await tx.links.get(
                ctx.connection, APPLICATION, f"{payment_id}:{app.st_invoice_id}"
            )
            if done is not None and done.target_id == BY_HAND:
                texts.append(f"{app.amount} to invoice {app.st_invoice_id}")
        return texts

    async def _link(
        self, tx: Tx, entity: str, source_id: str, target_id: str, digest: str | None
    ) -> None:
        await tx.links.upsert(
            connection=self.ctx.connection,
            entity=entity,
            source_system="servicetitan",
            source_id=source_id,
            target_system="fusion",
            target_id=target_id,
            version_hash=digest,
        )

    async def mark_pending(self) -> None:
        """``payments/status`` = Exported for receipts created; idempotent, retried next run."""
        ctx = self.ctx
        if ctx.dry_run:
            return
        async with ctx.store.transaction() as tx:
            pending = await tx.links.by_target(ctx.connection, EXPORT_MARK, invoices.PENDING)
        if not pending:
            return
        try:
            await ctx.servicetitan.set_payment_status(
                [int(p.source_id) for p in pending], "Exported"
            )
        except RetriableError as exc:
            log.warning("servicetitan payments/status failed, retried next run: %s", exc)
            return
        async with ctx.store.transaction() as tx:
            for p in pending:
                await self._link(tx, EXPORT_MARK, p.source_id, invoices.DONE, None)
