"""``populate``: fill both simulators with one consistent HVAC company and say what to expect.

Order matters only for ids: company setup first (the mapping points at it), then Fusion
procurement (F1/F2 sources), then ServiceTitan customers, invoices and payments with their Fusion
accounts (F4/F5 sources). Each part draws from its own ``random.Random`` derived from the seed, so
changing one part does not reshuffle the others. Records go straight into the states; the
:class:`DataSet` keeps only ids and expectations, so memory grows with the simulators' own data.
"""

from __future__ import annotations

import gc

from ml_connector.sandbox.fusion import FusionState
from ml_connector.sandbox.servicetitan import STState

from .company import build_company
from .existing import add_existing_tenant
from .fusion_side import ProcurementBuilder
from .manifest import DataSet
from .plan import Plan
from .st_side import ReceivablesBuilder


def populate(
    fusion_state: FusionState,
    st_state: STState,
    *,
    seed: int = 7,
    scale: float = 1.0,
    suppliers: int | None = None,
    invoices: int | None = None,
    existing_tenant: bool = False,
) -> DataSet:
    """Fill two empty states; deterministic for a given seed and the states' clock start.

    ``scale`` multiplies every count (scale 1: the default sandbox; 2000: 100,000 suppliers and
    200,000 ordinary invoices). ``suppliers``/``invoices`` override the ordinary counts.
    ``existing_tenant`` adds records both systems had before the connector, typed by hand with
    drift, and decoys (:mod:`.existing`; listed in ``DataSet.existing``); the default data set
    is the same with or without it.
    """
    if fusion_state.business_units or len(st_state.tables["business_units"]):
        raise ValueError("populate needs two empty states (ids and names would collide)")
    plan = Plan.for_scale(scale, suppliers=suppliers, invoices=invoices)
    ds = DataSet(seed=seed, scale=scale, as_of=st_state.clock.now())
    # Millions of small, acyclic objects: the cyclic collector would rescan them over and over
    # (a third of the run time at scale 2000) and find nothing to free.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        build_company(fusion_state, st_state, ds)
        ProcurementBuilder(fusion_state, ds, plan, seed).build()
        ReceivablesBuilder(fusion_state, st_state, ds, plan, seed).build()
        if existing_tenant:
            ds.existing = add_existing_tenant(fusion_state, st_state, ds, seed)
    finally:
        if was_enabled:
            gc.enable()
    ds.counts = {
        "business_units": len(ds.business_units),
        "suppliers": len(fusion_state.suppliers),
        "purchase_orders": len(fusion_state.purchase_orders),
        "customer_accounts": len(fusion_state.accounts),
        "customers": len(st_state.tables["customers"]),
        "jobs": len(st_state.tables["jobs"]),
        "invoices": len(st_state.tables["invoices"]),
        "payments": len(st_state.tables["payments"]),
        "skus": len(st_state.tables["materials"]) + len(st_state.tables["equipment"]),
    }
    return ds
