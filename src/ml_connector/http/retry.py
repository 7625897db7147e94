"""Retry policy as data, decisions as pure functions, and one tiny loop that waits on the Clock.

Why this shape: the rules ("a POST that timed out is never re-sent", "honour Retry-After") are
the part that must be right, so they live in :func:`classify`, :func:`retry_after_seconds` and
:func:`delay`, each testable with no server and no time. :func:`send_with_retry` only strings
them together.

Rules (DESIGN §3.2 rules 2 and 6; lessons-from-peers §2.4, §2.5):

* 2xx/3xx → ``OK``; 401 → ``AUTH`` (the auth flow already refreshed once; a second 401 is final).
* 408, 429 → ``RETRY`` for every method: the server says it did not process the request.
* 500, 502, 503, 504, and read/write timeouts or broken connections after the request left →
  ``RETRY`` for idempotent requests, ``MAYBE_COMMITTED`` for writes.
* Connect errors, connect and pool timeouts (the request never left) → ``RETRY`` for every method.
* Any other 4xx/5xx or error → ``FATAL``.
"""

from __future__ import annotations

import email.utils
import enum
import json
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from ml_connector.clock import Clock
from ml_connector.http.errors import (
    AuthError,
    HttpStatusError,
    RetriesExhausted,
    TransportFailure,
    WriteMaybeCommitted,
    body_excerpt,
)
from ml_connector.http.redaction import redact_text

log = logging.getLogger(__name__)

#: Methods safe to send twice (RFC 9110 safe methods). PUT and DELETE are idempotent in theory,
#: but a vendor API may not honour that; callers opt in with ``idempotent=True``.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Statuses that mean "not processed, try later" for any method.
NOT_PROCESSED_STATUSES = frozenset({408, 429})
#: Statuses that are transient for reads but leave a write's outcome unknown.
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
#: Exceptions raised before a single byte of the request left.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
#: Exceptions after the request (maybe) left: the server may have acted on it.
SENT_TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


class Decision(enum.Enum):
    OK = "ok"
    RETRY = "retry"
    FATAL = "fatal"
    AUTH = "auth"
    MAYBE_COMMITTED = "maybe_committed"


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How hard to try: an attempt cap **and** a total-time cap, whichever comes first.

    ``jitter`` is a fraction: each computed delay is spread uniformly over
    ``[d·(1−jitter), d·(1+jitter)]`` and then capped at ``max_delay``.
    """

    max_attempts: int = 6
    max_total_seconds: float = 300.0
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.max_total_seconds < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays and caps must not be negative")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter is a fraction between 0 and 1")


def request_was_sent(exc: BaseException) -> bool:
    """Whether the request may have reached the server before ``exc`` was raised."""
    return not isinstance(exc, NOT_SENT_ERRORS)


def classify(
    method: str,
    outcome: int | BaseException,
    request_sent: bool,
    *,
    idempotent: bool | None = None,
) -> Decision:
    """What to do after one attempt. ``outcome`` is the status code or the raised exception.

    ``idempotent`` overrides the method's default (e.g. a POST search, or ServiceTitan's
    ``markasexported``, is safe to repeat).
    """
    safe = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent
    if isinstance(outcome, BaseException):
        if isinstance(outcome, NOT_SENT_ERRORS):
            return Decision.RETRY
        if isinstance(outcome, SENT_TRANSIENT_ERRORS):
            return Decision.RETRY if safe or not request_sent else Decision.MAYBE_COMMITTED
        return Decision.FATAL
    status = outcome
    if status < 400:
        return Decision.OK
    if status == 401:
        return Decision.AUTH
    if status in NOT_PROCESSED_STATUSES:
        return Decision.RETRY
    if status in TRANSIENT_STATUSES:
        return Decision.RETRY if safe else Decision.MAYBE_COMMITTED
    return Decision.FATAL


_TRY_AGAIN = re.compile(r"(?i)try again in\s+(\d+(?:\.\d+)?)\s*seconds?")


def retry_after_seconds(response: httpx.Response | None, now: datetime) -> float | None:
    """The server's requested wait, if it gave one, in seconds (never negative).

    ``Retry-After`` as delta-seconds or an HTTP date first (RFC 9110 §10.2.3), then the
    ServiceTitan gateway's ProblemDetails ``title`` "… Try again in N seconds."
    (servicetitan-api.md §9).
    """
    if response is None:
        return None
    header = response.headers.get("retry-after")
    if header:
        value = header.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            if when.tzinfo is None:  # HTTP dates are GMT by definition
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - now).total_seconds())
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return None
    title: str | None = None
    if text[:1] == "{":
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("title"), str):
            title = body["title"]
    match = _TRY_AGAIN.search(title if title is not None else text[:500])
    return float(match.group(1)) if match else None


def backoff_cap(policy: RetryPolicy, attempt: int) -> float:
    """The un-jittered delay after failed attempt number ``attempt`` (1-based): capped doubling."""
    exponent = min(max(attempt, 1) - 1, 62)
    return float(min(policy.max_delay, policy.base_delay * (2.0**exponent)))


def delay(
    policy: RetryPolicy,
    attempt: int,
    retry_after: float | None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt ``attempt``.

    A server hint wins as given (the server knows; the total-time cap still applies in the loop).
    Otherwise exponential backoff with jitter, never above ``policy.max_delay``.
    """
    if retry_after is not None:
        return max(0.0, retry_after)
    base = backoff_cap(policy, attempt)
    r = (rng or random).random()
    spread = base * (1.0 + policy.jitter * (2.0 * r - 1.0))
    return max(0.0, min(policy.max_delay, spread))


