"""ml-connector: keeps Oracle Fusion Cloud ERP and ServiceTitan in step."""

from __future__ import annotations

__version__ = "0.1.0"
