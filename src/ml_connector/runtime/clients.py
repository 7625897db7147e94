"""Build the two system clients of a connection from its settings and the secret store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from ml_connector.clock import Clock
from ml_connector.flows.base import FlowContext
from ml_connector.runtime.context import AppContext
from ml_connector.settings import ConnectionSettings, FusionAuthMode
from ml_connector.store import Store
from ml_connector.systems.fusion.client import FusionClient
from ml_connector.systems.instrumentation import ApiObserver
from ml_connector.systems.servicetitan.client import STClient


@dataclass
class ConnectionClients:
    name: str
    settings: ConnectionSettings
    fusion: FusionClient
    servicetitan: STClient

    async def aclose(self) -> None:
        await self.fusion.aclose()
        await self.servicetitan.aclose()

    def flow_context(
        self, *, store: Store, clock: Clock, application_guid: str, **options: Any
    ) -> FlowContext:
        """The context one run of a flow needs, on these clients (``options``: dry_run, progress…)."""
        retries = self.settings.retries
        options.setdefault("max_attempts", retries.record_attempts)
        options.setdefault("retry_window", timedelta(hours=retries.record_hours))
        return FlowContext(
            connection=self.name,
            settings=self.settings,
            application_guid=application_guid,
            store=store,
            clock=clock,
            fusion=self.fusion,
            servicetitan=self.servicetitan,
            **options,
        )


async def open_clients(
    app_ctx: AppContext,
    store: Store,
    name: str,
    *,
    fusion_transport: httpx.AsyncBaseTransport | None = None,
    st_transport: httpx.AsyncBaseTransport | None = None,
    observer: ApiObserver | None = None,
) -> ConnectionClients:
    """Clients for connection ``name``; a missing secret is a one-line SecretError."""
    settings = app_ctx.config.settings.connections[name]
    fusion_secret_name = (
        "fusion.client_secret"
        if settings.fusion.auth is FusionAuthMode.OAUTH
        else "fusion.password"
    )
    fusion_secret = await app_ctx.secret(store, fusion_secret_name, connection=name)
    st_secret = await app_ctx.secret(store, "servicetitan.client_secret", connection=name)
    app_key = await app_ctx.secret(store, "servicetitan.app_key", connection=name)
    fusion = FusionClient.from_settings(
        settings.fusion,
        secret=fusion_secret,
        clock=app_ctx.clock,
        transport=fusion_transport,
        observer=observer,
        segment_labels=tuple(settings.fusion.segment_labels),
        segment_separator=settings.fusion.segment_separator,
    )
    st = STClient.from_settings(
        settings.servicetitan,
        client_secret=st_secret,
        app_key=app_key,
        clock=app_ctx.clock,
        transport=st_transport,
        observer=observer,
    )
    return ConnectionClients(name=name, settings=settings, fusion=fusion, servicetitan=st)
