"""Pure ASGI middleware that injects faults in front of a simulator.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``) so that it can swallow a committed write's
response, cut a connection after the headers, and wait on the injected :class:`Clock` without
buffering every response through an extra task. Waits use ``clock.sleep``: with a
``FakeClock`` a 30 s timeout or 200 ms of latency costs no real time, and the test asserts on
the clock; with ``SystemClock`` under uvicorn a client really waits (and times out).

Wiring a simulator::

    app = wrap_with_faults(fusion_app, FaultConfig(rate_429=0.05), clock=clock,
                           revoke_tokens=state.tokens.revoke_all,
                           on_page_served=state.insert_random_supplier)

and at run time ``GET``/``PUT``/``PATCH``/``DELETE /__admin/faults``.
"""

from __future__ import annotations

import inspect
import json
import logging
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml_connector.clock import Clock, SystemClock
from ml_connector.sandbox.faults.config import DropStyle, FaultConfig
from ml_connector.sandbox.faults.responses import (
    ConnectionDropped,
    rate_limit_response,
    send_html,
    send_json,
    send_response,
)

log = logging.getLogger(__name__)

ADMIN_PATH = "/__admin/faults"

RevokeTokens = Callable[[], object]
"""Called every ``revoke_tokens_every`` API calls; may return an awaitable, which is awaited."""

PageHook = Callable[[str, str], object]
"""``on_page_served(path, query_string)``: called after a GET page was served, so a simulator can
insert or update rows between a client's pages. May return an awaitable, which is awaited."""


