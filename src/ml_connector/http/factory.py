"""The one way to build an ``httpx.AsyncClient`` in this package.

Why a factory: every client must have explicit timeouts (httpx's 5-s default is too short for a
500-row Fusion page and ServiceTitan allows 100 s per request — servicetitan-api.md §4), bounded
connection pools, our User-Agent, and the same redacted logging and metrics hooks. Tests pass
``transport=httpx.ASGITransport(app)`` to talk to the in-process simulators.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ml_connector import __version__
from ml_connector.clock import Clock, SystemClock
from ml_connector.http.redaction import summarize_request, summarize_response

#: ServiceTitan cuts requests off at 100 s; waiting longer for a read is pointless.
MAX_READ_TIMEOUT = 100.0
USER_AGENT = f"ml-connector/{__version__}"
_STARTED = "ml_connector.started"

RequestHook = Callable[[httpx.Request], Awaitable[None]]
ResponseHook = Callable[[httpx.Response], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class HttpTimeouts:
    """Seconds for each phase of a request. ``read`` is capped at :data:`MAX_READ_TIMEOUT`."""

    connect: float = 10.0
    read: float = 60.0
    write: float = 30.0
    pool: float = 10.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "write", "pool"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} timeout must be positive")
        if self.read > MAX_READ_TIMEOUT:
            raise ValueError(f"read timeout must be at most {MAX_READ_TIMEOUT:g} s")

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True, kw_only=True)
class HttpLimits:
    """Connection-pool bounds. The request concurrency cap lives in ``ratelimit``."""

    max_connections: int = 20
    max_keepalive_connections: int = 10
    keepalive_expiry: float = 30.0

    def to_httpx(self) -> httpx.Limits:
        return httpx.Limits(
            max_connections=self.max_connections,
            max_keepalive_connections=self.max_keepalive_connections,
            keepalive_expiry=self.keepalive_expiry,
        )


def create_client(
    *,
    base_url: str,
    timeout: HttpTimeouts | None = None,
    limits: HttpLimits | None = None,
    user_agent: str = USER_AGENT,
    transport: httpx.AsyncBaseTransport | None = None,
    auth: httpx.Auth | None = None,
    event_hooks: Mapping[str, Sequence[Callable[..., Any]]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with explicit timeouts, limits, User-Agent and optional transport.

    ``event_hooks`` takes ``{"request": [...], "response": [...]}`` of async callables, e.g. from
    :func:`logging_hooks`. Redirects are not followed: an API that redirects is misconfigured,
    and a redirect would carry the Authorization header to another host.
    """
    merged = {"User-Agent": user_agent, "Accept": "application/json"}
    merged.update(headers or {})
    hooks = {kind: list(funcs) for kind, funcs in (event_hooks or {}).items()}
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=(timeout or HttpTimeouts()).to_httpx(),
        limits=(limits or HttpLimits()).to_httpx(),
        transport=transport,
        auth=auth,
        event_hooks=hooks,
        headers=merged,
        follow_redirects=False,
    )


def logging_hooks(
    logger: logging.Logger | None = None,
    *,
    clock: Clock | None = None,
    on_response: Callable[[dict[str, str | int | float | None]], None] | None = None,
) -> dict[str, list[Callable[..., Any]]]:
    """Event hooks that log each exchange (redacted, no bodies) and report it for metrics.

    Elapsed time is measured on ``clock`` from the request hook to the response hook (headers
    received), so it works with a FakeClock. ``on_response`` receives the summary dict
    (method, redacted url, status, elapsed_s, response_bytes) — the metrics layer plugs in here.
    """
    log = logger or logging.getLogger("ml_connector.http")
    timer = clock or SystemClock()

    async def on_request(request: httpx.Request) -> None:
        request.extensions[_STARTED] = timer.monotonic()
        if log.isEnabledFor(logging.DEBUG):
            summary = summarize_request(request)
            log.debug("→ %s %s", summary["method"], summary["url"])

    async def on_response_hook(response: httpx.Response) -> None:
        started = response.request.extensions.get(_STARTED)
        elapsed = timer.monotonic() - started if isinstance(started, float) else None
        summary = summarize_response(response, elapsed=elapsed)
        log.debug(
            "← %s %s %s in %s s", summary["status"], summary["method"], summary["url"], elapsed
        )
        if on_response is not None:
            on_response(summary)

    return {"request": [on_request], "response": [on_response_hook]}
