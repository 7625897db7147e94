"""One ServiceTitan request, sent right: path, JSON, retries, instrumentation, typed errors.

:class:`STSession` is the only object that calls ``httpx`` for ServiceTitan. Auth (token +
``ST-App-Key``, one refresh and resend on a 401) and the 50 req/s bucket live in the httpx client's
auth and transport (built in :mod:`.client`); this loop decides what to do with each answer using
the shared pure functions of :mod:`ml_connector.http.retry` on the injected Clock.

Why not :func:`~ml_connector.http.retry.send_with_retry`: it drops the error response, and the
ProblemDetails ``title``/``errors`` (servicetitan-api.md §10) are what make a 400 actionable and
what tells a bad app key from a bad token. The loop is the same few lines with the response kept.

Rules (DESIGN §3.2 rules 2, 5, 6): GETs retry 429 (``Retry-After``, else the "Try again in N
seconds." title), 502/503/504 and timeouts; a POST/PATCH that left and got no clear answer raises
:class:`~ml_connector.http.WriteMaybeCommitted` and is never re-sent here, unless the call is
idempotent in effect (``idempotent=True``: marking invoices exported, setting a payment status).
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from ml_connector.clock import Clock, ensure_aware
from ml_connector.http import (
    ClientCredentials,
    Decision,
    RetriesExhausted,
    RetryPolicy,
    TokenCache,
    TransportFailure,
    WriteMaybeCommitted,
    body_excerpt,
    classify,
    delay,
    request_was_sent,
    retry_after_seconds,
)
from ml_connector.http.redaction import redact_text
from ml_connector.systems.instrumentation import ApiObserver, NullObserver
from ml_connector.systems.servicetitan.errors import SYSTEM, STUnreachable, error_from_response

log = logging.getLogger(__name__)

_DECIMAL = re.compile(r'"\\u0000dec:([-+0-9.Ee]+)\\u0000"')


def _mark_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite amount")
        return f"\x00dec:{value}\x00"
    if isinstance(value, datetime):
        return st_time(value)
    if isinstance(value, Mapping):
        return {str(k): _mark_decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark_decimals(v) for v in value]
    return value


def encode(body: Any) -> bytes:
    """JSON with Decimals as JSON **numbers**, exactly as written (``12.50`` stays ``12.50``).

    ServiceTitan's request schemas type amounts as ``number``; a float would round (0.1 + 0.2),
    a string fails the schema. Decimals are marked on the way in and unquoted on the way out.
    """
    text = json.dumps(_mark_decimals(body), separators=(",", ":"))
    return _DECIMAL.sub(lambda m: m.group(1), text).encode()


def st_time(value: datetime, *, ceil: bool = False) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (servicetitan-api.md §3: ``+00:00`` is refused on some endpoints).

    Whole seconds: a lower bound is floored (reads a little more, never less); an exclusive upper
    bound is rounded up with ``ceil=True`` for the same reason.
    """
    aware = ensure_aware(value).astimezone(UTC)
    floored = aware.replace(microsecond=0)
    if ceil and floored != aware:
        floored += timedelta(seconds=1)
    return floored.strftime("%Y-%m-%dT%H:%M:%SZ")


