"""The Oracle Fusion client (oracle-fusion-api.md): typed methods over one pod.

Import the module and qualify (``fusion.models.ReceivablesInvoice``), or take the names below.
"""

from __future__ import annotations

from ml_connector.systems.fusion.check import CheckResult
from ml_connector.systems.fusion.client import FusionClient
from ml_connector.systems.fusion.errors import (
    ActionUnavailable,
    FusionAuthError,
    FusionUnreachable,
    FusionValidationError,
    MissingPrivilege,
    NotFound,
    ReceivingTimeout,
)
from ml_connector.systems.fusion.pagination import Window
from ml_connector.systems.fusion.procurement import WindowPage, po_filter
from ml_connector.systems.fusion.receivables import AppliedReceipt, CombinationCheck

__all__ = [
    "ActionUnavailable",
    "AppliedReceipt",
    "CheckResult",
    "CombinationCheck",
    "FusionAuthError",
    "FusionClient",
    "FusionUnreachable",
    "FusionValidationError",
    "MissingPrivilege",
    "NotFound",
    "ReceivingTimeout",
    "Window",
    "WindowPage",
    "po_filter",
]
