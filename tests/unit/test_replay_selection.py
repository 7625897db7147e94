"""Replay's pure selection: flow names in either spelling, one record per source id, and which
records ``--failed-since`` replays."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ml_connector.cli.replay_cmd import parse_failed_since
from ml_connector.errors import ConfigError
from ml_connector.runtime.replay import RecordRef, pick_record, split_failed, store_flow
from ml_connector.store.records import AuditRecord
from ml_connector.store.states import AuditAction

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _row(ident: int, source_id: str, action: AuditAction, flow: str = "invoices") -> AuditRecord:
    return AuditRecord(
        id=ident,
        connection="default",
        flow=flow,
        source_system="servicetitan",
        source_id=source_id,
        action=action,
        started_at=AT,
        ended_at=AT,
    )


def test_flow_names_in_either_spelling() -> None:
    assert store_flow("purchase-orders") == "purchase_orders"
    assert store_flow("purchase_orders") == "purchase_orders"
    assert store_flow(" Invoices ") == "invoices"
    with pytest.raises(ConfigError, match="unknown flow 'orders'"):
        store_flow("orders")
    assert RecordRef("default", "purchase-orders", " 5 ").normalised() == RecordRef(
        "default", "purchase_orders", "5"
    )


def test_failed_rows_are_replayed_once_and_later_successes_are_reported() -> None:
    chosen = split_failed(
        [
            _row(3, "a", AuditAction.FAIL),
            _row(4, "b", AuditAction.ATTENTION),
            _row(5, "c", AuditAction.CREATE),
            _row(6, "c", AuditAction.SKIP, flow="purchase_orders"),
            _row(7, "a", AuditAction.ATTENTION),  # the same record again: its latest row counts
            _row(8, "d", AuditAction.FAIL, flow="purchase-orders"),
        ]
    )
    assert [(r.id, r.source_id) for r in chosen.replay] == [(4, "b"), (7, "a"), (8, "d")]
    assert [r.id for r in chosen.already_processed] == [5, 6]
    assert split_failed([]).replay == []


def test_a_source_id_in_several_flows_needs_a_choice() -> None:
    candidates = [("default", "invoices"), ("default", "payments"), ("east", "invoices")]
    with pytest.raises(ConfigError) as err:
        pick_record("7", candidates)
    assert "--connection default --flow invoices" in str(err.value)
    assert "--connection east --flow invoices" in str(err.value)
    with pytest.raises(ConfigError, match="several"):
        pick_record("7", candidates, flow="invoices")
    assert pick_record("7", candidates, flow="payments") == RecordRef("default", "payments", "7")
    assert pick_record("7", candidates, connection="east") == RecordRef("east", "invoices", "7")
    assert pick_record("7", [("default", "purchase_orders")], flow="purchase-orders") == (
        RecordRef("default", "purchase_orders", "7")
    )
    assert pick_record("7", candidates, flow="receipts") is None


def test_failed_since_needs_a_zone_or_a_date() -> None:
    assert parse_failed_since("2026-11-30") == datetime(2026, 11, 30, tzinfo=UTC)
    assert parse_failed_since("2026-11-30T08:00:00Z") == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert parse_failed_since("2026-11-30T08:00:00+01:00") == datetime(2026, 11, 30, 7, tzinfo=UTC)
    with pytest.raises(ConfigError, match="no time zone"):
        parse_failed_since("2026-11-30T08:00:00")
    with pytest.raises(ConfigError, match="not a date"):
        parse_failed_since("30/11/2026")


def test_rows_of_the_match_review_are_not_records_to_replay() -> None:
    """``match`` writes audit rows too (a review's decisions); replay passes over them instead of
    failing with "unknown flow 'match'" (review finding)."""
    chosen = split_failed([_row(3, "s1", AuditAction.FAIL, flow="match")])
    assert chosen.replay == []
    both = [("default", "match"), ("default", "suppliers")]
    assert pick_record("s1", both) == RecordRef("default", "suppliers", "s1")
    assert pick_record("s1", [("default", "match")]) is None