class FaultMiddleware:
    """Injects the faults of a :class:`FaultConfig` and serves the admin endpoint.

    ``counts()`` reports how many faults of each kind fired, plus ``requests`` (requests that
    were eligible for error faults) and ``writes`` (those of them with a ``drop_methods`` method,
    the base of the drop-after-commit rate), so a benchmark can state what it survived.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: FaultConfig | None = None,
        *,
        clock: Clock | None = None,
        revoke_tokens: RevokeTokens | None = None,
        on_page_served: PageHook | None = None,
        rng: random.Random | None = None,
        admin_path: str = ADMIN_PATH,
    ) -> None:
        self.app = app
        self._config = config or FaultConfig()
        self.clock: Clock = clock or SystemClock()
        self.revoke_tokens = revoke_tokens
        self.on_page_served = on_page_served
        self._rng = rng or random.Random(self._config.seed)
        self.admin_path = admin_path.rstrip("/")
        self._counts: Counter[str] = Counter()
        self._api_calls = 0
        self._pages = 0

    # -- configuration and counters ---------------------------------------------------------

    @property
    def config(self) -> FaultConfig:
        return self._config

    def set_config(self, config: FaultConfig) -> None:
        """Replace the whole fault set; a config with a seed restarts the random sequence."""
        self._config = config
        if config.seed is not None:
            self._rng.seed(config.seed)

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def reset_counts(self) -> None:
        self._counts.clear()

    def _roll(self, probability: float) -> bool:
        if probability <= 0.0:
            return False
        if probability >= 1.0:
            return True
        return self._rng.random() < probability

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._handle(scope, receive, send)
        except ClientDisconnect:
            # the client went away before its body arrived (a killed connector): nothing was
            # done and nobody is left to answer; a server says nothing either
            self._counts["client_disconnects"] += 1
            log.debug(
                "client disconnected mid-request: %s %s", scope.get("method"), scope.get("path")
            )

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"].upper()
        if path.rstrip("/") == self.admin_path:
            await self._admin(method, receive, send)
            return

        config = self._config  # one snapshot per request, even if a PUT lands meanwhile
        latency = config.latency_for(method, path)
        if not latency.is_zero:
            seconds = latency.sample_seconds(self._rng)
            if seconds > 0:
                self._counts["latency"] += 1
                await self.clock.sleep(seconds)

        if (
            config.rate_429_token
            and config.is_token_path(path)
            and self._roll(config.rate_429_token)
        ):
            self._counts["429_token"] += 1
            await self._send_429(config, send)
            return
        if config.is_excluded(path):
            await self.app(scope, receive, send)
            return
        self._counts["requests"] += 1
        if method in config.drop_methods:
            self._counts["writes"] += 1
        await self._maybe_revoke(config)

        if self._roll(config.rate_timeout):
            self._counts["timeout"] += 1
            log.debug("fault: timeout %s %s", method, path)
            await self.clock.sleep(config.timeout_seconds)
            await send_html(send, 504)
            return
        if self._roll(config.rate_429):
            self._counts["429"] += 1
            log.debug("fault: 429 %s %s", method, path)
            await self._send_429(config, send)
            return
        if self._roll(config.rate_5xx):
            status = self._rng.choice(config.statuses_5xx)
            self._counts["5xx"] += 1
            log.debug("fault: %s %s %s", status, method, path)
            extra = [(b"retry-after", str(config.retry_after_seconds).encode())]
            await send_html(send, status, extra if status == 503 else None)
            return
        if method in config.drop_methods and self._roll(config.rate_drop_after_commit):
            await self._drop_after_commit(config, scope, receive, send)
            return
        if method == "GET" and self.on_page_served is not None and config.is_paging_path(path):
            await self._serve_page(config, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _send_429(self, config: FaultConfig, send: Send) -> None:
        retry_after = config.retry_after_seconds
        headers, body = rate_limit_response(config.rate_429_style, retry_after, self._rng)
        await send_response(send, 429, body, headers)

    async def _maybe_revoke(self, config: FaultConfig) -> None:
        self._api_calls += 1
        every = config.revoke_tokens_every
        if every is None or self.revoke_tokens is None or self._api_calls % every:
            return
        self._counts["revocation"] += 1
        log.debug("fault: revoking tokens after %d API calls", self._api_calls)
        await _call(self.revoke_tokens)

    async def _drop_after_commit(
        self, config: FaultConfig, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Let the application commit the write, then lose its answer on the way back.

        Only a committed write (a 2xx answer) loses its answer: a refused one (4xx, 429) is passed
        through, so the fault counts exactly the writes that happened and were not acknowledged.
        """
        captured: list[Message] = []

        async def swallow(message: Message) -> None:
            captured.append(message)

        await self.app(scope, receive, swallow)
        start = next((m for m in captured if m["type"] == "http.response.start"), None)
        if start is None or not 200 <= int(start["status"]) < 300:
            for message in captured:
                await send(message)
            return
        self._counts["drop_after_commit"] += 1
        log.debug("fault: dropped the response of %s %s", scope["method"], scope["path"])
        if config.drop_style is DropStyle.CONNECTION_RESET:
            await send(start)
            raise ConnectionDropped("connection reset by peer (sandbox fault: drop after commit)")
        await send_html(send, 504)

    async def _serve_page(
        self, config: FaultConfig, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Serve a GET, then maybe let the simulator change rows before the client's next page."""
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, watch)
        if not 200 <= status < 300:
            return
        self._pages += 1
        every = config.insert_while_paging_every
        due = every is not None and self._pages % every == 0
        if due or self._roll(config.insert_while_paging_rate):
            assert self.on_page_served is not None
            self._counts["insert_while_paging"] += 1
            query = bytes(scope.get("query_string", b"")).decode("latin-1")
            await _call(self.on_page_served, scope["path"], query)

    # -- admin endpoint ---------------------------------------------------------------------

    async def _admin(self, method: str, receive: Receive, send: Send) -> None:
        if method == "GET":
            await send_json(send, 200, self._state())
            return
        if method == "DELETE":
            self.set_config(FaultConfig())
            await send_json(send, 200, self._state())
            return
        if method not in {"PUT", "PATCH"}:
            allow = [(b"allow", b"GET, PUT, PATCH, DELETE")]
            await send_response(send, 405, b"", allow)
            return
        raw = await _read_body(receive)
        try:
            payload: Any = json.loads(raw or b"{}")
            if method == "PATCH":
                if not isinstance(payload, dict):
                    raise ValueError("PATCH needs a JSON object")
                payload = {**self._config.model_dump(mode="json"), **payload}
            config = FaultConfig.model_validate(payload)
        except ValidationError as exc:
            await send_json(send, 422, {"errors": json.loads(exc.json(include_url=False))})
            return
        except ValueError as exc:  # includes json.JSONDecodeError
            await send_json(send, 400, {"error": str(exc)})
            return
        self.set_config(config)
        log.info("fault config replaced through %s %s", method, self.admin_path)
        await send_json(send, 200, self._state())

    def _state(self) -> dict[str, Any]:
        return {"config": self._config.model_dump(mode="json"), "counts": self.counts()}


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _call(func: Callable[..., object], *args: object) -> None:
    result = func(*args)
    if inspect.isawaitable(result):
        await result


def wrap_with_faults(
    app: ASGIApp,
    config: FaultConfig | None = None,
    *,
    clock: Clock | None = None,
    revoke_tokens: RevokeTokens | None = None,
    on_page_served: PageHook | None = None,
    rng: random.Random | None = None,
    admin_path: str = ADMIN_PATH,
) -> FaultMiddleware:
    """Put a :class:`FaultMiddleware` in front of ``app`` (all faults off unless ``config`` says)."""
    return FaultMiddleware(
        app,
        config,
        clock=clock,
        revoke_tokens=revoke_tokens,
        on_page_served=on_page_served,
        rng=rng,
        admin_path=admin_path,
    )
