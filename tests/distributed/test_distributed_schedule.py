"""The distributed runner's schedules: intervals and posting windows as UTC crons (pure)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from ml_connector.runtime.distributed import next_runs, postgres_conninfo
from ml_connector.runtime.distributed_schedule import (
    Schedule,
    interval_cron,
    schedules_for,
    window_crons,
)
from ml_connector.runtime.scheduler import INBOX_INTERVAL, Job

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def _fires(cron: str, start: datetime, n: int) -> list[datetime]:
    it = croniter(cron, start_time=start.timestamp())
    return [datetime.fromtimestamp(it.get_next(float), UTC) for _ in range(n)]


@pytest.mark.parametrize(
    ("interval", "gap"),
    [
        (timedelta(minutes=10), timedelta(minutes=10)),
        (timedelta(minutes=1), timedelta(minutes=1)),
        (INBOX_INTERVAL, INBOX_INTERVAL),
        (timedelta(minutes=60), timedelta(hours=1)),
        (timedelta(hours=2), timedelta(hours=2)),
    ],
)
def test_an_interval_fires_at_that_interval(interval: timedelta, gap: timedelta) -> None:
    fired = _fires(interval_cron(interval), JAN, 4)
    assert {b - a for a, b in itertools.pairwise(fired)} == {gap}


def test_an_interval_a_cron_cannot_say_is_refused() -> None:
    with pytest.raises(ValueError, match="whole minutes"):
        interval_cron(timedelta(seconds=90))
    with pytest.raises(ValueError, match="whole hours"):
        interval_cron(timedelta(minutes=90))


def test_a_window_fires_once_a_day_at_local_time_across_daylight_saving() -> None:
    zone = "America/Chicago"
    crons = window_crons(time(18, 0), zone, year_from=JAN)
    assert crons == ["0 0 * * *", "0 23 * * *"]  # 18:00 CST is 00:00 UTC, 18:00 CDT 23:00 UTC
    schedules = [
        Schedule(connection="c", flow="invoices", cron=c, window="18:00", timezone=zone)
        for c in crons
    ]
    # every firing of both crons over a year: exactly one per local day runs, at 18:00 local
    start = datetime(2026, 1, 1, tzinfo=UTC)
    runs = []
    for schedule in schedules:
        for at in _fires(schedule.cron, start, 366):
            if schedule.fires_at(at.timestamp()):
                runs.append(at.astimezone(ZoneInfo(zone)))
    days = [r.date() for r in runs]
    assert len(days) == len(set(days)) >= 365
    assert {(r.hour, r.minute) for r in runs} == {(18, 0)}


def test_next_fire_skips_the_window_candidate_of_the_other_offset() -> None:
    schedule = Schedule(
        connection="c",
        flow="payments",
        cron="0 23 * * *",  # 18:00 in Chicago in summer only
        window="18:00",
        timezone="America/Chicago",
    )
    when = schedule.next_fire(JAN)  # in January 23:00 UTC is 17:00 local: wait for March
    assert when == datetime(2026, 3, 8, 23, 0, tzinfo=UTC)


def test_schedules_for_the_scheduler_jobs() -> None:
    jobs = [
        Job(connection="c", flow="suppliers", interval=timedelta(minutes=10), jitter_seconds=30),
        Job(connection="c", flow="inbox", interval=INBOX_INTERVAL),
        Job(connection="c", flow="invoices", windows=(time(6, 0), time(18, 30)), timezone="UTC"),
    ]
    found = schedules_for(jobs, now=JAN)
    assert [(s.flow, s.cron, s.window) for s in found] == [
        ("suppliers", "*/10 * * * *", None),
        ("inbox", "* * * * * */10", None),
        ("invoices", "0 6 * * *", "06:00"),
        ("invoices", "30 18 * * *", "18:30"),
    ]
    assert len({s.periodic_id for s in found}) == len(found)


def test_the_distributed_runner_refuses_sqlite() -> None:
    with pytest.raises(Exception, match="needs PostgreSQL; use `run` on SQLite"):
        postgres_conninfo("sqlite+aiosqlite:///x.db")
    assert (
        postgres_conninfo("postgresql+psycopg://u:p@127.0.0.1:5432/db?sslmode=disable")
        == "postgresql://u:p@127.0.0.1:5432/db?sslmode=disable"
    )


def test_the_dashboard_shows_the_next_firing_of_each_flow() -> None:
    jobs = [
        Job(connection="c", flow="suppliers", interval=timedelta(minutes=15)),
        Job(connection="c", flow="payments", windows=(time(6, 0), time(18, 0)), timezone="UTC"),
    ]
    runs = next_runs(schedules_for(jobs, now=JAN), JAN)
    assert runs == {
        ("c", "suppliers"): datetime(2026, 1, 10, 12, 15, tzinfo=UTC),
        ("c", "payments"): datetime(2026, 1, 10, 18, 0, tzinfo=UTC),
    }
