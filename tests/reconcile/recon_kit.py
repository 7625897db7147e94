"""Helpers for the reconciliation tests: both simulators in-process on the FakeClock, and a
FlowContext whose clients reach them the way production builds them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from ml_connector.clock import FakeClock
from ml_connector.flows.base import FlowContext
from ml_connector.reconcile.compare import FusionFact, SourceFact
from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.server import Sandbox
from ml_connector.secrets import Secret
from ml_connector.settings import ConnectionSettings
from ml_connector.store import Store
from ml_connector.systems.fusion.client import FusionClient
from ml_connector.systems.servicetitan.client import STClient
from sandbox_kit import connection_settings


@dataclass
class Rig:
    sandbox: Sandbox
    clock: FakeClock
    store: Store
    clients: list[Any] = field(default_factory=list)

    def settings(self) -> ConnectionSettings:
        return connection_settings(self.sandbox.dataset)

    def ctx(self, *, page_size: int | None = None) -> FlowContext:
        """``page_size`` makes both clients read small pages (paging across many pages)."""
        settings = self.settings()
        if page_size is not None:
            settings = settings.model_copy(
                update={"fusion": settings.fusion.model_copy(update={"page_size": page_size})}
            )
        fusion = FusionClient.from_settings(
            settings.fusion,
            secret=sb.FUSION_CLIENT_SECRET,
            clock=self.clock,
            transport=httpx.ASGITransport(app=self.sandbox.fusion_app),
        )
        st = STClient.from_settings(
            settings.servicetitan,
            client_secret=Secret(sb.SERVICETITAN_CLIENT_SECRET),
            app_key=Secret(sb.SERVICETITAN_APP_KEY),
            clock=self.clock,
            transport=httpx.ASGITransport(app=self.sandbox.st_app),
        )
        if page_size is not None:
            st.page_size = page_size
        self.clients += [fusion, st]
        return FlowContext(
            connection="default",
            settings=settings,
            application_guid="0b7c2a9e-1111-4222-8333-444455556666",
            store=self.store,
            clock=self.clock,
            fusion=fusion,
            servicetitan=st,
        )


def record(
    ident: int,
    amount: str,
    *,
    kind: str = "invoice",
    skip: str | None = None,
    void: bool = False,
    day: date = date(2026, 10, 5),
) -> SourceFact:
    reference = f"ST-{ident}" if kind == "invoice" else f"ST-PAY-{ident}"
    return SourceFact(
        kind=kind,
        id=str(ident),
        reference=reference,
        date=day,
        amount=Decimal(amount),
        skip=skip,
        void=void,
    )


def doc(
    fusion_id: int,
    owner: int | None,
    amount: str,
    *,
    kind: str = "invoice",
    reference: str | None = None,
    day: date = date(2026, 10, 5),
    label: str = "invoice",
) -> FusionFact:
    ref = reference or (f"ST-{owner}" if kind == "invoice" else f"ST-PAY-{owner}")
    return FusionFact(
        kind=kind,
        id=str(fusion_id),
        reference=ref,
        owner=None if owner is None else str(owner),
        date=day,
        amount=Decimal(amount),
        label=label,
    )