def _describe(outcome: int | BaseException, response: httpx.Response | None) -> str:
    if isinstance(outcome, BaseException):
        return f"{type(outcome).__name__}: {redact_text(str(outcome)) or 'no detail'}"
    excerpt = body_excerpt(response)
    return f"HTTP {outcome}" + (f": {excerpt}" if excerpt else "")


StatusErrorHook = Callable[[httpx.Response, "Decision"], Exception]
UnreachableHook = Callable[[BaseException], Exception]
AttemptHook = Callable[[int | None, float], None]
ThrottleHook = Callable[[float | None], None]


async def send_with_retry(
    client: httpx.AsyncClient,
    request_factory: Callable[[], httpx.Request],
    policy: RetryPolicy,
    clock: Clock,
    *,
    system: str,
    resource: str,
    idempotent: bool | None = None,
    rng: random.Random | None = None,
    on_status: StatusErrorHook | None = None,
    on_unreachable: UnreachableHook | None = None,
    on_attempt: AttemptHook | None = None,
    on_throttled: ThrottleHook | None = None,
) -> httpx.Response:
    """Send a request, retrying what the rules allow, and return the first successful response.

    This is the one retry loop: the system clients call it with hooks for what differs between
    them. ``request_factory`` builds a fresh request per attempt (the auth flow signs each one
    anew). ``on_status`` turns a fatal or auth response into the system's own typed error (Fusion's
    ADF error codes, ServiceTitan's ProblemDetails); ``on_unreachable`` names a connection failure
    that outlived the retries; ``on_attempt`` (status or None, seconds) and ``on_throttled``
    (Retry-After) feed metrics. Without hooks it raises :class:`HttpStatusError`,
    :class:`AuthError`, :class:`TransportFailure`, :class:`WriteMaybeCommitted` or
    :class:`RetriesExhausted`; it never returns an error response.
    """
    started = clock.monotonic()
    attempt = 0
    while True:
        attempt += 1
        request = request_factory()
        method = request.method
        response: httpx.Response | None = None
        outcome: int | BaseException
        sent_at = clock.monotonic()
        try:
            response = await client.send(request)
            outcome, sent = response.status_code, True
        except httpx.HTTPError as exc:
            outcome, sent = exc, request_was_sent(exc)
        if on_attempt is not None:
            on_attempt(
                response.status_code if response is not None else None, clock.monotonic() - sent_at
            )
        decision = classify(method, outcome, sent, idempotent=idempotent)
        if decision is Decision.OK:
            assert response is not None
            return response
        if decision in (Decision.AUTH, Decision.FATAL) and response is not None and on_status:
            raise on_status(response, decision)
        if decision is Decision.AUTH:
            raise AuthError(
                system=system, resource=resource, status=401, excerpt=body_excerpt(response)
            )
        if decision is Decision.MAYBE_COMMITTED:
            raise WriteMaybeCommitted(
                system=system,
                resource=resource,
                method=method,
                cause=_describe(outcome, response),
                status=response.status_code if response is not None else None,
            )
        if decision is Decision.FATAL:
            if response is not None:
                raise HttpStatusError(
                    system=system,
                    resource=resource,
                    method=method,
                    status=response.status_code,
                    excerpt=body_excerpt(response),
                )
            raise TransportFailure(
                system=system, resource=resource, method=method, cause=_describe(outcome, None)
            )
        hint = retry_after_seconds(response, clock.now())
        if response is not None and response.status_code == 429 and on_throttled is not None:
            on_throttled(hint)
        wait = delay(policy, attempt, hint, rng)
        elapsed = clock.monotonic() - started
        if attempt >= policy.max_attempts or elapsed + wait > policy.max_total_seconds:
            if on_unreachable is not None and isinstance(
                outcome, httpx.ConnectError | httpx.ConnectTimeout
            ):
                raise on_unreachable(outcome)
            raise RetriesExhausted(
                system=system,
                resource=resource,
                method=method,
                attempts=attempt,
                elapsed=elapsed,
                last=_describe(outcome, response),
                retry_after=hint,
                status=response.status_code if response is not None else None,
            )
        log.info(
            "%s %s %s: %s; retry %d in %.1f s",
            system,
            method,
            resource,
            _describe(outcome, response),
            attempt,
            wait,
        )
        await clock.sleep(wait)
