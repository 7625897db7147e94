"""The ServiceTitan webhook receiver: ``POST /webhooks/servicetitan/{connection}``.

Order of checks, each with a clear answer and nothing lost:

1. unknown connection or webhooks disabled → 404;
2. body larger than the connection's cap → 413 (read in chunks; the rest is never buffered);
3. signature (and timestamp, when configured) missing or wrong → 401, logged without the body;
4. a signed body that is not an event → stored as a ``malformed`` inbox item (visible, ignored)
   and answered 400;
5. otherwise the event is written to the inbox (group commit) and **only then** acknowledged:
   200 ``accepted`` for a new event, 200 ``duplicate`` for one already stored (retries, replays).

Events are hints: the worker fetches the current invoice or payment through the API before posting.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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


class _TooLarge(Exception):
    pass


async def _read_capped(request: Request, cap: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": status, "error": message}, status_code=status)


class WebhookReceiver:
    def __init__(
        self, endpoints: dict[str, WebhookEndpoint], writer: InboxWriter, clock: Clock
    ) -> None:
        self._endpoints = endpoints
        self._writer = writer
        self._clock = clock
        self.rejected: dict[str, int] = {}

    def _reject(self, connection: str, status: int, reason: str, request: Request) -> JSONResponse:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        log.warning(
            "webhook rejected: %s",
            reason,
            extra={
                "connection": connection,
                "status": status,
                "remote": request.client.host if request.client else None,
                "content_length": request.headers.get("content-length"),
            },
        )
        return _problem(status, reason)

    def _timestamp_ok(self, endpoint: WebhookEndpoint, stamp: str) -> bool:
        tolerance = endpoint.settings.timestamp_tolerance_seconds
        if tolerance <= 0:
            return True
        try:
            sent = float(stamp)
        except ValueError:
            return False
        return abs(self._clock.now().timestamp() - sent) <= tolerance

    async def handle(self, request: Request) -> Response:
        connection = request.path_params["connection"]
        endpoint = self._endpoints.get(connection)
        if endpoint is None or not endpoint.settings.enabled:
            return _problem(404, "no webhook endpoint for this connection")
        settings = endpoint.settings
        try:
            body = await _read_capped(request, settings.max_body_bytes)
        except _TooLarge:
            return self._reject(connection, 413, "body too large", request)
        if endpoint.key is None:
            return self._reject(connection, 401, "no webhook key is configured", request)
        signature = request.headers.get(settings.signature_header)
        if not signature:
            return self._reject(connection, 401, "signature missing", request)
        stamp: str | None = None
        if settings.timestamp_header:
            stamp = request.headers.get(settings.timestamp_header)
            if not stamp:
                return self._reject(connection, 401, "timestamp missing", request)
            if not self._timestamp_ok(endpoint, stamp):
                return self._reject(connection, 401, "timestamp outside tolerance", request)
        if not verify(
            body, endpoint.key.reveal(), signature, encoding=settings.encoding, timestamp=stamp
        ):
            return self._reject(connection, 401, "signature invalid", request)
        try:
            event = parse_event(body)
        except MalformedEvent as exc:
            await self._writer.submit(_malformed(connection, body, str(exc)))
            return self._reject(connection, 400, f"malformed event: {exc}", request)
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
        return JSONResponse(
            {"status": "accepted" if new else "duplicate", "eventKey": event.event_key}
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
