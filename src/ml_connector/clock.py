"""Time as a dependency.

Every component that reads the time or waits takes a :class:`Clock`, so tests advance a
:class:`FakeClock` instead of sleeping, and production uses :class:`SystemClock`. Datetimes are
always timezone-aware UTC.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the code may ask of time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for durations and rate limits)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; a fake clock advances instead of waiting."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to, or when someone sleeps on it.

    ``sleep`` advances the time by the requested amount and yields once to the event loop, so code
    that backs off for 7 seconds completes at once while the clock shows 7 seconds more. ``slept``
    records every requested wait, so tests can assert on them.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._mono = 1000.0
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.slept.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


def ensure_aware(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive datetime is a bug at the edge, so it is refused."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"naive datetime {value.isoformat()} (a time zone is required)")
    return value.astimezone(UTC)
