"""Reconciliation (issue 7): ServiceTitan invoices and payments of a month against Fusion AR.

``reconcile`` reads both sides (:mod:`.read`), compares them (:mod:`.compare`, where the rules
are) and returns a :class:`Reconciliation`; :mod:`.render` turns it into a table, CSV or HTML.
Used by ``ml-connector reconcile``, the dashboard and the demo.
"""

from __future__ import annotations

from ml_connector.flows.base import FlowContext
from ml_connector.runtime.clients import open_clients
from ml_connector.runtime.context import AppContext
from ml_connector.store import Store

from .model import PROBLEMS, Period, Reconciliation, ReconRow, ReconStatus
from .read import PeriodReader
from .render import as_csv, as_html, as_table


async def reconcile_with(ctx: FlowContext, period: Period) -> Reconciliation:
    """Reconcile on clients that are already open (the flows' context: tests, the demo)."""
    return await PeriodReader(ctx, period).run()


async def reconcile(
    app_ctx: AppContext, store: Store, connection: str, period: Period
) -> Reconciliation:
    """Open the connection's clients, reconcile ``period``, close them. Reads only: nothing is
    written to either system or to the store."""
    clients = await open_clients(app_ctx, store, connection)
    try:
        ctx = clients.flow_context(
            store=store,
            clock=app_ctx.clock,
            application_guid=app_ctx.config.settings.application_guid or "",
        )
        return await reconcile_with(ctx, period)
    finally:
        await clients.aclose()


__all__ = [
    "PROBLEMS",
    "Period",
    "ReconRow",
    "ReconStatus",
    "Reconciliation",
    "as_csv",
    "as_html",
    "as_table",
    "reconcile",
    "reconcile_with",
]
