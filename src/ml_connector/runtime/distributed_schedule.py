"""Schedules of the distributed runner (pure): each scheduler job as a UTC cron for procrastinate.

procrastinate reads a periodic task's cron in UTC (it hands croniter plain epoch timestamps), and
it fires each (task, periodic id, timestamp) once across all workers. So:

- an interval becomes ``*/N`` minutes (``*/S`` in the sixth, seconds, column below a minute). No
  jitter: only one worker fires a tick, so there is no herd to spread. ``*/N`` counts from the top
  of the hour, so an N that does not divide 60 gives one shorter gap each hour.
- a posting window is a local time in the connection's zone, so its UTC time moves with daylight
  saving. Each window gets one daily UTC cron per UTC time it takes within a year, and a firing
  runs only when it is the window's instant on that local day (:meth:`Schedule.fires_at`): exactly
  one of them fires each day, whatever the offset. A window inside the hour skipped in spring
  fires when the local runner does (zoneinfo's reading of the missing time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from ml_connector.runtime.scheduler import Job


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """One periodic registration: a (connection, flow) job on a UTC cron."""

    connection: str
    flow: str
    #: five columns, or six with seconds last (croniter's order), read in UTC
    cron: str
    #: ``HH:MM[:SS]`` local time in ``timezone`` when this is a posting window, else None
    window: str | None = None
    timezone: str = "UTC"

    @property
    def periodic_id(self) -> str:
        """Unique per registration; procrastinate de-duplicates firings by it and the timestamp."""
        base = f"{self.connection}/{self.flow}"
        return base if self.window is None else f"{base}@{self.window}|{self.cron}"

    def fires_at(self, timestamp: float) -> bool:
        """Whether a firing at ``timestamp`` (epoch seconds) should run the flow."""
        if self.window is None:
            return True
        zone = ZoneInfo(self.timezone)
        local_day = datetime.fromtimestamp(timestamp, zone).date()
        due = datetime.combine(local_day, time.fromisoformat(self.window), tzinfo=zone)
        return due.timestamp() == timestamp

    def next_fire(self, after: datetime) -> datetime:
        """The first firing strictly after ``after`` that runs the flow (aware UTC)."""
        start = after.timestamp()
        cron = croniter(self.cron, start_time=start)
        for _ in range(400):  # a window candidate that runs comes within a year of days
            candidate = float(cron.get_next(float))
            if self.fires_at(candidate):
                return datetime.fromtimestamp(candidate, UTC)
        raise ValueError(f"{self.periodic_id} never fires")


def interval_cron(interval: timedelta) -> str:
    """``*/N`` minutes (or hours, or seconds) for an interval the scheduler uses."""
    seconds = int(interval.total_seconds())
    if seconds <= 0 or seconds != interval.total_seconds():
        raise ValueError(f"interval must be a whole number of seconds: {interval}")
    if seconds < 60:
        return f"* * * * * */{seconds}"
    if seconds % 60:
        raise ValueError(f"an interval above a minute must be whole minutes: {interval}")
    minutes = seconds // 60
    if minutes < 60:
        return f"*/{minutes} * * * *" if minutes > 1 else "* * * * *"
    if minutes % 60 == 0 and minutes // 60 < 24:
        return f"0 */{minutes // 60} * * *" if minutes > 60 else "0 * * * *"
    raise ValueError(f"an interval of an hour or more must be whole hours below a day: {interval}")


def window_crons(window: time, timezone: str, *, year_from: datetime) -> list[str]:
    """The daily UTC crons on which local ``window`` can fall in the year from ``year_from``."""
    zone = ZoneInfo(timezone)
    first = year_from.astimezone(zone).date()
    found: set[tuple[int, int, int]] = set()
    for day in range(367):
        at = datetime.combine(first + timedelta(days=day), window, tzinfo=zone).astimezone(UTC)
        found.add((at.hour, at.minute, at.second))
    return [
        f"{minute} {hour} * * *" + (f" {second}" if second else "")
        for hour, minute, second in sorted(found)
    ]


def schedules_for(jobs: Iterable[Job], *, now: datetime) -> list[Schedule]:
    """The periodic registrations of the scheduler's jobs (``jobs_for``)."""
    schedules: list[Schedule] = []
    for job in jobs:
        if job.interval is not None:
            schedules.append(
                Schedule(connection=job.connection, flow=job.flow, cron=interval_cron(job.interval))
            )
            continue
        for window in job.windows:
            label = window.isoformat(timespec="seconds" if window.second else "minutes")
            schedules.extend(
                Schedule(
                    connection=job.connection,
                    flow=job.flow,
                    cron=cron,
                    window=label,
                    timezone=job.timezone,
                )
                for cron in window_crons(window, job.timezone, year_from=now)
            )
    return schedules
