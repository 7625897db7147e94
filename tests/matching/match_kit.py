"""Helpers for the matching tests: the existing-tenant sandbox in-process on the FakeClock, clients
built the way production builds them, and a FlowContext over a migrated store."""

from __future__ import annotations

from dataclasses import dataclass

from ml_connector.sandbox.data.existing import ExistingTenant
from sandbox_kit import InProcess, connection_settings

__all__ = ["Tenant", "connection_settings"]


@dataclass
class Tenant(InProcess):
    @property
    def existing(self) -> ExistingTenant:
        assert self.dataset.existing is not None
        return self.dataset.existing
