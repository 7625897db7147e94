"""ServiceTitan simulator (reference: shared/reference/servicetitan-api.md).

``create_app`` builds the ASGI app; ``STState`` holds the data and is how seeds and tests change it;
``seed_minimal`` fills a small deterministic data set; ``STSimConfig`` holds the knobs.
"""

from __future__ import annotations

from ml_connector.sandbox.servicetitan.app import OPERATIONS, create_app, serve
from ml_connector.sandbox.servicetitan.config import STSimConfig
from ml_connector.sandbox.servicetitan.seed import SEED_APP_GUID, MinimalSeed, seed_minimal
from ml_connector.sandbox.servicetitan.state import (
    InvoiceItemSeed,
    PaymentApplication,
    POItemInput,
    ReceiptItemInput,
    STState,
)

__all__ = [
    "OPERATIONS",
    "SEED_APP_GUID",
    "InvoiceItemSeed",
    "MinimalSeed",
    "POItemInput",
    "PaymentApplication",
    "ReceiptItemInput",
    "STSimConfig",
    "STState",
    "create_app",
    "seed_minimal",
    "serve",
]
