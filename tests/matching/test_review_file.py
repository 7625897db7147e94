"""The review CSV: what ``match export`` writes reads back, and every bad row is reported by line
with nothing applied (the store-backed round trip is in test_match_sandbox.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from ml_connector.matching import review
from ml_connector.store.repos.matches import ACCEPTED, PROPOSED, REJECTED, MatchProposal

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def stored(pid: int, **kw: object) -> MatchProposal:
    values: dict[str, object] = {
        "id": pid,
        "connection": "default",
        "entity": "supplier",
        "source_system": "fusion",
        "source_id": f"30{pid}",
        "source_label": f"Supplier {pid}, Inc.",
        "target_system": "servicetitan",
        "target_id": f"7{pid}",
        "target_label": f"SUPPLIER {pid}",
        "score": 0.91,
        "kind": "similar",
        "ambiguous": False,
        "why_ambiguous": None,
        "evidence": {"agreed": ["name", "phone"], "differed": ["address"], "missing": []},
        "candidates": [
            {"target_id": f"7{pid}", "target_label": f"SUPPLIER {pid}", "score": 0.91},
            {"target_id": f"8{pid}", "target_label": "Other", "score": 0.7},
        ],
        "state": PROPOSED,
        "decided_by": None,
        "decided_at": None,
        "applied_at": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(kw)
    return MatchProposal(**values)  # type: ignore[arg-type]


def exported(*proposals: MatchProposal) -> list[dict[str, str]]:
    text = review.header() + review.rows(proposals)
    return list(csv.DictReader(io.StringIO(text)))


def edited(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=review.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_export_says_what_agreed_and_lists_the_candidates() -> None:
    (row,) = exported(stored(1))
    assert row["source_name"] == "Supplier 1, Inc."  # a comma survives the CSV
    assert row["evidence"] == "agreed: name, phone; differed: address"
    assert row["candidates"] == "71 SUPPLIER 1 (0.91) | 81 Other (0.70)"
    assert row["decision"] == ""


def test_round_trip_accept_reject_and_pick_another_candidate() -> None:
    rows = exported(stored(1), stored(2), stored(3), stored(4))
    rows[0]["decision"] = "accept"
    rows[1]["decision"] = "Reject"
    rows[2]["decision"] = "accept"
    rows[2]["target_id"] = "83"  # the runner-up
    known = {p.id: p for p in (stored(1), stored(2), stored(3), stored(4))}
    decisions, errors = review.check(review.parse(edited(rows)), dict(known))
    assert errors == []
    assert [(d.proposal_id, d.state, d.target_id) for d in decisions] == [
        (1, ACCEPTED, "71"),
        (2, REJECTED, "72"),
        (3, ACCEPTED, "83"),
    ]
    assert [d.line for d in decisions] == [2, 3, 4]


def test_every_bad_row_is_reported_by_line() -> None:
    rows = exported(stored(1), stored(2), stored(3), stored(4), stored(5), stored(6))
    rows[0]["decision"] = "maybe"
    rows[1]["decision"] = "accept"
    rows[1]["target_id"] = "999"
    rows[2]["proposal_id"] = "abc"
    rows[3]["proposal_id"] = "42"
    rows[3]["decision"] = "accept"
    rows[4]["decision"] = "accept"
    rows[4]["source_id"] = "elsewhere"
    rows.append(dict(rows[5], decision="reject"))
    known: dict[int, MatchProposal | None] = {
        1: stored(1),
        2: stored(2),
        5: stored(5),
        6: stored(6),
        42: None,
    }
    decisions, errors = review.check(review.parse(edited(rows)), known)
    messages = [str(e) for e in errors]
    assert messages[0] == "line 2: decision 'maybe': write accept, reject or leave it blank"
    assert messages[1].startswith("line 3: target_id '999' is not a candidate of proposal 2")
    assert messages[2] == "line 4: proposal_id 'abc' is not a number"
    assert messages[3] == "line 5: no proposal 42 in this connection"
    assert messages[4].startswith("line 6: source_id 'elsewhere' is not proposal 5's")
    assert messages[5] == "line 8: proposal 6 is also on line 7"
    assert decisions == []
    with pytest.raises(review.ReviewFileError, match="6 bad row"):
        raise review.ReviewFileError(errors)


def test_a_linked_proposal_is_not_undone_from_the_file() -> None:
    rows = exported(stored(1, state=ACCEPTED, applied_at=NOW))
    rows[0]["decision"] = "reject"
    _, errors = review.check(
        review.parse(edited(rows)), {1: stored(1, state=ACCEPTED, applied_at=NOW)}
    )
    assert "already linked" in str(errors[0])


def test_missing_columns_are_one_clear_error() -> None:
    with pytest.raises(review.ReviewFileError, match="missing column\\(s\\): decision"):
        review.parse("proposal_id,target_id\n1,71\n")


def test_blank_lines_and_a_byte_order_mark_are_tolerated() -> None:
    text = "\ufeff" + edited(exported(stored(1))) + ",,,,,,,,,,,,\n"
    parsed = review.parse(text)
    assert len(parsed) == 1
