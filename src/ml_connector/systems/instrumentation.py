"""The small protocol system clients report through: API calls, 429s, latency, token refreshes.

Both system clients (Fusion, ServiceTitan) take an optional :class:`ApiObserver`; the runtime plugs
in one that feeds Prometheus metrics (``/metrics``), tests use :class:`CountingObserver`. Keeping it
a Protocol of four plain methods means a client never imports the metrics library and an observer
never sees a request, a URL with credentials or a body — only the system, the resource name, the
method, the status and the time.

``status`` is ``None`` when no response came back (timeout, connection error).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol


class ApiObserver(Protocol):
    """What a system client reports. Implementations must be cheap and must not raise."""

    def api_call(
        self, *, system: str, resource: str, method: str, status: int | None, seconds: float
    ) -> None:
        """One attempt finished (every retry and resend counts)."""
        ...

    def rate_limited(self, *, system: str, resource: str, retry_after: float | None) -> None:
        """The server answered 429."""
        ...

    def token_refreshed(self, *, system: str) -> None:
        """A new access token was obtained."""
        ...


class NullObserver:
    """Reports nowhere (the default)."""

    def api_call(
        self, *, system: str, resource: str, method: str, status: int | None, seconds: float
    ) -> None:
        return None

    def rate_limited(self, *, system: str, resource: str, retry_after: float | None) -> None:
        return None

    def token_refreshed(self, *, system: str) -> None:
        return None


@dataclass(kw_only=True)
class CountingObserver:
    """Counts in memory: per (system, resource, method, status) calls, 429s, refreshes, latency."""

    calls: Counter[tuple[str, str, str, int | None]] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    refreshes: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)

    def api_call(
        self, *, system: str, resource: str, method: str, status: int | None, seconds: float
    ) -> None:
        self.calls[(system, resource, method, status)] += 1
        self.seconds[system] = self.seconds.get(system, 0.0) + seconds

    def rate_limited(self, *, system: str, resource: str, retry_after: float | None) -> None:
        self.throttled[system] += 1

    def token_refreshed(self, *, system: str) -> None:
        self.refreshes[system] += 1

    def total_calls(
        self, system: str, *, resource: str | None = None, method: str | None = None
    ) -> int:
        return sum(
            n
            for (sys, res, meth, _), n in self.calls.items()
            if sys == system
            and (resource is None or res == resource)
            and (method is None or meth == method)
        )
