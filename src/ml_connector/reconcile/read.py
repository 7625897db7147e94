"""Reading both sides of a period and handing the facts to :mod:`.compare`.

* ServiceTitan: ``invoices`` / ``payments`` list endpoints with their date filters, streamed page
  by page; the window is widened by a day on each side and each record is then kept by the date
  the flows post it with (``mapping.invoices.transaction_date`` in the connection's time zone),
  so a record sits in the same month on both sides.
* Fusion: the period's receivables invoices of the connector's transaction sources and its
  standard receipts (``ReceiptNumber`` prefix), paged by id. A record left without a document is
  looked up once more by its business key (its document may be dated outside the month); a
  document left without a record is explained where possible (its ServiceTitan record is dated
  outside the month, or is unknown).
* The store: links (``invoice`` / ``payment``) and attention items of the two flows.

Only compact facts are kept (a few fields per record), never whole payloads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from ml_connector.flows import invoices as f4
from ml_connector.flows import payments as f5
from ml_connector.flows.base import FlowContext
from ml_connector.mapping.invoices import transaction_date
from ml_connector.mapping.payments import receipt_number
from ml_connector.store.states import AttentionState
from ml_connector.systems.fusion import models as fusion
from ml_connector.systems.servicetitan import models as st

from .compare import AttentionFact, FusionFact, SourceFact, compare, match
from .model import Period, Reconciliation, ReconRow

INVOICE, PAYMENT = "invoice", "payment"
#: a record's documents found by its business key; ServiceTitan ids → the date they post with
_ByKey = Callable[[SourceFact], Awaitable[list[FusionFact]]]
_StDates = Callable[[list[int]], Awaitable[dict[str, str]]]
#: attention states, most relevant first: an active item wins over a closed one
_STATES = (
    AttentionState.OPEN,
    AttentionState.REPLAYED,
    AttentionState.IGNORED,
    AttentionState.RESOLVED,
)
_MAX_ATTENTION = 1_000_000


def _cents(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(Decimal("0.01"))


def invoice_fact(invoice: st.Invoice, ctx: FlowContext) -> SourceFact:
    mapping = ctx.mapping.receivables
    return SourceFact(
        kind=INVOICE,
        id=str(invoice.id),
        reference=mapping.transaction_number_prefix + (invoice.referenceNumber or str(invoice.id)),
        date=transaction_date(invoice.invoiceDate, ctx.settings.timezone),
        amount=_cents(invoice.total),
        skip=f4.eligible(invoice, ctx),
        void=not invoice.active,
    )


def payment_skip(payment: st.Payment) -> str | None:
    """Why F5 leaves a payment alone (``flows/payments.py``: inactive, or already exported when
    it has no link; refunds and reversals are recorded in Fusion by hand)."""
    reason = f5.unposted_reason(payment)
    if reason is not None:
        return reason
    if payment.refundedPaymentId is not None or _cents(payment.total) < 0:
        return "a refund or reversal, recorded in Fusion by hand"
    return None


def payment_fact(payment: st.Payment, ctx: FlowContext) -> SourceFact:
    return SourceFact(
        kind=PAYMENT,
        id=str(payment.id),
        reference=receipt_number(ctx.mapping.receivables, payment.id),
        date=transaction_date(payment.date, ctx.settings.timezone),
        amount=_cents(payment.total),
        skip=payment_skip(payment),
        void=not payment.active,
    )


def invoice_doc(doc: fusion.ReceivablesInvoice) -> FusionFact:
    credit = "credit" in (doc.TransactionType or "").lower()
    return FusionFact(
        kind=INVOICE,
        id=str(doc.CustomerTransactionId),
        reference=doc.TransactionNumber,
        owner=doc.CrossReference,
        date=doc.TransactionDate,
        amount=doc.EnteredAmount,
        label="credit memo" if credit else "invoice",
    )


def receipt_doc(doc: fusion.StandardReceipt, prefix: str) -> FusionFact:
    rest = doc.ReceiptNumber[len(prefix) :] if doc.ReceiptNumber.startswith(prefix) else ""
    return FusionFact(
        kind=PAYMENT,
        id=str(doc.StandardReceiptId),
        reference=doc.ReceiptNumber,
        owner=rest if rest.isdigit() else None,
        date=doc.ReceiptDate,
        amount=doc.Amount,
        label="receipt",
    )


class PeriodReader:
    """One reconciliation of one connection and period on a flow context's clients and store."""

    def __init__(self, ctx: FlowContext, period: Period) -> None:
        self.ctx = ctx
        self.period = period
        mapping = ctx.mapping.receivables
        self.sources = sorted({bu.transaction_source for bu in mapping.business_units.values()})
        self.receipt_prefix = receipt_number(mapping, 0)[:-1]  # "ST-PAY-"
        day = timedelta(days=1)
        self.since = datetime.combine(period.start - day, time(0), UTC)
        self.before = datetime.combine(period.end + day, time(0), UTC)

    async def run(self) -> Reconciliation:
        rows = await self.invoices() + await self.payments()
        return Reconciliation(
            connection=self.ctx.connection,
            period=self.period,
            rows=rows,
            generated_at=self.ctx.clock.now(),
        )

    # --- per kind --------------------------------------------------------------------------------

    async def invoices(self) -> list[ReconRow]:
        ctx = self.ctx
        records = [
            fact
            async for invoice in ctx.servicetitan.invoices_invoiced_between(self.since, self.before)
            if (fact := invoice_fact(invoice, ctx)).date in self.period
        ]
        docs: list[FusionFact] = []
        if self.sources:
            async for page in ctx.fusion.invoice_pages_dated(
                sources=self.sources, on_or_after=self.period.start, before=self.period.end
            ):
                docs += [invoice_doc(d) for d in page]

        async def by_key(record: SourceFact) -> list[FusionFact]:
            found = []
            for source in self.sources:
                doc = await ctx.fusion.find_invoice(record.reference, source)
                if doc is not None:
                    found.append(invoice_doc(doc))
            return found

        async def st_dates(ids: list[int]) -> dict[str, str]:
            return {
                str(i.id): _date_text(transaction_date(i.invoiceDate, ctx.settings.timezone))
                for i in await ctx.servicetitan.invoices_by_ids(ids)
            }

        return await self._compare(INVOICE, f4.FLOW, records, docs, by_key, st_dates)

    async def payments(self) -> list[ReconRow]:
        ctx = self.ctx
        records = [
            fact
            async for payment in ctx.servicetitan.payments_paid_between(self.since, self.before)
            if (fact := payment_fact(payment, ctx)).date in self.period
        ]
        docs: list[FusionFact] = []
        async for page in ctx.fusion.receipt_pages_dated(
            number_prefix=self.receipt_prefix,
            on_or_after=self.period.start,
            before=self.period.end,
        ):
            docs += [receipt_doc(d, self.receipt_prefix) for d in page]

        async def by_key(record: SourceFact) -> list[FusionFact]:
            doc = await ctx.fusion.find_receipt(record.reference)
            return [] if doc is None else [receipt_doc(doc, self.receipt_prefix)]

        async def st_dates(ids: list[int]) -> dict[str, str]:
            return {
                str(p.id): _date_text(transaction_date(p.date, ctx.settings.timezone))
                for p in await ctx.servicetitan.payments_by_ids(ids)
            }

        return await self._compare(PAYMENT, f5.FLOW, records, docs, by_key, st_dates)

    # --- shared ------------------------------------------------------------------------------------

    async def _compare(
        self,
        kind: str,
        flow: str,
        records: list[SourceFact],
        docs: list[FusionFact],
        by_key: _ByKey,
        st_dates: _StDates,
    ) -> list[ReconRow]:
        ctx = self.ctx
        links: dict[str, str] = {}
        async with ctx.store.transaction() as tx:
            for record in records:
                link = await tx.links.get(ctx.connection, kind, record.id)
                if link is not None:
                    links[record.id] = link.target_id
        attention = await self._attention(flow)
        # a record without a document of the period: its document may be dated outside it
        first = match(records, docs, links)
        for record in records:
            if first.docs_for[record.id]:
                continue
            active = attention.get(record.id)
            if record.id not in links and (
                record.skip is not None or (active is not None and active.active)
            ):
                continue
            docs += [
                d
                for d in await by_key(record)
                if d.owner == record.id or d.id == links.get(record.id)
            ]
        # documents no record of the period claims: say what ServiceTitan knows of them
        orphans = match(records, docs, links).orphans
        notes: dict[str, str] = {}
        owners = sorted({int(d.owner) for d in orphans if d.owner and d.owner.isdigit()})
        dates = await st_dates(owners) if owners else {}
        async with ctx.store.transaction() as tx:
            for doc in orphans:
                said: list[str] = []
                if doc.owner and doc.owner.isdigit():
                    when = dates.get(doc.owner)
                    said.append(
                        f"ServiceTitan {kind} {doc.owner} is dated {when}"
                        if when is not None
                        else f"ServiceTitan has no {kind} {doc.owner}"
                    )
                linked = await tx.links.by_target(ctx.connection, kind, doc.id)
                said += [f"linked from ServiceTitan {kind} {link.source_id}" for link in linked]
                if said:
                    notes[doc.id] = "; ".join(said)
        return compare(
            records, docs, period=self.period, links=links, attention=attention, notes=notes
        )

    async def _attention(self, flow: str) -> dict[str, AttentionFact]:
        """Each record's most relevant attention item of ``flow``: an active one, else the newest."""
        out: dict[str, AttentionFact] = {}
        async with self.ctx.store.transaction() as tx:
            for state in _STATES:
                items = await tx.attention.list(
                    connection=self.ctx.connection, flow=flow, state=state, limit=_MAX_ATTENTION
                )
                for item in items:
                    out.setdefault(
                        item.source_id,
                        AttentionFact(
                            id=item.id, reason=item.reason, state=item.state, by=item.decided_by
                        ),
                    )
        return out


def _date_text(value: date | None) -> str:
    return value.isoformat() if value is not None else "without a date"
