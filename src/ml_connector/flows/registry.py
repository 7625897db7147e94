"""The flows a command or the scheduler can run by name. Only flows that work are listed."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from .base import FlowContext
from .invoices import InvoiceFlow
from .payments import PaymentFlow
from .purchase_orders import PurchaseOrderFlow
from .receipts import ReceiptFlow
from .summary import RunSummary
from .suppliers import SupplierFlow


class Flow(Protocol):
    async def run(self, *, since: datetime | None = None, full: bool = False) -> RunSummary: ...


class FlowFactory(Protocol):
    def __call__(self, ctx: FlowContext) -> Flow: ...


FLOWS: dict[str, FlowFactory] = {
    "suppliers": SupplierFlow,
    "purchase-orders": PurchaseOrderFlow,
    "invoices": InvoiceFlow,
    "payments": PaymentFlow,
    "receipts": ReceiptFlow,
}


def make_flow(name: str, ctx: FlowContext) -> Flow:
    try:
        factory = FLOWS[name]
    except KeyError:
        raise ValueError(f"unknown flow {name!r}; one of {', '.join(FLOWS)}") from None
    return factory(ctx)


def flow_names(names: list[str]) -> frozenset[str] | None:
    """``--flow`` values as the registry spells them (``purchase_orders`` is accepted too); None
    for none given; an unknown name is a :class:`ValueError` listing the flows."""
    if not names:
        return None
    chosen = set()
    for name in names:
        spelled = name.strip().lower().replace("_", "-")
        if spelled not in FLOWS:
            raise ValueError(f"unknown flow {name!r}; one of {', '.join(FLOWS)}")
        chosen.add(spelled)
    return frozenset(chosen)
