"""The ServiceTitan webhook receiver: ``POST /webhooks/servicetitan/{connection}``.

Order of checks, each with a clear answer and nothing lost:

1. unknown connection or webhooks disabled → 404;
2. more requests from one client address than ``rate_limit_per_second`` (token bucket with
   ``rate_limit_burst``, on the injected clock) → 429 with ``Retry-After``, nothing read or stored;
3. body larger than the connection's cap → 413 (read in chunks; the rest is never buffered);
4. signature (and timestamp, when configured) missing or wrong → 401, logged without the body;
5. a signed body that is not an event → stored as a ``malformed`` inbox item (visible, ignored)
   and answered 400;
6. otherwise the event is written to the inbox (group commit) and **only then** acknowledged:
   200 ``accepted`` for a new event, 200 ``duplicate`` for one already stored (retries, replays).

Events are hints: the worker fetches the current invoice or payment through the API before posting.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import Receive, Scope, Send

from ml_connector.clock import Clock
from ml_connector.secrets import Secret
from ml_connector.settings import WebhookSettings
from ml_connector.store.records import NewInboxEvent
from ml_connector.systems.servicetitan.webhooks import MalformedEvent, parse_event, verify
from ml_connector.web.inbox_writer import InboxWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class WebhookEndpoint:
    """What the receiver needs to know about one connection."""

    connection: str
    settings: WebhookSettings
    key: Secret | None


@dataclass(kw_only=True)
class _Bucket:
    tokens: float
    at: float


@dataclass(kw_only=True)
class RateLimiter:
    """Token buckets per (connection, client address): ``rate`` per second, ``burst`` at once.

    ServiceTitan delivers far below the defaults; the limit is there so one misbehaving or hostile
    sender cannot fill the inbox or starve the store. Memory is bounded: idle buckets (full again)
    are dropped when there are many.
    """

    clock: Clock
    max_clients: int = 10_000
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def take(self, key: tuple[str, str], rate: float, burst: int) -> float:
        """0 when the request may pass, else the seconds until a token is free."""
        now = self.clock.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._forget_idle(now, rate, burst)
            bucket = self._buckets[key] = _Bucket(tokens=float(burst), at=now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate

    def _forget_idle(self, now: float, rate: float, burst: int) -> None:
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * rate >= burst]
        for k in full:
            del self._buckets[k]
        while len(self._buckets) >= self.max_clients:  # all busy: drop the oldest
            self._buckets.pop(next(iter(self._buckets)))


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


async def _read_capped(receive: Receive, declared: str | None, cap: int) -> bytes:
    """The whole body, or :class:`_TooLarge` as soon as it is known to pass ``cap``."""
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _json(content: dict[str, object]) -> bytes:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, kw_only=True)
class _Answer:
    status: int
    body: bytes
    retry_after: int | None = None

    async def send(self, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode("ascii")),
        ]
        if self.retry_after is not None:
            headers.append((b"retry-after", str(self.retry_after).encode("ascii")))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def _problem(status: int, message: str, retry_after: int | None = None) -> _Answer:
    return _Answer(
        status=status, body=_json({"status": status, "error": message}), retry_after=retry_after
    )


#: the ``mlc_webhooks_total{outcome}`` label of each refusal
_OUTCOMES = {
    400: "malformed",
    401: "unauthorized",
    404: "unknown_connection",
    413: "too_large",
    429: "rate_limited",
}


def _headers(scope: Scope, wanted: set[bytes]) -> dict[bytes, str]:
    """The first value of each ``wanted`` (lower-case) header present in the request."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in wanted and name not in found:
            found[name] = value.decode("latin-1")
    return found


