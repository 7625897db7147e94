"""Fault injection for the sandbox simulators (DESIGN §3.4; issue 3).

``config`` holds the knobs as a pydantic model, ``responses`` the error bodies each system
really sends, ``middleware`` the ASGI wrapper with its ``/__admin/faults`` endpoint.
"""

from __future__ import annotations

from ml_connector.sandbox.faults.config import (
    DEFAULT_EXCLUDE_PATHS,
    TOKEN_PATHS,
    DropStyle,
    FaultConfig,
    Latency,
    RateLimitStyle,
    RouteLatency,
)
from ml_connector.sandbox.faults.middleware import (
    ADMIN_PATH,
    FaultMiddleware,
    PageHook,
    RevokeTokens,
    wrap_with_faults,
)
from ml_connector.sandbox.faults.responses import ConnectionDropped

__all__ = [
    "ADMIN_PATH",
    "DEFAULT_EXCLUDE_PATHS",
    "TOKEN_PATHS",
    "ConnectionDropped",
    "DropStyle",
    "FaultConfig",
    "FaultMiddleware",
    "Latency",
    "PageHook",
    "RateLimitStyle",
    "RevokeTokens",
    "RouteLatency",
    "wrap_with_faults",
]
