"""State: timestamps (servicetitan-api.md §3: 7 fractional digits, ``Z``), ordering for exports (§5),
the minimal seed's determinism, and export paging over a large table without re-sorting."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ml_connector.clock import FakeClock
from ml_connector.sandbox.servicetitan import STState, seed_minimal
from ml_connector.sandbox.servicetitan.paging import decode_from, encode_token
from ml_connector.sandbox.servicetitan.records import Record, Table
from ml_connector.sandbox.servicetitan.timefmt import format_dt, parse_dt

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")


def test_timestamps_have_seven_digits_and_z() -> None:
    """§3: ``2021-07-19T20:35:38.2876004Z``."""
    value = datetime(2021, 7, 19, 20, 35, 38, 287600, tzinfo=UTC)
    assert format_dt(value) == "2021-07-19T20:35:38.2876000Z"
    assert parse_dt("2021-07-19T20:35:38.2876004Z") == value
    assert parse_dt("2021-07-19T22:35:38.2876+02:00") == value
    assert parse_dt("2021-07-19") == datetime(2021, 7, 19, tzinfo=UTC)


def test_every_change_bumps_modified_on_strictly(clock: FakeClock) -> None:
    """§5: changes in the same clock instant still get distinct, increasing stamps."""
    state = STState(clock=clock)
    bu = state.add_business_unit("A")
    first = bu.modified_on
    state.update("business_units", bu.id, name="B")
    assert bu.modified_on > first
    assert STAMP.match(state.wire("business_units", bu)["modifiedOn"])
    assert bu.created_on == first


def test_seed_is_deterministic() -> None:
    """Same ids and timestamps on every run with a fresh FakeClock (tests rely on it)."""
    one, two = STState(clock=FakeClock()), STState(clock=FakeClock())
    assert seed_minimal(one) == seed_minimal(two)
    for table in one.tables:
        assert one.snapshot(table) == two.snapshot(table), table


def test_export_token_round_trip() -> None:
    """§5: the opaque token carries (modifiedOn, id); a date means "from midnight UTC"."""
    key = (datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), 77)
    assert decode_from(encode_token(key)) == key
    assert decode_from("2026-01-02") == (datetime(2026, 1, 2, tzinfo=UTC), -1)


def test_large_table_pages_in_index_order() -> None:
    """200,000 records page through ``after`` in (modifiedOn, id) order with updates moving rows
    to the end, without a full sort per page (the index is maintained with bisect)."""
    table = Table("invoices")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    n = 200_000
    for i in range(n):
        stamp = start + timedelta(microseconds=i // 2)
        table.insert(Record(id=i + 1, created_on=stamp, modified_on=stamp))
    moved = table.get(5)
    assert moved is not None
    table.touch(moved, start + timedelta(days=1))
    key = (start - timedelta(seconds=1), -1)
    seen: list[int] = []
    more = True
    while more:
        rows, more = table.after(key, 5000)
        seen += [r.id for r in rows]
        key = rows[-1].key
    assert len(seen) == n
    assert seen[-1] == 5
    assert len(set(seen)) == n
