"""The comparison on built facts: every status, credit memos, cents, periods (issue 7)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from recon_kit import doc, record

from ml_connector.errors import ConfigError
from ml_connector.reconcile import Period, Reconciliation, ReconStatus
from ml_connector.reconcile.compare import AttentionFact, compare
from ml_connector.store.states import AttentionState

OCT = Period.parse("2026-10")


def one(rows: list, ident: str) -> object:
    (row,) = [r for r in rows if r.servicetitan_id == ident]
    return row


def test_period_parses_a_month_and_refuses_anything_else() -> None:
    p = Period.parse("2026-12")
    assert (p.start, p.end, p.label) == (date(2026, 12, 1), date(2027, 1, 1), "2026-12")
    assert date(2026, 12, 31) in p
    assert date(2027, 1, 1) not in p
    assert Period.parse("2026-02").end == date(2026, 3, 1)
    for bad in ("2026-13", "2026-00", "2026-1", "26-11", "November", "2026-11-01", ""):
        with pytest.raises(ConfigError, match="is not a month"):
            Period.parse(bad)


def test_equal_amounts_match_and_a_cent_apart_is_a_mismatch() -> None:
    rows = compare(
        [record(1, "100.00"), record(2, "100.00")],
        [doc(501, 1, "100.00"), doc(502, 2, "100.01")],
        period=OCT,
    )
    matched, mismatch = one(rows, "1"), one(rows, "2")
    assert matched.status is ReconStatus.MATCHED
    assert matched.fusion_ids == ["501"]
    assert mismatch.status is ReconStatus.MISMATCH
    assert (mismatch.servicetitan_amount, mismatch.fusion_amount) == (
        Decimal("100.00"),
        Decimal("100.01"),
    )
    assert "Fusion 100.01 ≠ ServiceTitan 100.00" in mismatch.detail


def test_a_credit_memo_matches_its_negative_invoice() -> None:
    rows = compare([record(7, "-89.00")], [doc(507, 7, "-89.00", label="credit memo")], period=OCT)
    row = one(rows, "7")
    assert row.status is ReconStatus.MATCHED
    assert row.fusion_amount == Decimal("-89.00")
    assert "credit memo ST-7" in row.detail
    # a credit memo of the wrong sign is not the same amount
    rows = compare([record(7, "-89.00")], [doc(507, 7, "89.00")], period=OCT)
    assert one(rows, "7").status is ReconStatus.MISMATCH


def test_two_documents_for_one_record_are_duplicated_with_both_named() -> None:
    # one found by CrossReference, the other only through the connector's link
    rows = compare(
        [record(3, "50.00")],
        [doc(503, 3, "50.00"), doc(603, None, "50.00", reference="ST-3")],
        period=OCT,
        links={"3": "603"},
    )
    row = one(rows, "3")
    assert row.status is ReconStatus.DUPLICATED
    assert sorted(row.fusion_ids) == ["503", "603"]
    assert row.fusion_amount == Decimal("100.00")
    assert "2 Fusion documents" in row.detail
    assert "503" in row.detail
    assert "603" in row.detail


def test_missing_with_and_without_a_link() -> None:
    rows = compare([record(4, "10.00"), record(5, "10.00")], [], period=OCT, links={"5": "905"})
    assert one(rows, "4").status is ReconStatus.MISSING
    assert "no Fusion document with ST-4" in one(rows, "4").detail
    linked = one(rows, "5")
    assert linked.status is ReconStatus.MISSING
    assert "posted as Fusion id 905" in linked.detail


def test_an_active_attention_item_explains_a_missing_record_but_not_a_mismatch() -> None:
    open_item = AttentionFact(id=11, reason="unmapped_customer", state=AttentionState.OPEN)
    replayed = AttentionFact(id=12, reason="apply_in_fusion", state=AttentionState.REPLAYED)
    changed = AttentionFact(id=13, reason="changed_after_posting", state=AttentionState.OPEN)
    rows = compare(
        [record(1, "10.00"), record(2, "20.00"), record(3, "35.00")],
        [doc(502, 2, "20.00"), doc(503, 3, "30.00")],
        period=OCT,
        attention={"1": open_item, "2": replayed, "3": changed},
    )
    missing = one(rows, "1")
    assert missing.status is ReconStatus.ATTENTION
    assert missing.attention_id == 11
    assert "attention #11 (unmapped_customer) is open" in missing.detail
    assert one(rows, "2").status is ReconStatus.ATTENTION
    assert one(rows, "2").attention_id == 12
    # the amounts differ: still a problem, and the row names the item a person is on
    mismatch = one(rows, "3")
    assert mismatch.status is ReconStatus.MISMATCH
    assert mismatch.attention_id == 13
    assert "attention #13 (changed_after_posting)" in mismatch.detail


def test_closed_attention_items() -> None:
    ignored = AttentionFact(
        id=21, reason="unmapped_customer", state=AttentionState.IGNORED, by="ann"
    )
    resolved = AttentionFact(
        id=22, reason="unmapped_customer", state=AttentionState.RESOLVED, by="bob"
    )
    rows = compare(
        [record(1, "10.00"), record(2, "10.00")],
        [],
        period=OCT,
        attention={"1": ignored, "2": resolved},
    )
    assert one(rows, "1").status is ReconStatus.MATCHED
    assert "ignore" in one(rows, "1").detail
    assert "ignored by ann" in one(rows, "1").detail
    # resolving an item did not post the record: still missing, and the item is named
    assert one(rows, "2").status is ReconStatus.MISSING
    assert "attention #22 (unmapped_customer) is resolved by bob" in one(rows, "2").detail
    assert one(rows, "2").attention_id is None


def test_ineligible_records_are_not_missing_and_say_why() -> None:
    rows = compare(
        [
            record(1, "10.00", skip="reviewStatus NeedsReview is not eligible"),
            record(2, "10.00", skip="inactive invoice", void=True),
        ],
        [],
        period=OCT,
        links={"2": "902"},  # posted once, then voided and reversed in Fusion: consistent
    )
    for ident in ("1", "2"):
        row = one(rows, ident)
        assert row.status is ReconStatus.MATCHED
        assert row.detail.startswith("not eligible: ")
        assert "nothing expected in Fusion" in row.detail


def test_a_voided_record_still_in_fusion_is_a_mismatch() -> None:
    rows = compare(
        [record(1, "10.00", skip="inactive invoice", void=True)],
        [doc(501, 1, "10.00")],
        period=OCT,
    )
    row = one(rows, "1")
    assert row.status is ReconStatus.MISMATCH
    assert "voided (inactive) in ServiceTitan" in row.detail


def test_documents_no_record_claims_are_only_in_fusion() -> None:
    rows = compare(
        [record(1, "10.00", kind="payment")],
        [
            doc(801, 1, "10.00", kind="payment"),
            doc(802, 99, "12.50", kind="payment"),
            doc(803, None, "1.00", kind="payment", reference="ST-PAY-X"),
        ],
        period=OCT,
        notes={"802": "ServiceTitan payment 99 is dated 2026-09-30"},
    )
    orphans = [r for r in rows if r.status is ReconStatus.ONLY_IN_FUSION]
    assert [r.fusion_ids for r in orphans] == [["802"], ["803"]]
    assert orphans[0].servicetitan_id == "99"
    assert orphans[0].servicetitan_amount is None
    assert orphans[0].fusion_amount == Decimal("12.50")
    assert "dated 2026-09-30" in orphans[0].detail
    assert one(rows, "1").status is ReconStatus.MATCHED


def test_a_document_dated_outside_the_period_still_matches_and_says_so() -> None:
    rows = compare([record(1, "10.00")], [doc(501, 1, "10.00", day=date(2026, 11, 1))], period=OCT)
    row = one(rows, "1")
    assert row.status is ReconStatus.MATCHED
    assert "dated 2026-11-01, outside 2026-10" in row.detail


def test_counts_and_problems() -> None:
    rows = compare(
        [record(1, "10.00"), record(2, "10.00"), record(3, "5.00", kind="payment")],
        [doc(501, 1, "10.00"), doc(900, 77, "1.00")],
        period=OCT,
    )
    rec = Reconciliation(
        connection="default",
        period=OCT,
        rows=rows,
        generated_at=datetime(2026, 11, 2, tzinfo=UTC),
    )
    counts = rec.counts()
    assert counts["invoice"]["matched"] == 1
    assert counts["invoice"]["missing in Fusion"] == 1
    assert counts["invoice"]["only in Fusion"] == 1
    assert counts["payment"]["missing in Fusion"] == 1
    assert sum(counts["payment"].values()) == 1
    assert {r.servicetitan_id for r in rec.problems} == {"2", "3", "77"}
