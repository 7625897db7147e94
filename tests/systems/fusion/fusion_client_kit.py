"""Helpers for the Fusion client tests: the simulator in process, behind the fault middleware.

The stack a client talks to, outermost first::

    Recorder (sees every request as the server does: headers, query, in-flight count)
      └─ FaultMiddleware (latency, 429, 5xx, drop-after-commit, revocation, page hook)
           └─ the Fusion simulator app (FusionState on the FakeClock)

Everything runs on the test's FakeClock: no sleeps, no sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from ml_connector.clock import FakeClock
from ml_connector.http import RetryPolicy
from ml_connector.sandbox import credentials
from ml_connector.sandbox.faults import FaultConfig, FaultMiddleware, wrap_with_faults
from ml_connector.sandbox.fusion import FusionSimConfig, FusionState, create_app, seed_minimal
from ml_connector.settings import FusionAuthMode, FusionSettings
from ml_connector.systems.fusion.client import FusionClient
from ml_connector.systems.instrumentation import CountingObserver

BASE = "http://fusion.test"
TOKEN_URL = f"{BASE}/oauth2/v1/token"
SEGMENTS = ("company", "costCenter", "account", "subAccount", "product")
FAST_RETRY = RetryPolicy(max_attempts=4, max_total_seconds=120.0, base_delay=1.0, max_delay=8.0)


@dataclass(kw_only=True)
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass(kw_only=True)
class Recorder:
    """Outermost ASGI wrapper: records requests and measures how many are in flight at once.

    ``rewrite`` may change a request's query string (to simulate a server that ignores ``q``).
    """

    app: ASGIApp
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    rewrite: Callable[[str, str], str] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        if self.rewrite is not None:
            query = self.rewrite(scope["path"], query)
            scope = {**scope, "query_string": query.encode("latin-1")}
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.seen.append(
            Seen(method=scope["method"], path=scope["path"], query=query, headers=headers)
        )
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    def calls(self, method: str, fragment: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and fragment in s.path]


@dataclass(kw_only=True)
class Pod:
    """A simulated pod with its fault layer, and a factory for clients pointed at it."""

    clock: FakeClock
    state: FusionState
    faults: FaultMiddleware
    recorder: Recorder
    observer: CountingObserver = field(default_factory=CountingObserver)
    clients: list[FusionClient] = field(default_factory=list)

    def set_faults(self, **kw: Any) -> None:
        self.faults.set_config(FaultConfig(**kw))

    def settings(self, *, auth: str = "oauth", **kw: Any) -> FusionSettings:
        base: dict[str, Any] = {"base_url": BASE, "page_size": 5}
        if auth == "oauth":
            base.update(
                auth=FusionAuthMode.OAUTH,
                token_url=TOKEN_URL,
                client_id=credentials.FUSION_CLIENT_ID,
                scope=credentials.FUSION_SCOPE,
            )
        else:
            base.update(auth=FusionAuthMode.BASIC, username=credentials.FUSION_USERNAME)
        base.update(kw)
        return FusionSettings(**base)

    def client(
        self,
        *,
        auth: str = "oauth",
        secret: str | None = None,
        retry: RetryPolicy = FAST_RETRY,
        transport: httpx.AsyncBaseTransport | None = None,
        **settings: Any,
    ) -> FusionClient:
        if secret is None:
            secret = (
                credentials.FUSION_CLIENT_SECRET if auth == "oauth" else credentials.FUSION_PASSWORD
            )
        client = FusionClient.from_settings(
            self.settings(auth=auth, **settings),
            secret=secret,
            clock=self.clock,
            transport=transport or httpx.ASGITransport(app=self.recorder),
            retry=retry,
            observer=self.observer,
            segment_labels=SEGMENTS,
        )
        self.clients.append(client)
        return client


def build_pod(
    clock: FakeClock, config: FusionSimConfig | None = None, *, on_page_served: Any = None
) -> Pod:
    state = FusionState(clock)
    seed_minimal(state)
    app = create_app(state, clock=clock, config=config)
    faults = wrap_with_faults(
        app, clock=clock, revoke_tokens=state.revoke_tokens, on_page_served=on_page_served
    )
    return Pod(clock=clock, state=state, faults=faults, recorder=Recorder(app=faults))
