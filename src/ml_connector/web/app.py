"""The connector's web app: webhook receiver and health (dashboard and metrics join it later).

:func:`load_webhook_endpoints` resolves each connection's webhook settings and HMAC key from the
config and the secret store once at start-up; :func:`create_web_app` builds the Starlette app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ml_connector.clock import Clock
from ml_connector.errors import SecretError
from ml_connector.runtime.context import AppContext
from ml_connector.store import Store
from ml_connector.web.inbox_writer import InboxWriter
from ml_connector.web.webhooks import WebhookEndpoint, WebhookReceiver

WEBHOOK_KEY = "servicetitan.webhook_key"


async def load_webhook_endpoints(app_ctx: AppContext, store: Store) -> dict[str, WebhookEndpoint]:
    endpoints: dict[str, WebhookEndpoint] = {}
    for name, conn in app_ctx.config.settings.connections.items():
        settings = conn.servicetitan.webhooks
        key = None
        if settings.enabled:
            try:
                key = await app_ctx.secret(store, WEBHOOK_KEY, connection=name)
            except SecretError:
                key = None  # requests are refused with 401 "no webhook key is configured"
        endpoints[name] = WebhookEndpoint(connection=name, settings=settings, key=key)
    return endpoints


def create_web_app(
    *, store: Store, clock: Clock, endpoints: dict[str, WebhookEndpoint]
) -> Starlette:
    writer = InboxWriter(store)
    receiver = WebhookReceiver(endpoints, writer, clock)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await writer.aclose()

    app = Starlette(
        routes=[
            Route("/webhooks/servicetitan/{connection}", receiver.handle, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.inbox_writer = writer
    app.state.webhook_receiver = receiver
    return app
