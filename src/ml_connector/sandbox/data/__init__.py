"""Seeded sandbox data. ``populate`` fills both simulators' states.

This first version uses each simulator's small deterministic seed; the realistic generator (15
business units, broken records of every kind, scale factor) replaces it.
"""

from __future__ import annotations

from typing import Any

from ml_connector.sandbox.fusion import FusionState
from ml_connector.sandbox.fusion import seed_minimal as seed_fusion
from ml_connector.sandbox.servicetitan import STState
from ml_connector.sandbox.servicetitan import seed_minimal as seed_st


def populate(fusion: FusionState, servicetitan: STState, *, seed: int = 7, scale: float = 1.0) -> Any:
    del seed, scale
    return (seed_fusion(fusion), seed_st(servicetitan))
