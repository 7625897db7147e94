"""Oracle Fusion Cloud ERP simulator (reference: shared/reference/oracle-fusion-api.md).

Public API: :func:`create_app`, :class:`FusionState`, :class:`FusionSimConfig`, :func:`seed_minimal`, and ``ops`` (validated writes for seeding code).
"""

from __future__ import annotations

from . import ops
from .app import create_app
from .config import FusionSimConfig, ReceiptProcessing
from .seed import SEED, MinimalSeed, seed_minimal
from .state import FusionState

__all__ = [
    "SEED",
    "FusionSimConfig",
    "FusionState",
    "MinimalSeed",
    "ReceiptProcessing",
    "create_app",
    "ops",
    "seed_minimal",
]
