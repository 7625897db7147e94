"""ServiceTitan-style webhook emitter for the sandbox (servicetitan-api.md §8; DESIGN §5).

When the ServiceTitan simulator creates or changes an invoice or payment (or a test asks), the
emitter POSTs an event to every callback URL, signed with HMAC-SHA256 over the raw body, and
retries a failed delivery after 10, 30, 60 and 300 s (§8.2), each wait multiplied by
``time_scale``. The waits are read as the pause after each failed attempt, so a receiver that
fails twice is reached at 0, 10 and 40 s. After the last retry the delivery is *dead*, visible in
``dead_letters()`` and replayable (the real portal offers a manual replay).

The signature header, its encoding and whether a timestamp is signed are not public (§8.2 "NOT
VERIFIED"), so they are knobs here, and :func:`sign` / :func:`verify` are pure functions the
connector's own receiver can share. Duplicates and reordering are knobs too, because the
receiver must survive both (DESIGN §3.2 rule 4, §5 "Webhooks").

Delivery is driven by the injected :class:`Clock`: tests call :meth:`WebhookEmitter.deliver_due`
after ``clock.advance(...)``; the sandbox server runs :meth:`WebhookEmitter.run`.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ml_connector.clock import Clock, SystemClock, ensure_aware
from ml_connector.sandbox.credentials import SERVICETITAN_TENANT_ID, SERVICETITAN_WEBHOOK_KEY
from ml_connector.systems.servicetitan.webhooks import Encoding, sign

log = logging.getLogger(__name__)

TransportFactory = Callable[[], httpx.AsyncBaseTransport]


class WebhookConfig(BaseModel):
    """Subscription and delivery knobs; defaults are ServiceTitan's as far as they are known."""

    model_config = ConfigDict(extra="forbid")

    callback_urls: list[str] = Field(default_factory=list)
    event_types: list[str] | None = None  # None: every event type is sent
    hmac_key: Annotated[str, Field(min_length=32, max_length=64)] | None = SERVICETITAN_WEBHOOK_KEY
    signature_header: str = "X-ServiceTitan-Signature"
    encoding: Encoding = "base64"
    digest: Literal["sha256"] = "sha256"
    timestamp_header: str | None = None
    retry_schedule: list[Annotated[float, Field(ge=0)]] = Field(
        default_factory=lambda: [10.0, 30.0, 60.0, 300.0]
    )
    time_scale: Annotated[float, Field(ge=0)] = 1.0
    duplicate_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    reorder_window: Annotated[int, Field(ge=0)] = 0
    reorder_max_hold_seconds: Annotated[float, Field(ge=0)] = 5.0
    envelope: Literal["v2", "v1"] = "v2"
    include_event_id: bool = True
    tenant_id: int = SERVICETITAN_TENANT_ID
    tenant_name: str = "sandbox"
    webhook_id: int = 1
    request_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    # deliveries attempted at once; 1 sends one at a time in queue order (the spec says nothing)
    max_in_flight: Annotated[int, Field(ge=1, le=64)] = 1
    seed: int | None = None

    @field_validator("callback_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if httpx.URL(url).scheme not in {"http", "https"}:
                raise ValueError(f"callback URL must be http(s): {url!r}")
        return value


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True, kw_only=True)
class WebhookEvent:
    """One change, as emitted; ``body`` is serialised once so every retry resends the same bytes."""

    event_id: str
    event_type: str
    timestamp: datetime
    tenant_id: int
    data: Mapping[str, Any]
    body: bytes


@dataclass(kw_only=True)
class Delivery:
    """One event on its way to one URL (mutable: it is the retry state machine's record)."""

    event: WebhookEvent
    url: str
    due: float
    duplicate: bool = False
    attempts: int = 0
    state: DeliveryState = DeliveryState.PENDING
    last_error: str | None = None
    attempted_at: list[datetime] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class DeadLetter:
    event_id: str
    event_type: str
    url: str
    attempts: int
    last_error: str | None


def _utc_z(moment: datetime, *, digits: int = 3) -> str:
    fraction = f"{moment.microsecond:06d}{'0' * max(0, digits - 6)}"[:digits]
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{fraction}Z"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # ServiceTitan accounting sends money as strings (§11 quirk 9)
    if isinstance(value, datetime):
        return _utc_z(ensure_aware(value))  # a naive datetime is refused, never guessed
    raise TypeError(f"cannot serialise {type(value).__name__} in a webhook body")


def _webhook_type(event_type: str) -> str:
    """``invoice.updated`` → ``InvoiceUpdated``, the V1 ``webhookType`` spelling (§8.1)."""
    return "".join(part[:1].upper() + part[1:] for part in event_type.replace("_", ".").split("."))