class WebhookReceiver:
    """A plain ASGI app for ``POST /webhooks/servicetitan/{connection}``.

    It reads the request straight from ASGI (no Starlette request or response objects on the
    busiest route of the web app); the route gives it ``connection`` in ``scope["path_params"]``.
    """

    def __init__(
        self,
        endpoints: dict[str, WebhookEndpoint],
        writer: InboxWriter,
        clock: Clock,
        *,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        """``on_outcome`` hears each request's outcome (accepted, duplicate, or the rejection's
        status class: rate_limited, too_large, unauthorized, malformed, unknown_connection)."""
        self._endpoints = endpoints
        self._writer = writer
        self._clock = clock
        self._limiter = RateLimiter(clock=clock)
        self._on_outcome = on_outcome or (lambda _outcome: None)
        self.rejected: dict[str, int] = {}

    def _reject(
        self,
        connection: str,
        status: int,
        reason: str,
        scope: Scope,
        declared: str | None,
        *,
        retry_after: int | None = None,
    ) -> _Answer:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        self._on_outcome(_OUTCOMES.get(status, f"http_{status}"))
        client = scope.get("client")
        log.warning(
            "webhook rejected: %s",
            reason,
            extra={
                "connection": connection,
                "status": status,
                "remote": client[0] if client else None,
                "content_length": declared,
            },
        )
        return _problem(status, reason, retry_after)

    def _timestamp_ok(self, endpoint: WebhookEndpoint, stamp: str) -> bool:
        tolerance = endpoint.settings.timestamp_tolerance_seconds
        if tolerance <= 0:
            return True
        try:
            sent = float(stamp)
        except ValueError:
            return False
        return abs(self._clock.now().timestamp() - sent) <= tolerance

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            answer = await self._answer(scope, receive)
        except _Disconnected:
            return  # the sender went away mid-body: nothing was stored, nobody to answer
        await answer.send(send)

    async def _answer(self, scope: Scope, receive: Receive) -> _Answer:
        connection: str = scope["path_params"]["connection"]
        endpoint = self._endpoints.get(connection)
        if endpoint is None or not endpoint.settings.enabled:
            self._on_outcome(_OUTCOMES[404])
            return _problem(404, "no webhook endpoint for this connection")
        settings = endpoint.settings
        signature_header = settings.signature_header.lower().encode("latin-1")
        timestamp_header = (
            settings.timestamp_header.lower().encode("latin-1")
            if settings.timestamp_header
            else None
        )
        wanted = {b"content-length", signature_header}
        if timestamp_header is not None:
            wanted.add(timestamp_header)
        headers = _headers(scope, wanted)
        declared = headers.get(b"content-length")
        client = scope.get("client")
        wait = self._limiter.take(
            (connection, client[0] if client else "unknown"),
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
        )
        if wait > 0:
            return self._reject(
                connection,
                429,
                "rate limit exceeded",
                scope,
                declared,
                retry_after=max(1, math.ceil(wait)),
            )
        try:
            body = await _read_capped(receive, declared, settings.max_body_bytes)
        except _TooLarge:
            return self._reject(connection, 413, "body too large", scope, declared)
        if endpoint.key is None:
            return self._reject(connection, 401, "no webhook key is configured", scope, declared)
        signature = headers.get(signature_header)
        if not signature:
            return self._reject(connection, 401, "signature missing", scope, declared)
        stamp: str | None = None
        if timestamp_header is not None:
            stamp = headers.get(timestamp_header)
            if not stamp:
                return self._reject(connection, 401, "timestamp missing", scope, declared)
            if not self._timestamp_ok(endpoint, stamp):
                return self._reject(connection, 401, "timestamp outside tolerance", scope, declared)
        if not verify(
            body, endpoint.key.reveal(), signature, encoding=settings.encoding, timestamp=stamp
        ):
            return self._reject(connection, 401, "signature invalid", scope, declared)
        try:
            event = parse_event(body)
        except MalformedEvent as exc:
            await self._writer.submit(_malformed(connection, body, str(exc)))
            return self._reject(connection, 400, f"malformed event: {exc}", scope, declared)
        new = await self._writer.submit(
            NewInboxEvent(
                connection=connection,
                origin="webhook",
                event_key=event.event_key,
                event_type=event.event_type,
                entity_type=event.entity_type,
                entity_id=event.entity_id,
                payload=event.payload,
            )
        )
        self._on_outcome("accepted" if new else "duplicate")
        return _Answer(
            status=200,
            body=_json({"status": "accepted" if new else "duplicate", "eventKey": event.event_key}),
        )


def _malformed(connection: str, body: bytes, reason: str) -> NewInboxEvent:
    digest = hashlib.sha256(body).hexdigest()
    try:
        text: str = body.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        text = base64.b64encode(body).decode("ascii")
        encoding = "base64"
    return NewInboxEvent(
        connection=connection,
        origin="webhook",
        event_key=f"malformed:{digest}",
        event_type="malformed",
        payload={"reason": reason, "encoding": encoding, "body": text[:65536]},
    )
