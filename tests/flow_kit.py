"""Helpers for the flow tests: a seeded sandbox (both simulators in-process on the FakeClock),
clients built the way production builds them, and a FlowContext factory over a migrated store
(``sandbox_kit.InProcess``), with the ServiceTitan simulator's counters and a way to let time pass."""

from __future__ import annotations

from dataclasses import dataclass

from ml_connector.sandbox.servicetitan.routing import STSim
from sandbox_kit import APP_GUID, InProcess, connection_settings

__all__ = ["APP_GUID", "Harness", "connection_settings"]


@dataclass
class Harness(InProcess):
    @property
    def st_sim(self) -> STSim:
        sim: STSim = self.sandbox.st_app.app.state.servicetitan_sim  # type: ignore[attr-defined]
        return sim

    def st_writes(self) -> int:
        """POST/PATCH requests the ServiceTitan simulator has answered so far."""
        return sum(
            n
            for label, n in self.st_sim.counters.api_requests.items()
            if label.startswith(("POST ", "PATCH "))
        )

    def later(self, seconds: float = 60) -> None:
        """Let time pass: the run's upper bound is its start, so changes stamped 'now' wait."""
        self.clock.advance(seconds)
