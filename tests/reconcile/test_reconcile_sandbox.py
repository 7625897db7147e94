"""Reconciliation against both simulators after the real F4 and F5 runs (issue 7): a clean
month has no problems; Fusion tampered with afterwards shows each kind of difference."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from recon_kit import Rig

from ml_connector.flows.invoices import InvoiceFlow
from ml_connector.flows.payments import PaymentFlow
from ml_connector.reconcile import Period, Reconciliation, ReconRow, ReconStatus, reconcile_with

OCTOBER = Period.parse("2026-10")


def by_id(rec: Reconciliation, kind: str) -> dict[str | None, ReconRow]:
    rows = [r for r in rec.rows if r.kind == kind and r.status is not ReconStatus.ONLY_IN_FUSION]
    return {r.servicetitan_id: r for r in rows}


def october_ids(rig: Rig, table: str, field: str) -> set[int]:
    return {
        r["id"] for r in rig.sandbox.servicetitan.snapshot(table) if r[field].startswith("2026-10")
    }


async def synced(rig: Rig) -> None:
    ctx = rig.ctx()
    await InvoiceFlow(ctx).run()
    await PaymentFlow(ctx).run()
    rig.clock.advance(60)


async def test_before_any_sync_every_eligible_record_is_missing(rig: Rig) -> None:
    rec = await reconcile_with(rig.ctx(), OCTOBER)
    expected = rig.sandbox.dataset.expected if rig.sandbox.dataset else None
    assert expected is not None
    invoices = by_id(rec, "invoice")
    assert set(invoices) == {str(i) for i in october_ids(rig, "invoices", "invoiceDate")}
    for ident in expected.invoices.skipped:  # needs review, exported elsewhere: nothing expected
        row = invoices[str(ident)]
        assert row.status is ReconStatus.MATCHED
        assert row.detail.startswith("not eligible: ")
    for ident in expected.invoices.eligible:
        if str(ident) in invoices:
            assert invoices[str(ident)].status is ReconStatus.MISSING
    assert len(rec.problems) > 50
    assert rec.generated_at == rig.clock.now()


async def test_after_the_flows_a_month_reconciles_and_tampering_shows(rig: Rig) -> None:
    await synced(rig)
    expected = rig.sandbox.dataset.expected if rig.sandbox.dataset else None
    assert expected is not None
    rec = await reconcile_with(rig.ctx(), OCTOBER)
    assert rec.problems == []
    invoices, payments = by_id(rec, "invoice"), by_id(rec, "payment")
    assert set(payments) == {str(i) for i in october_ids(rig, "payments", "date")}
    for ident, exp in expected.invoices.eligible.items():
        row = invoices.get(str(ident))
        if row is None:  # invoiced in November
            continue
        assert row.status is ReconStatus.MATCHED, row
        assert row.servicetitan_amount == row.fusion_amount == exp.total
        assert row.reference == f"ST-{exp.reference_number}"
    for ident, reason in expected.invoices.attention.items():
        row = invoices[str(ident)]
        assert row.status is ReconStatus.ATTENTION
        assert row.attention_id is not None
        assert reason.kind in row.detail
    # the negative adjustment invoice posted as a credit memo and matches to the cent
    (memo,) = [i for i, e in expected.invoices.eligible.items() if e.total < 0]
    assert invoices[str(memo)].status is ReconStatus.MATCHED
    assert invoices[str(memo)].fusion_amount == expected.invoices.eligible[memo].total
    assert "credit memo" in invoices[str(memo)].detail
    counts = rec.counts()
    assert counts["payment"]["matched"] == len(payments)
    # November is reconciled on its own: October's documents are not "only in Fusion" there
    november = await reconcile_with(rig.ctx(), Period.parse("2026-11"))
    assert not [r for r in november.rows if r.status is ReconStatus.ONLY_IN_FUSION]
    # read in pages of 7 on both sides (Fusion by id, ServiceTitan by page number): the same rows
    small = rig.ctx(page_size=7)
    paged = await reconcile_with(small, OCTOBER)
    assert sorted(map(repr, paged.rows)) == sorted(map(repr, rec.rows))
    sizes = [
        len(page)
        async for page in small.fusion.invoice_pages_dated(
            sources=["ServiceTitan"], on_or_after=OCTOBER.start, before=OCTOBER.end
        )
    ]
    assert len(sizes) > 5
    assert set(sizes[:-1]) == {7}
    assert sum(sizes) == sum(1 for r in rec.rows if r.kind == "invoice" and r.fusion_ids)
    # one flow run serves the tampering too (the flows take most of this module's time)
    await tampered_fusion_shows_each_difference(rig)
    await a_document_dated_outside_the_month_is_found_by_its_key(rig)


async def tampered_fusion_shows_each_difference(rig: Rig) -> None:
    """Mismatch, duplicate, missing invoice and receipt, and a receipt only in Fusion."""
    state = rig.sandbox.fusion
    october = {str(i) for i in october_ids(rig, "invoices", "invoiceDate")}
    ours = sorted(
        (inv for inv in state.invoices.values() if inv.CrossReference in october),
        key=lambda inv: inv.CustomerTransactionId,
    )
    changed, doubled, deleted = ours[0], ours[1], ours[2]
    changed.EnteredAmount += Decimal("0.01")
    copy = dataclasses.replace(doubled, CustomerTransactionId=state.new_id())
    state.invoices[copy.CustomerTransactionId] = copy
    del state.invoices[deleted.CustomerTransactionId]
    paid = {f"ST-PAY-{i}" for i in october_ids(rig, "payments", "date")}
    receipts = sorted(
        (r for r in state.receipts.values() if r.ReceiptNumber in paid),
        key=lambda r: r.StandardReceiptId,
    )
    lost = receipts[0]
    del state.receipts[lost.StandardReceiptId]
    stray = dataclasses.replace(
        receipts[1], StandardReceiptId=state.new_id(), ReceiptNumber="ST-PAY-999999"
    )
    state.receipts[stray.StandardReceiptId] = stray

    rec = await reconcile_with(rig.ctx(), OCTOBER)
    invoices, payments = by_id(rec, "invoice"), by_id(rec, "payment")

    mismatch = invoices[str(changed.CrossReference)]
    assert mismatch.status is ReconStatus.MISMATCH
    assert mismatch.fusion_amount == mismatch.servicetitan_amount + Decimal("0.01")  # type: ignore[operator]
    assert f"Fusion {mismatch.fusion_amount:,.2f} ≠ ServiceTitan" in mismatch.detail

    duplicate = invoices[str(doubled.CrossReference)]
    assert duplicate.status is ReconStatus.DUPLICATED
    assert sorted(duplicate.fusion_ids) == sorted(
        [str(doubled.CustomerTransactionId), str(copy.CustomerTransactionId)]
    )

    missing = invoices[str(deleted.CrossReference)]
    assert missing.status is ReconStatus.MISSING
    assert f"posted as Fusion id {deleted.CustomerTransactionId}" in missing.detail

    gone = payments[lost.ReceiptNumber.removeprefix("ST-PAY-")]
    assert gone.status is ReconStatus.MISSING

    (orphan,) = [r for r in rec.rows if r.status is ReconStatus.ONLY_IN_FUSION]
    assert orphan.kind == "payment"
    assert orphan.fusion_ids == [str(stray.StandardReceiptId)]
    assert "ServiceTitan has no payment 999999" in orphan.detail

    assert {r.status for r in rec.problems} == {
        ReconStatus.MISMATCH,
        ReconStatus.DUPLICATED,
        ReconStatus.MISSING,
        ReconStatus.ONLY_IN_FUSION,
    }
    assert len(rec.problems) == 5
    # put Fusion back as it was
    changed.EnteredAmount -= Decimal("0.01")
    del state.invoices[copy.CustomerTransactionId]
    state.invoices[deleted.CustomerTransactionId] = deleted
    state.receipts[lost.StandardReceiptId] = lost
    del state.receipts[stray.StandardReceiptId]
    assert (await reconcile_with(rig.ctx(), OCTOBER)).problems == []


async def a_document_dated_outside_the_month_is_found_by_its_key(rig: Rig) -> None:
    """A TransactionDate moved to November (it is PATCHable): October still matches it."""
    state = rig.sandbox.fusion
    october = {str(i) for i in october_ids(rig, "invoices", "invoiceDate")}
    moved = min(
        (inv for inv in state.invoices.values() if inv.CrossReference in october),
        key=lambda inv: inv.CustomerTransactionId,
    )
    moved.TransactionDate = Period.parse("2026-11").start  # PATCHable in Fusion (reference §7)
    rec = await reconcile_with(rig.ctx(), OCTOBER)
    row = by_id(rec, "invoice")[str(moved.CrossReference)]
    assert row.status is ReconStatus.MATCHED
    assert "dated 2026-11-01, outside 2026-10" in row.detail
    assert rec.problems == []
    # and in November that document is explained by an October invoice, not silently dropped
    november = await reconcile_with(rig.ctx(), Period.parse("2026-11"))
    (orphan,) = [r for r in november.rows if r.status is ReconStatus.ONLY_IN_FUSION]
    assert orphan.fusion_ids == [str(moved.CustomerTransactionId)]
    assert f"ServiceTitan invoice {moved.CrossReference} is dated 2026-10" in orphan.detail
