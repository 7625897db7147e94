"""How many records of each kind a scale factor means.

Scale 1 is the default sandbox (DESIGN §5): 50 suppliers, 30 purchase orders, 40 customers and
100 ordinary invoices, plus every broken kind once. Counts grow linearly, so ``scale=2000`` gives
100,000 suppliers and 200,000 ordinary invoices for the benchmarks; broken kinds grow with the
scale too (one set per unit of scale), so the attention path is exercised in proportion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SUPPLIERS_PER_SCALE = 50
POS_PER_SCALE = 30
CUSTOMERS_PER_SCALE = 40
INVOICES_PER_SCALE = 100


@dataclass(frozen=True, kw_only=True)
class Plan:
    suppliers: int
    purchase_orders: int
    customers: int
    invoices: int
    broken_each: int  # how many records of each broken kind
    paid_share: float = 0.6  # share of ordinary eligible invoices that get a full payment

    @classmethod
    def for_scale(
        cls,
        scale: float,
        *,
        suppliers: int | None = None,
        invoices: int | None = None,
    ) -> Plan:
        """Counts for ``scale``; ``suppliers``/``invoices`` override the ordinary record counts
        (customers and POs follow them) for benchmarks that need one side only."""
        if scale <= 0:
            raise ValueError("scale must be positive")
        n_suppliers = suppliers if suppliers is not None else _count(SUPPLIERS_PER_SCALE, scale)
        n_invoices = invoices if invoices is not None else _count(INVOICES_PER_SCALE, scale)
        return cls(
            suppliers=max(1, n_suppliers),
            purchase_orders=max(1, round(n_suppliers * POS_PER_SCALE / SUPPLIERS_PER_SCALE)),
            customers=max(3, round(n_invoices * CUSTOMERS_PER_SCALE / INVOICES_PER_SCALE)),
            invoices=max(3, n_invoices),
            broken_each=max(1, math.floor(scale)),
        )


def _count(per_scale: int, scale: float) -> int:
    return max(1, round(per_scale * scale))