class STSession:
    """Sends ServiceTitan requests for one tenant; owns nothing but the policy."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        tenant_id: int,
        clock: Clock,
        retry: RetryPolicy,
        observer: ApiObserver | None = None,
        token_cache: TokenCache | None = None,
        credentials: ClientCredentials | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.http = http
        self.tenant_id = tenant_id
        self.clock = clock
        self.retry = retry
        self.observer: ApiObserver = observer or NullObserver()
        self._tokens = token_cache
        self._credentials = credentials
        self._rng = rng
        self._refreshes_reported = self._refresh_count()

    def path(self, namespace: str, resource_path: str) -> str:
        return f"{namespace}/v2/tenant/{self.tenant_id}/{resource_path.lstrip('/')}"

    def _refresh_count(self) -> int:
        if self._tokens is None or self._credentials is None:
            return 0
        return self._tokens.stats(self._credentials).refresh_count

    def _report_refreshes(self) -> None:
        """Report token refreshes since the last report, once each even with requests in flight.

        The cache is shared by every client of the same credentials; each client reports what it
        has seen, so for a process-wide figure read ``TokenCache.stats`` instead.
        """
        count = self._refresh_count()
        for _ in range(count - self._refreshes_reported):
            self.observer.token_refreshed(system=SYSTEM)
        self._refreshes_reported = max(self._refreshes_reported, count)

    async def request(
        self,
        method: str,
        namespace: str,
        resource_path: str,
        *,
        resource: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        ident: object = None,
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        """Send one call and return its 2xx response, or raise a typed error.

        ``resource`` is the label for errors and metrics (``vendors/{id}``), never a URL with ids.
        """
        policy = retry or self.retry
        url = self.path(namespace, resource_path)
        content = encode(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        started = self.clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            request = self.http.build_request(
                method, url, params=params, content=content, headers=headers
            )
            sent_at = self.clock.monotonic()
            response: httpx.Response | None = None
            outcome: int | BaseException
            try:
                response = await self.http.send(request)
                outcome, sent = response.status_code, True
            except httpx.HTTPError as exc:
                outcome, sent = exc, request_was_sent(exc)
            self.observer.api_call(
                system=SYSTEM,
                resource=resource,
                method=method,
                status=response.status_code if response is not None else None,
                seconds=self.clock.monotonic() - sent_at,
            )
            self._report_refreshes()
            decision = classify(method, outcome, sent, idempotent=idempotent)
            if decision is Decision.OK:
                assert response is not None
                return response
            if decision is Decision.MAYBE_COMMITTED:
                raise WriteMaybeCommitted(
                    system=SYSTEM,
                    resource=resource,
                    method=method,
                    cause=_describe(outcome, response),
                    status=response.status_code if response is not None else None,
                )
            if decision in (Decision.FATAL, Decision.AUTH):
                if response is not None:
                    raise error_from_response(
                        response, resource=resource, method=method, ident=ident
                    )
                raise TransportFailure(
                    system=SYSTEM, resource=resource, method=method, cause=_describe(outcome, None)
                )
            hint = retry_after_seconds(response, self.clock.now())
            if response is not None and response.status_code == 429:
                self.observer.rate_limited(system=SYSTEM, resource=resource, retry_after=hint)
            wait = delay(policy, attempt, hint, self._rng)
            elapsed = self.clock.monotonic() - started
            if attempt >= policy.max_attempts or elapsed + wait > policy.max_total_seconds:
                if isinstance(outcome, httpx.ConnectError | httpx.ConnectTimeout):
                    raise STUnreachable(resource=resource, cause=type(outcome).__name__)
                raise RetriesExhausted(
                    system=SYSTEM,
                    resource=resource,
                    method=method,
                    attempts=attempt,
                    elapsed=elapsed,
                    last=_describe(outcome, response),
                    retry_after=hint,
                    status=response.status_code if response is not None else None,
                )
            log.info(
                "servicetitan %s %s: %s; retry %d in %.1f s",
                method,
                resource,
                _describe(outcome, response),
                attempt,
                wait,
            )
            await self.clock.sleep(wait)

    async def get_json(
        self,
        namespace: str,
        resource_path: str,
        *,
        resource: str,
        params: Mapping[str, Any] | None = None,
        ident: object = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        response = await self.request(
            "GET",
            namespace,
            resource_path,
            resource=resource,
            params=params,
            ident=ident,
            retry=retry,
        )
        return _json(response, resource)

    async def send_json(
        self,
        method: str,
        namespace: str,
        resource_path: str,
        body: Any,
        *,
        resource: str,
        ident: object = None,
        idempotent: bool | None = None,
    ) -> Any:
        response = await self.request(
            method,
            namespace,
            resource_path,
            resource=resource,
            body=body,
            ident=ident,
            idempotent=idempotent,
        )
        return _json(response, resource) if response.content.strip() else None


def _json(response: httpx.Response, resource: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise TransportFailure(
            system=SYSTEM,
            resource=resource,
            method=response.request.method,
            cause=f"expected JSON, got {body_excerpt(response, 80)!r}",
        ) from None


def _describe(outcome: int | BaseException, response: httpx.Response | None) -> str:
    if isinstance(outcome, BaseException):
        return f"{type(outcome).__name__}: {redact_text(str(outcome)) or 'no detail'}"
    excerpt = body_excerpt(response)
    return f"HTTP {outcome}" + (f": {excerpt}" if excerpt else "")
