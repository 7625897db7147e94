"""Shared by the flow and matching test kits: the sandbox's simulators in-process on a FakeClock,
clients built the way production builds them, settings pointed at them, and a FlowContext factory
over a migrated store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from ml_connector.clock import FakeClock
from ml_connector.flows.base import FlowContext
from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.data import sandbox_mapping
from ml_connector.sandbox.data.manifest import DataSet
from ml_connector.sandbox.server import Sandbox
from ml_connector.secrets import Secret
from ml_connector.settings import ConnectionSettings, FusionSettings, ServiceTitanSettings
from ml_connector.store import Store
from ml_connector.systems.fusion.client import FusionClient
from ml_connector.systems.servicetitan.client import STClient

APP_GUID = "0b7c2a9e-1111-4222-8333-444455556666"
FUSION = "http://fusion.test"
ST = "http://st.test"


@dataclass
class InProcess:
    sandbox: Sandbox
    clock: FakeClock
    store: Store
    settings: ConnectionSettings
    clients: list[Any] = field(default_factory=list)

    @property
    def dataset(self) -> DataSet:
        assert self.sandbox.dataset is not None
        return self.sandbox.dataset

    def table(self, name: str) -> list[dict[str, Any]]:
        return self.sandbox.servicetitan.snapshot(name)

    def ctx(self, **kw: Any) -> FlowContext:
        """A FlowContext on fresh clients over the in-process simulators (``kw``: its options)."""
        fusion = FusionClient.from_settings(
            self.settings.fusion,
            secret=sb.FUSION_CLIENT_SECRET,
            clock=self.clock,
            transport=httpx.ASGITransport(app=self.sandbox.fusion_app),
        )
        st = STClient.from_settings(
            self.settings.servicetitan,
            client_secret=Secret(sb.SERVICETITAN_CLIENT_SECRET),
            app_key=Secret(sb.SERVICETITAN_APP_KEY),
            clock=self.clock,
            transport=httpx.ASGITransport(app=self.sandbox.st_app),
        )
        self.clients += [fusion, st]
        return FlowContext(
            connection="default",
            settings=self.settings,
            application_guid=APP_GUID,
            store=self.store,
            clock=self.clock,
            fusion=fusion,
            servicetitan=st,
            **kw,
        )

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


def connection_settings(dataset: DataSet | None, **matching: Any) -> ConnectionSettings:
    """Settings of connection ``default`` pointed at the in-process simulators, with the sandbox
    mapping (``matching``: overrides of its matching section)."""
    mapping = sandbox_mapping(dataset)
    if matching:
        mapping = mapping.model_copy(
            update={"matching": mapping.matching.model_copy(update=matching)}
        )
    return ConnectionSettings(
        fusion=FusionSettings(
            base_url=FUSION,
            token_url=f"{FUSION}/oauth2/v1/token",
            client_id=sb.FUSION_CLIENT_ID,
            scope=sb.FUSION_SCOPE,
        ),
        servicetitan=ServiceTitanSettings(
            environment="custom",
            api_base_url=ST,
            token_url=f"{ST}/connect/token",
            tenant_id=sb.SERVICETITAN_TENANT_ID,
            client_id=sb.SERVICETITAN_CLIENT_ID,
        ),
        mapping=mapping,
    )
