"""F4: ServiceTitan job invoices → Fusion receivables invoices (DESIGN §1, issue 6, decision 0007).

Read ``export/invoices`` from the stored ``continueFrom`` token; per invoice:

- already linked → unchanged (version hash of the POST body) → skip; changed → attention
  "changed after posting" (Fusion's receivables PATCH cannot change lines or amounts);
- not eligible (review / sync status) → skip, audited; it is read again when it changes;
- customer (:mod:`.customers`) → business unit → bill-to site → map → validate against Fusion
  (:mod:`.receivables_validation`) → any failure is attention, nothing posted;
- create exactly once, looked up by ``TransactionNumber`` + ``TransactionSource``
  (:mod:`.exactly_once`); then in ONE transaction: intents, invoice + customer links, a pending
  "mark exported" marker, audit, attention resolved;
- ``invoices/markasexported`` with ``externalId`` = ``CustomerTransactionId``, per page; an item
  that fails stays pending and is retried at the end of every run — never a second POST.

A page's invoices are synced ``ctx.concurrency`` at a time. The token is stored after each page,
once its records are durable; an invoice that failed transiently is parked in the inbox in the
same transaction (:mod:`.parking`), so it is retried by id and never holds the feed back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ml_connector.errors import NeedsAttentionError, RetriableError
from ml_connector.mapping.decisions import version_hash
from ml_connector.mapping.invoices import BillTo, business_unit, map_invoice
from ml_connector.store.states import AuditAction
from ml_connector.systems.servicetitan import models as st
from ml_connector.systems.servicetitan.payloads import MarkExported

from .base import Attempt, FlowContext, attempt, receivable_attempt, succeed
from .customers import CustomerResolver, ResolvedCustomer, remember
from .exactly_once import create_once, finish
from .ineligible import invoice_before_skip
from .parking import sync_feed
from .receivables_validation import ReceivablesValidator
from .summary import Outcome, RunSummary

FLOW = "invoices"
ENTITY = "invoice"
#: marker links: ST invoice id → "pending" until ServiceTitan confirms markasexported, then "done"
EXPORT_MARK = "invoice_export_mark"
log = logging.getLogger(__name__)
PENDING = "pending"
DONE = "done"


def content_hash(payload: dict[str, Any]) -> str:
    """The version hash of what an invoice says; the bill-to site is looked up in Fusion, not
    taken from the invoice, so it is left out (a re-read of a posted invoice makes no lookup)."""
    return version_hash({k: v for k, v in payload.items() if k != "BillToSite"})


def eligible(invoice: st.Invoice, ctx: FlowContext) -> str | None:
    """None when the invoice may post; else why not (an audited skip, not attention)."""
    mapping = ctx.mapping.receivables
    if not invoice.active:
        return "inactive invoice"
    if (invoice.reviewStatus or "") not in mapping.eligible_review_statuses:
        return f"reviewStatus {invoice.reviewStatus} is not eligible"
    if (invoice.syncStatus or "") not in mapping.eligible_sync_statuses:
        return f"syncStatus {invoice.syncStatus} is not eligible"
    return None


class InvoiceFlow:
    """One connection's F4. ``run`` is one polling cycle; ``sync`` handles one invoice (the
    inbox worker calls it with a freshly fetched record)."""

    def __init__(self, ctx: FlowContext, *, validator: ReceivablesValidator | None = None) -> None:
        self.ctx = ctx
        self.validator = validator or ReceivablesValidator.for_context(ctx)
        self.customers = CustomerResolver(ctx=ctx)

    def new_summary(self) -> RunSummary:
        ctx = self.ctx
        return RunSummary(
            flow=FLOW, connection=ctx.connection, started_at=ctx.clock.now(), dry_run=ctx.dry_run
        )

    async def run(self, *, since: datetime | None = None, full: bool = False) -> RunSummary:
        ctx = self.ctx
        summary = self.new_summary()
        await sync_feed(
            ctx,
            flow=FLOW,
            entity=ENTITY,
            open_feed=lambda start: ctx.servicetitan.invoice_feed(start),
            sync=lambda i: self.sync(i, summary),
            after_batch=self.mark_pending,
            since=since,
            full=full,
        )
        summary.ended_at = ctx.clock.now()
        return summary

    async def sync_ids(self, ids: Iterable[int], summary: RunSummary | None = None) -> RunSummary:
        """Fetch invoices by id and sync them (replay, inbox events)."""
        summary = summary or self.new_summary()
        for invoice in await self.ctx.servicetitan.invoices_by_ids(ids):
            await self.sync(invoice, summary)
        await self.mark_pending()
        summary.ended_at = self.ctx.clock.now()
        return summary

    async def sync(self, invoice: st.Invoice, summary: RunSummary) -> bool:
        record = receivable_attempt(FLOW, invoice, self.ctx.clock.now())
        return await attempt(self.ctx, summary, record, lambda r: self._work(invoice, r))

    async def _map(
        self, invoice: st.Invoice, record: Attempt, *, posted: bool
    ) -> tuple[dict[str, Any], ResolvedCustomer]:
        """The POST body. For an invoice already posted no Fusion lookup is made: it is only
        compared with what was posted, whatever Fusion's customer data says today."""
        ctx = self.ctx
        d = record.decisions
        customer = await self.customers.resolve(invoice.customer, f"invoice {invoice.id}", d)
        target = business_unit(ctx.mapping.receivables, invoice, d)
        site: str | None = None
        if not posted:
            site = await self.validator.bill_to_site(
                customer.account_number, target.fusion_business_unit
            )
            d.add(
                "bill_to_site", f"active bill-to site in {target.fusion_business_unit}", target=site
            )
        bill_to = BillTo(account_number=customer.account_number, site_number=site, how=customer.how)
        mapped = map_invoice(
            invoice, bill_to, ctx.mapping.receivables, timezone=ctx.settings.timezone
        )
        d.items.extend(m for m in mapped.decisions if m.rule != "business_unit")
        return mapped.payload, customer

    async def _work(self, invoice: st.Invoice, record: Attempt) -> Outcome:
        ctx = self.ctx
        async with ctx.store.transaction() as tx:
            link = await tx.links.get(ctx.connection, ENTITY, record.source_id)
        if link is None:
            reason = eligible(invoice, ctx)
            if reason is not None:
                record.decisions.add("eligibility", reason, source=invoice.id)
                await invoice_before_skip(ctx, invoice, reason, flow=FLOW, entity=ENTITY)
                async with ctx.store.transaction() as tx:
                    await succeed(tx, ctx, record, AuditAction.SKIP, target_id=None)
                return Outcome.SKIPPED
        payload, customer = await self._map(invoice, record, posted=link is not None)
        body_hash = content_hash(payload)
        request = {
            "TransactionNumber": payload["TransactionNumber"],
            "total": str(invoice.total),
            "payload_hash": body_hash,
        }
        if link is not None:
            if link.version_hash == body_hash:
                record.decisions.add("version", "unchanged since posting", target=link.target_id)
                async with ctx.store.transaction() as tx:
                    await succeed(tx, ctx, record, AuditAction.SKIP, target_id=link.target_id)
                return Outcome.UNCHANGED
            raise NeedsAttentionError(
                "changed_after_posting",
                f"invoice {invoice.id} changed after it was posted to Fusion as "
                f"{payload['TransactionNumber']} (CustomerTransactionId {link.target_id}); "
                "receivables invoices cannot be changed through the API",
                suggestion="adjust the Fusion transaction by hand (credit memo or adjustment), "
                "then resolve this item",
            )
        await self.validator.invoice(payload)
        record.decisions.add("validation", "customer, site, combinations, type, source, currency")
        if ctx.dry_run:
            async with ctx.store.transaction() as tx:
                await succeed(tx, ctx, record, AuditAction.CREATE, target_id=None, request=request)
            return Outcome.CREATED
        number, source = payload["TransactionNumber"], payload["TransactionSource"]

        async def lookup(_since: datetime | None) -> str | None:
            found = await ctx.fusion.find_invoice(number, source)
            if found is None:
                return None
            if found.CrossReference != str(invoice.id):  # same number, someone else's invoice
                raise NeedsAttentionError(
                    "duplicate_transaction_number",
                    f"Fusion already has {number} in {source} (CustomerTransactionId "
                    f"{found.CustomerTransactionId}) with CrossReference {found.CrossReference!r}, "
                    f"not ServiceTitan invoice {invoice.id}: it is another invoice, not ours",
                    suggestion="check which invoice owns the number in Fusion (a reused "
                    "reference number or a manual entry), correct it, then replay",
                )
            record.decisions.add(
                "adopt",
                f"found {number} in {source} in Fusion",
                target=found.CustomerTransactionId,
            )
            return str(found.CustomerTransactionId)

        async def create() -> str:
            return str((await ctx.fusion.create_invoice(payload)).CustomerTransactionId)

        created = await create_once(
            ctx,
            flow=FLOW,
            target_system="fusion",
            business_key=f"{ENTITY}:{source}:{number}",
            payload_hash=body_hash,
            lookup=lookup,
            create=create,
        )
        async with ctx.store.transaction() as tx:
            await finish(tx, created)
            for entity, target, digest in (
                (ENTITY, created.target_id, body_hash),
                (EXPORT_MARK, PENDING, created.target_id),
            ):
                await tx.links.upsert(
                    connection=ctx.connection,
                    entity=entity,
                    source_system="servicetitan",
                    source_id=record.source_id,
                    target_system="fusion",
                    target_id=target,
                    version_hash=digest,
                )
            await remember(tx, ctx, customer)
            await succeed(
                tx,
                ctx,
                record,
                AuditAction.ADOPT if created.adopted else AuditAction.CREATE,
                target_id=created.target_id,
                request=request,
            )
        return Outcome.ADOPTED if created.adopted else Outcome.CREATED

    async def mark_pending(self) -> int:
        """Mark posted invoices exported in ServiceTitan (``externalId`` = CustomerTransactionId);
        returns how many are still pending. Idempotent in effect, so retried freely."""
        ctx = self.ctx
        if ctx.dry_run:
            return 0
        async with ctx.store.transaction() as tx:
            pending = await tx.links.by_target(ctx.connection, EXPORT_MARK, PENDING)
        if not pending:
            return 0
        entries = [
            MarkExported(
                invoice_id=int(p.source_id),
                external_id=p.version_hash,
                external_message="posted to Fusion receivables by ml-connector",
            )
            for p in pending
        ]
        try:
            results = await ctx.servicetitan.mark_invoices_exported(entries)
        except RetriableError as exc:
            log.warning("servicetitan markasexported failed, retried next run: %s", exc)
            return len(pending)
        done = {r.invoiceId for r in results if r.success}
        async with ctx.store.transaction() as tx:
            for p in pending:
                if int(p.source_id) in done:
                    await tx.links.upsert(
                        connection=ctx.connection,
                        entity=EXPORT_MARK,
                        source_system="servicetitan",
                        source_id=p.source_id,
                        target_system="fusion",
                        target_id=DONE,
                        version_hash=p.version_hash,
                    )
        return len(pending) - len(done & {int(p.source_id) for p in pending})
