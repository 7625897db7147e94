"""What both system sessions share: the retry loop with instrumentation and typed errors.

:class:`ApiSession` wraps :func:`ml_connector.http.retry.send_with_retry` — the one retry loop —
and reports every attempt, 429 and token refresh to an :class:`ApiObserver`. A system's session
subclasses it and says only what differs: how an error response becomes its own typed error
(Fusion's ADF codes, ServiceTitan's ProblemDetails) and how an unreachable host is named.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from ml_connector.clock import Clock
from ml_connector.http import ClientCredentials, Decision, RetryPolicy, TokenCache, send_with_retry
from ml_connector.systems.instrumentation import ApiObserver, NullObserver


class ApiSession:
    system: ClassVar[str]

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        clock: Clock,
        retry: RetryPolicy,
        observer: ApiObserver | None = None,
        token_cache: TokenCache | None = None,
        credentials: ClientCredentials | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.http = http
        self.clock = clock
        self.retry = retry
        self.observer: ApiObserver = observer or NullObserver()
        self._tokens = token_cache
        self._credentials = credentials
        self._rng = rng
        self._refreshes_reported = self._refresh_count()

    def _refresh_count(self) -> int:
        if self._tokens is None or self._credentials is None:
            return 0
        return self._tokens.stats(self._credentials).refresh_count

    def _report_refreshes(self) -> None:
        """Report refreshes since the last report, once each even with requests in flight.

        The cache is shared by every client of the same credentials; each session reports what it
        has seen, so for a process-wide figure read ``TokenCache.stats`` instead.
        """
        count = self._refresh_count()
        for _ in range(count - self._refreshes_reported):
            self.observer.token_refreshed(system=self.system)
        self._refreshes_reported = max(self._refreshes_reported, count)

    def status_error(
        self,
        response: httpx.Response,
        decision: Decision,
        *,
        resource: str,
        method: str,
        ident: object,
    ) -> Exception:
        """The system's typed error for a fatal or auth response."""
        raise NotImplementedError

    def unreachable(self, exc: BaseException, *, resource: str) -> Exception:
        """The system's typed error for a host that could not be reached."""
        raise NotImplementedError

    async def send(
        self,
        method: str,
        url: str,
        *,
        resource: str,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
        ident: object = None,
    ) -> httpx.Response:
        """Send one call and return its 2xx response, or raise a typed error.

        ``resource`` labels errors and metrics (``vendors/{id}``), never a URL with ids.
        """
        headers = {"Content-Type": content_type} if content is not None and content_type else None

        def build() -> httpx.Request:
            return self.http.build_request(
                method, url, params=params, content=content, headers=headers
            )

        def attempted(status: int | None, seconds: float) -> None:
            self.observer.api_call(
                system=self.system, resource=resource, method=method, status=status, seconds=seconds
            )
            self._report_refreshes()

        return await send_with_retry(
            self.http,
            build,
            retry or self.retry,
            self.clock,
            system=self.system,
            resource=resource,
            idempotent=idempotent,
            rng=self._rng,
            on_status=lambda response, decision: self.status_error(
                response, decision, resource=resource, method=method, ident=ident
            ),
            on_unreachable=lambda exc: self.unreachable(exc, resource=resource),
            on_attempt=attempted,
            on_throttled=lambda hint: self.observer.rate_limited(
                system=self.system, resource=resource, retry_after=hint
            ),
        )
