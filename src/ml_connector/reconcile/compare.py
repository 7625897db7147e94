"""The comparison itself, on plain facts (pure: no I/O, so every status is tested on built data).

Matching (by the keys the flows write, ``flows/invoices.py`` and ``flows/payments.py``): a Fusion
document belongs to a ServiceTitan record when it names it — an invoice's ``CrossReference`` is
the ServiceTitan invoice id, a receipt's ``ReceiptNumber`` is prefix + ``PAY-`` + the payment id —
or when the record's link in the store points at the document's id.

Status of a ServiceTitan record, first rule that applies:

1. more than one Fusion document → **duplicated**;
2. one document: an amount different to the cent → **amount mismatch**; a record voided in
   ServiceTitan (inactive) whose document is still in Fusion → **amount mismatch** too (ServiceTitan
   now says nothing is owed) — both stay problems even with an attention item open, whose id the
   row names; an open or replayed attention item → **in attention**; else **matched**;
3. no document: an open or replayed attention item → **in attention**; a link saying it was
   posted (and the record is not voided) → **missing in Fusion** (deleted there?); a record the flows deliberately leave alone
   (not eligible: inactive — voided, review or sync status, refunds; or its attention item was
   ignored by a person) → **matched**, with ``detail`` saying "not eligible: … nothing expected in Fusion";
   else → **missing in Fusion** (a resolved attention item is named: resolving it did not post it).

A Fusion document that no ServiceTitan record of the period claims is **only in Fusion**.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ml_connector.store.states import AttentionState

from .model import Period, ReconRow, ReconStatus

CENT = Decimal("0.01")
ACTIVE = (AttentionState.OPEN, AttentionState.REPLAYED)


def cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT)


@dataclass(frozen=True, kw_only=True)
class SourceFact:
    """One ServiceTitan invoice or payment of the period, as the flows would post it."""

    kind: str
    id: str
    #: the Fusion business key the flows give its document (TransactionNumber / ReceiptNumber)
    reference: str
    date: date | None
    amount: Decimal
    #: why the flows leave it alone (nothing is expected in Fusion), None when eligible
    skip: str | None = None
    #: inactive in ServiceTitan (voided)
    void: bool = False


@dataclass(frozen=True, kw_only=True)
class FusionFact:
    """One Fusion receivables invoice / credit memo or standard receipt."""

    kind: str
    id: str
    reference: str
    #: the ServiceTitan id the document names (CrossReference, or the id in the receipt number)
    owner: str | None
    date: date | None
    amount: Decimal | None
    label: str = ""


@dataclass(frozen=True, kw_only=True)
class AttentionFact:
    id: int
    reason: str
    state: AttentionState
    by: str | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def describe(self) -> str:
        who = f" by {self.by}" if self.by and not self.active else ""
        return f"attention #{self.id} ({self.reason}) is {self.state.value}{who}"


@dataclass(kw_only=True)
class Matching:
    docs_for: dict[str, list[FusionFact]] = field(default_factory=dict)
    orphans: list[FusionFact] = field(default_factory=list)


def match(
    records: Iterable[SourceFact], docs: Iterable[FusionFact], links: Mapping[str, str]
) -> Matching:
    """Pair documents with records (by the name they carry, or by the record's link); a document
    is given to one record at most, and what no record takes is an orphan."""
    by_owner: dict[str, list[FusionFact]] = {}
    by_id: dict[str, FusionFact] = {}
    for doc in docs:
        if doc.id in by_id:  # read twice (e.g. found again by key): one document
            continue
        by_id[doc.id] = doc
        if doc.owner is not None:
            by_owner.setdefault(doc.owner, []).append(doc)
    out = Matching()
    taken: set[str] = set()
    for record in records:
        mine = [d for d in by_owner.get(record.id, []) if d.id not in taken]
        linked = links.get(record.id)
        if (
            linked is not None
            and linked in by_id
            and linked not in taken
            and all(d.id != linked for d in mine)
        ):
            mine.append(by_id[linked])
        taken.update(d.id for d in mine)
        out.docs_for[record.id] = mine
    out.orphans = [d for d in by_id.values() if d.id not in taken]
    return out


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _doc_text(doc: FusionFact, period: Period) -> str:
    text = f"{doc.label or doc.kind} {doc.reference} (Fusion id {doc.id}, {_money(doc.amount)}"
    if doc.date is not None and doc.date not in period:
        text += f", dated {doc.date.isoformat()}, outside {period.label}"
    return text + ")"


def classify(
    record: SourceFact,
    docs: list[FusionFact],
    *,
    period: Period,
    link: str | None = None,
    attention: AttentionFact | None = None,
) -> ReconRow:
    """The row of one ServiceTitan record (rules in the module docstring)."""
    row = ReconRow(
        kind=record.kind,
        status=ReconStatus.MATCHED,
        servicetitan_id=record.id,
        reference=record.reference,
        date=record.date,
        servicetitan_amount=cents(record.amount),
        fusion_ids=[d.id for d in docs],
    )
    active = attention if attention is not None and attention.active else None
    notes: list[str] = []
    if active is not None:
        row.attention_id = active.id
    if len(docs) > 1:
        total = sum((d.amount or Decimal(0) for d in docs), Decimal(0))
        row.status = ReconStatus.DUPLICATED
        row.fusion_amount = cents(total)
        notes.append(
            f"{len(docs)} Fusion documents for one ServiceTitan {record.kind}: "
            + "; ".join(_doc_text(d, period) for d in docs)
            + f"; together {_money(row.fusion_amount)}"
        )
    elif len(docs) == 1:
        doc = docs[0]
        row.fusion_amount = cents(doc.amount)
        if record.void:
            row.status = ReconStatus.MISMATCH
            notes.append(
                f"voided (inactive) in ServiceTitan, but Fusion still holds {_doc_text(doc, period)}"
            )
        elif row.fusion_amount != row.servicetitan_amount:
            row.status = ReconStatus.MISMATCH
            notes.append(
                f"Fusion {_money(row.fusion_amount)} ≠ ServiceTitan "
                f"{_money(row.servicetitan_amount)}: {_doc_text(doc, period)}"
            )
        else:
            row.status = ReconStatus.ATTENTION if active is not None else ReconStatus.MATCHED
            notes.append(_doc_text(doc, period))
    elif active is not None:
        row.status = ReconStatus.ATTENTION
        notes.append("not in Fusion")
    elif link is not None and not record.void:
        row.status = ReconStatus.MISSING
        notes.append(
            f"posted as Fusion id {link} (the connector's link), but Fusion has no such "
            f"document with {record.reference}: deleted or reversed in Fusion?"
        )
    elif record.skip is not None:
        notes.append(f"not eligible: {record.skip}; nothing expected in Fusion")
    elif attention is not None and attention.state is AttentionState.IGNORED:
        notes.append("a person chose to ignore it; nothing expected in Fusion")
    else:
        row.status = ReconStatus.MISSING
        notes.append(f"no Fusion document with {record.reference} or naming it")
    if attention is not None:
        notes.append(attention.describe())
    row.detail = "; ".join(notes)
    return row


def orphan_row(doc: FusionFact, *, period: Period, note: str | None = None) -> ReconRow:
    """A Fusion document of the connector's in the period that no record of the period claims."""
    detail = f"{_doc_text(doc, period)} is not explained by any ServiceTitan {doc.kind} of {period}"
    return ReconRow(
        kind=doc.kind,
        status=ReconStatus.ONLY_IN_FUSION,
        servicetitan_id=doc.owner,
        reference=doc.reference,
        date=doc.date,
        servicetitan_amount=None,
        fusion_ids=[doc.id],
        fusion_amount=cents(doc.amount),
        detail=detail + (f"; {note}" if note else ""),
    )


def compare(
    records: Iterable[SourceFact],
    docs: Iterable[FusionFact],
    *,
    period: Period,
    links: Mapping[str, str] | None = None,
    attention: Mapping[str, AttentionFact] | None = None,
    notes: Mapping[str, str] | None = None,
) -> list[ReconRow]:
    """Rows for every record (in the order given), then one per orphan document. ``links`` and
    ``attention`` are keyed by ServiceTitan id; ``notes`` by Fusion id (what is known about an
    orphan, e.g. "ServiceTitan invoice 12 is dated 2026-09-30")."""
    records = list(records)
    links = links or {}
    attention = attention or {}
    matching = match(records, docs, links)
    rows = [
        classify(
            r,
            matching.docs_for[r.id],
            period=period,
            link=links.get(r.id),
            attention=attention.get(r.id),
        )
        for r in records
    ]
    rows += [orphan_row(d, period=period, note=(notes or {}).get(d.id)) for d in matching.orphans]
    return rows
