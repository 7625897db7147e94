"""One Fusion request, sent right: URL, headers, auth, concurrency cap, retries, typed errors.

:class:`FusionSession` is the only object that calls ``httpx`` for Fusion. It builds requests under
``{base_url}/fscmRestApi/resources/{rest_version}/`` with ``REST-Framework-Version`` and the
``Accept`` header that asks for ADF error JSON (oracle-fusion-api.md §1.1, §6), and sends them
through the shared decision functions of :mod:`ml_connector.http.retry` (``classify``, ``delay``,
``retry_after_seconds``) on the injected Clock.

Why not :func:`~ml_connector.http.retry.send_with_retry` itself: it raises ``HttpStatusError`` with
a 200-character excerpt and drops the response, and Fusion's error reply is where the Oracle code
(``AR_BILL_TO_SITE_NOT_FOUND``, ``JBO-27024``) lives. The loop here is the same few lines with the
response kept, so the error can be parsed into :mod:`ml_connector.systems.fusion.errors` types.

Rules (DESIGN §3.2 rules 2, 5, 6): GETs retry freely; a write that left and got no clear answer
raises :class:`~ml_connector.http.errors.WriteMaybeCommitted` and is never re-sent here; 429 and
``Retry-After`` are honoured for every method; a 401 has already been answered once by the OAuth
auth flow (refresh + resend), so a 401 reaching this loop is final.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx

from ml_connector.clock import Clock
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
from ml_connector.systems.fusion.errors import (
    ADF_ERROR,
    SYSTEM,
    FusionAuthError,
    FusionUnreachable,
    error_from_response,
)
from ml_connector.systems.instrumentation import ApiObserver, NullObserver

log = logging.getLogger(__name__)

ACCEPT = f"application/json, {ADF_ERROR}"
RESOURCE_ITEM = "application/vnd.oracle.adf.resourceitem+json"
ACTION = "application/vnd.oracle.adf.action+json"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # Oracle's own examples send amounts as strings ("451.23")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


def resource_name(path: str) -> str:
    """``receivablesInvoices/300100/child/x`` → ``receivablesInvoices/child/x`` (no ids in metrics)."""
    parts = [p for p in path.strip("/").split("/") if p and not p.isdigit()]
    return "/".join(parts) or "(root)"


class FusionSession:
    """Sends Fusion requests; owns nothing but the policy (the httpx client is passed in)."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        clock: Clock,
        retry: RetryPolicy,
        basic: bool,
        observer: ApiObserver | None = None,
        token_cache: TokenCache | None = None,
        credentials: ClientCredentials | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.http = http
        self.clock = clock
        self.retry = retry
        self.basic = basic
        self.observer: ApiObserver = observer or NullObserver()
        self._tokens = token_cache
        self._credentials = credentials
        self._rng = rng

    def _refresh_count(self) -> int:
        if self._tokens is None or self._credentials is None:
            return 0
        return self._tokens.stats(self._credentials).refresh_count

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        content_type: str = RESOURCE_ITEM,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        """Send ``method path`` and return the 2xx response, or raise a typed error.

        ``path`` is relative to the version root (``suppliers``, ``standardReceipts/1/action/x``).
        """
        policy = retry or self.retry
        resource = resource_name(path)
        content = encode(body) if body is not None else None
        headers = {"Content-Type": content_type} if content is not None else None
        started = self.clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            request = self.http.build_request(
                method, path, params=params, content=content, headers=headers
            )
            refreshes = self._refresh_count()
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
            for _ in range(self._refresh_count() - refreshes):
                self.observer.token_refreshed(system=SYSTEM)
            decision = classify(method, outcome, sent)
            if decision is Decision.OK:
                assert response is not None
                return response
            if decision is Decision.AUTH:
                raise FusionAuthError(
                    resource=resource, basic=self.basic, excerpt=body_excerpt(response)
                )
            if decision is Decision.MAYBE_COMMITTED:
                raise WriteMaybeCommitted(
                    system=SYSTEM,
                    resource=resource,
                    method=method,
                    cause=_describe(outcome, response),
                    status=response.status_code if response is not None else None,
                )
            if decision is Decision.FATAL:
                if response is not None:
                    raise error_from_response(response, resource=resource, method=method)
                raise TransportFailure(
                    system=SYSTEM, resource=resource, method=method, cause=_describe(outcome, None)
                )
            hint = retry_after_seconds(response, self.clock.now())
            if response is not None and response.status_code == 429:
                self.observer.rate_limited(system=SYSTEM, resource=resource, retry_after=hint)
            wait = delay(policy, attempt, hint, self._rng)
            elapsed = self.clock.monotonic() - started
            if attempt >= policy.max_attempts or elapsed + wait > policy.max_total_seconds:
                if isinstance(outcome, httpx.ConnectError):
                    raise FusionUnreachable(resource=resource, cause=type(outcome).__name__)
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
                "fusion %s %s: %s; retry %d in %.1f s",
                method,
                resource,
                _describe(outcome, response),
                attempt,
                wait,
            )
            await self.clock.sleep(wait)

    async def get_json(
        self, path: str, params: Mapping[str, str] | None = None, **kw: Any
    ) -> dict[str, Any]:
        response = await self.request("GET", path, params=params, **kw)
        return _json_object(response, path)

    async def send_json(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any],
        *,
        content_type: str = RESOURCE_ITEM,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.request(
            method, path, params=params, body=body, content_type=content_type
        )
        return _json_object(response, path) if response.content else {}


def _json_object(response: httpx.Response, path: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TransportFailure(
            system=SYSTEM,
            resource=resource_name(path),
            method=response.request.method,
            cause=f"expected a JSON object, got {body_excerpt(response, 80)!r}",
        )
    return body


def _describe(outcome: int | BaseException, response: httpx.Response | None) -> str:
    if isinstance(outcome, BaseException):
        return f"{type(outcome).__name__}: {redact_text(str(outcome)) or 'no detail'}"
    excerpt = body_excerpt(response)
    return f"HTTP {outcome}" + (f": {excerpt}" if excerpt else "")