class WebhookEmitter:
    """Queues events and delivers them with ServiceTitan's retry schedule on the given clock."""

    def __init__(
        self,
        config: WebhookConfig,
        clock: Clock | None = None,
        transport_factory: TransportFactory | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self._transport_factory = transport_factory
        self._rng = rng or random.Random(config.seed)
        self._client: httpx.AsyncClient | None = None
        self._held: list[Delivery] = []
        self._held_since: float | None = None
        self._queue: list[Delivery] = []
        self._dead: list[Delivery] = []
        self._counts: Counter[str] = Counter()
        self.history: deque[Delivery] = deque(maxlen=1000)  # delivered and dead, newest last
        self._wakeup = asyncio.Event()
        self._closed = False

    # -- emitting ---------------------------------------------------------------------------

    def emit(self, event_type: str, entity: Mapping[str, Any]) -> WebhookEvent | None:
        """Enqueue one event for every callback URL; ``None`` when the type is not subscribed."""
        config = self.config
        if config.event_types is not None and event_type not in config.event_types:
            self._counts["filtered"] += 1
            return None
        event = self._build(event_type, entity)
        self._counts["emitted"] += 1
        copies = 1
        if config.duplicate_rate and self._rng.random() < config.duplicate_rate:
            copies = 2
            self._counts["duplicates"] += 1
        now = self.clock.monotonic()
        fresh = [
            Delivery(event=event, url=url, due=now, duplicate=n > 0)
            for n in range(copies)
            for url in config.callback_urls
        ]
        if config.reorder_window > 1:
            if not self._held:
                self._held_since = now
            self._held.extend(fresh)
            if len({d.event.event_id for d in self._held}) >= config.reorder_window:
                self._release_held()
        else:
            self._queue.extend(fresh)
        self._wakeup.set()
        return event

    def listener(self, event_type: str, entity: Mapping[str, Any]) -> None:
        """The callback a simulator's state calls on every create or change."""
        self.emit(event_type, entity)

    def _build(self, event_type: str, entity: Mapping[str, Any]) -> WebhookEvent:
        config = self.config
        now = self.clock.now()
        event_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        data = copy.deepcopy(dict(entity))
        payload: dict[str, Any]
        if config.envelope == "v1":
            # V1 (§8.1): record fields flat, eventId is a timestamp string, two envelope objects.
            info: dict[str, Any] = {"eventId": _utc_z(now, digits=7)}
            info |= {"webhookId": config.webhook_id, "webhookType": _webhook_type(event_type)}
            if not config.include_event_id:
                del info["eventId"]
            tenant = {"id": config.tenant_id, "name": config.tenant_name}
            payload = {**data, "__eventInfo": info, "__tenantInfo": tenant}
        else:
            payload = {"eventId": event_id} if config.include_event_id else {}
            payload |= {"eventType": event_type, "timestamp": _utc_z(now)}
            payload |= {"tenantId": config.tenant_id, "data": data}
        body = json.dumps(payload, default=_json_default, separators=(",", ":")).encode()
        return WebhookEvent(
            event_id=event_id,
            event_type=event_type,
            timestamp=now,
            tenant_id=config.tenant_id,
            data=data,
            body=body,
        )

    def _release_held(self) -> None:
        batch, self._held, self._held_since = self._held, [], None
        self._rng.shuffle(batch)
        now = self.clock.monotonic()
        for delivery in batch:
            delivery.due = min(delivery.due, now)
        self._queue.extend(batch)

    # -- delivering -------------------------------------------------------------------------

    async def deliver_due(self) -> int:
        """Attempt every delivery that is due now, in queue order; returns how many were tried.

        With ``max_in_flight`` > 1 that many are on the wire at once (started in queue order,
        answered in any order), so a receiver that commits in groups sees concurrent requests.
        """
        now = self.clock.monotonic()
        held_since = self._held_since
        if held_since is not None and now - held_since >= self.config.reorder_max_hold_seconds:
            self._release_held()
        due = [d for d in self._queue if d.due <= now]
        width = self.config.max_in_flight
        if width == 1:
            for delivery in due:
                await self._attempt(delivery)
            return len(due)
        waiting = iter(due)

        async def lane() -> None:
            for delivery in waiting:  # lanes share one iterator: each delivery is sent once
                await self._attempt(delivery)

        await asyncio.gather(*(lane() for _ in range(min(width, len(due)))))
        return len(due)

    async def _attempt(self, delivery: Delivery) -> None:
        config = self.config
        delivery.attempts += 1
        delivery.attempted_at.append(self.clock.now())
        self._counts["attempts"] += 1
        headers = {"Content-Type": "application/json", "User-Agent": "ml-connector-sandbox"}
        if config.hmac_key:
            timestamp = None
            if config.timestamp_header:
                timestamp = str(int(self.clock.now().timestamp()))
                headers[config.timestamp_header] = timestamp
            body = delivery.event.body
            signature = sign(body, config.hmac_key, encoding=config.encoding, timestamp=timestamp)
            headers[config.signature_header] = signature
        error: str | None = None
        try:
            response = await self._http().post(
                delivery.url, content=delivery.event.body, headers=headers
            )
            if not response.is_success:
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # an in-process receiver that crashed: still just a failure
            log.warning("webhook receiver %s raised", delivery.url, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            delivery.state = DeliveryState.DELIVERED
            delivery.last_error = None
            self._counts["delivered"] += 1
            self._finish(delivery)
            return
        delivery.last_error = error
        self._counts["failures"] += 1
        retry = delivery.attempts - 1
        if retry < len(config.retry_schedule):
            delivery.due = self.clock.monotonic() + config.retry_schedule[retry] * config.time_scale
            return
        delivery.state = DeliveryState.DEAD
        self._counts["dead"] += 1
        self._dead.append(delivery)
        self._finish(delivery)
        log.warning(
            "webhook %s %s to %s dead after %d attempts: %s",
            delivery.event.event_type,
            delivery.event.event_id,
            delivery.url,
            delivery.attempts,
            error,
        )

    def _finish(self, delivery: Delivery) -> None:
        self._queue.remove(delivery)
        self.history.append(delivery)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            transport = self._transport_factory() if self._transport_factory else None
            self._client = httpx.AsyncClient(
                transport=transport, timeout=self.config.request_timeout_seconds
            )
        return self._client

    def next_due_in(self) -> float | None:
        """Seconds until something is due (0 if already), or ``None`` when nothing waits."""
        now = self.clock.monotonic()
        times = [d.due for d in self._queue]
        if self._held_since is not None:
            times.append(self._held_since + self.config.reorder_max_hold_seconds)
        return max(0.0, min(times) - now) if times else None

    async def run(self) -> None:
        """Deliver until :meth:`close`, sleeping on the clock until the next due delivery."""
        while not self._closed:
            self._wakeup.clear()
            await self.deliver_due()
            delay = self.next_due_in()
            waits: set[asyncio.Task[Any]] = {asyncio.create_task(self._wakeup.wait())}
            if delay is not None:
                waits.add(asyncio.create_task(self.clock.sleep(delay)))
            _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def aclose(self) -> None:
        self.close()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> WebhookEmitter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- what happened ----------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        counts = self._counts
        names = ("emitted", "attempts", "delivered", "failures", "duplicates", "dead", "filtered")
        result = {name: counts[name] for name in names}
        result["pending"] = len(self._queue)
        result["held"] = len(self._held)
        return result

    def dead_letters(self) -> list[DeadLetter]:
        return [
            DeadLetter(
                event_id=d.event.event_id,
                event_type=d.event.event_type,
                url=d.url,
                attempts=d.attempts,
                last_error=d.last_error,
            )
            for d in self._dead
        ]

    def replay_dead(self) -> int:
        """Queue every dead delivery again from scratch, like the portal's manual replay."""
        now = self.clock.monotonic()
        replayed, self._dead = self._dead, []
        for delivery in replayed:
            delivery.attempts, delivery.due = 0, now
            delivery.state, delivery.last_error = DeliveryState.PENDING, None
        self._queue.extend(replayed)
        self._wakeup.set()
        return len(replayed)


def admin_app(emitter: WebhookEmitter) -> Starlette:
    """Webhooks on demand, for the demo and manual tests; mount it under ``/__admin/webhooks``.

    ``GET /`` config, stats and dead letters; ``POST /events`` ``{"eventType", "data"}`` emits;
    ``PUT /config`` replaces the config; ``POST /replay`` requeues dead deliveries.
    """

    def state() -> dict[str, Any]:
        dead = [vars(letter) for letter in emitter.dead_letters()]
        config = emitter.config.model_dump(mode="json", exclude={"hmac_key"})
        return {"config": config, "stats": emitter.stats(), "dead": dead}

    async def show(request: Request) -> JSONResponse:
        return JSONResponse(state())

    async def emit(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("eventType"), str):
            return JSONResponse({"error": "need {eventType: str, data: object}"}, 400)
        data = body.get("data") or {}
        if not isinstance(data, dict):
            return JSONResponse({"error": "data must be an object"}, 400)
        event = emitter.emit(body["eventType"], data)
        if event is None:
            return JSONResponse({"filtered": True})
        return JSONResponse({"eventId": event.event_id}, 202)

    async def configure(request: Request) -> JSONResponse:
        try:
            emitter.config = WebhookConfig.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"errors": json.loads(exc.json(include_url=False))}, 422)
        return JSONResponse(state())

    async def replay(request: Request) -> JSONResponse:
        return JSONResponse({"replayed": emitter.replay_dead()})

    return Starlette(
        routes=[
            Route("/", show, methods=["GET"]),
            Route("/events", emit, methods=["POST"]),
            Route("/config", configure, methods=["PUT"]),
            Route("/replay", replay, methods=["POST"]),
        ]
    )
