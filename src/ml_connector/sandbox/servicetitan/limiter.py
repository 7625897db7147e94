"""The API gateway's request limiter (reference §9: 60 calls per second per app key + tenant).

A sliding one-second log on the injected clock's ``monotonic()``; a refused request is not counted,
so a client that waits ``Retry-After`` gets through.
"""

from __future__ import annotations

import math
from collections import deque

from ml_connector.clock import Clock


class RateLimiter:
    def __init__(self, per_second: int, clock: Clock) -> None:
        self.per_second = per_second
        self._clock = clock
        self._windows: dict[tuple[str, int], deque[float]] = {}
        self.refused = 0

    def acquire(self, app_key: str, tenant: int) -> int | None:
        """``None`` when allowed, else the whole seconds to wait (``Retry-After``)."""
        now = self._clock.monotonic()
        window = self._windows.setdefault((app_key, tenant), deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.per_second:
            self.refused += 1
            return max(1, math.ceil(window[0] + 1.0 - now))
        window.append(now)
        return None
