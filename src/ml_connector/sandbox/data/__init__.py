"""Seeded sandbox data: one HVAC contractor on both simulators, plus its mapping.

``populate(fusion_state, st_state, seed=7, scale=1.0)`` fills both states and returns a
:class:`DataSet` manifest of what the connector is expected to do with each record;
``sandbox_mapping``/``sandbox_mapping_toml`` give the mapping that fits it (and every other
seed and scale: called without a data set they build only the company setup).
"""

from __future__ import annotations

from .generator import populate
from .manifest import (
    BROKEN_KINDS,
    DataSet,
    Expected,
    InvoiceExpectation,
    Outcomes,
    PaymentExpectation,
    POExpectation,
    Reason,
    SupplierExpectation,
)
from .mapping import company_dataset, sandbox_mapping, sandbox_mapping_toml
from .plan import Plan

__all__ = [
    "BROKEN_KINDS",
    "DataSet",
    "Expected",
    "InvoiceExpectation",
    "Outcomes",
    "POExpectation",
    "PaymentExpectation",
    "Plan",
    "Reason",
    "SupplierExpectation",
    "company_dataset",
    "populate",
    "sandbox_mapping",
    "sandbox_mapping_toml",
]
