"""When each flow runs (pure): F1–F3 on intervals with jitter, F4–F5 in posting windows.

Times are computed from the injected clock; windows are local times in the connection's time zone
(DESIGN §1: "post daily or twice daily"). ``as_they_arrive`` posting runs the receivables flows
every minute instead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ml_connector.runtime.leases import lease_name
from ml_connector.settings import ConnectionSettings

INTERVAL_FLOWS = {
    "suppliers": "suppliers_minutes",
    "purchase-orders": "purchase_orders_minutes",
    "receipts": "receipts_minutes",
}
WINDOW_FLOWS = ("invoices", "payments")
AS_THEY_ARRIVE = timedelta(minutes=1)
#: the webhook inbox is drained this often when posting "as they arrive"
INBOX_INTERVAL = timedelta(seconds=10)
INBOX = "inbox"


@dataclass(frozen=True, kw_only=True)
class Job:
    connection: str
    flow: str
    interval: timedelta | None = None
    windows: tuple[time, ...] = ()
    timezone: str = "UTC"
    jitter_seconds: float = 0.0

    @property
    def lease_name(self) -> str:
        return lease_name(self.connection, self.flow)

    def next_due(self, after: datetime, rng: random.Random) -> datetime:
        """The first run time strictly after ``after``."""
        if self.interval is not None:
            jitter = rng.uniform(0, self.jitter_seconds) if self.jitter_seconds else 0.0
            return after + self.interval + timedelta(seconds=jitter)
        zone = ZoneInfo(self.timezone)
        local = after.astimezone(zone)
        for day in range(0, 3):
            candidates = sorted(
                datetime.combine(local.date() + timedelta(days=day), window, tzinfo=zone)
                for window in self.windows
            )
            for candidate in candidates:
                if candidate > local:
                    return candidate.astimezone(after.tzinfo)
        raise ValueError(f"no posting window configured for {self.lease_name}")


def jobs_for(name: str, settings: ConnectionSettings, available: set[str]) -> list[Job]:
    """The jobs of one connection, for the flows that exist (``available``)."""
    schedules = settings.schedules
    jobs: list[Job] = []
    for flow, field in INTERVAL_FLOWS.items():
        if flow in available:
            minutes = getattr(schedules, field)
            jobs.append(
                Job(
                    connection=name,
                    flow=flow,
                    interval=timedelta(minutes=minutes),
                    jitter_seconds=schedules.jitter_seconds,
                )
            )
    for flow in WINDOW_FLOWS:
        if flow not in available:
            continue
        if schedules.posting == "as_they_arrive":
            jobs.append(Job(connection=name, flow=flow, interval=AS_THEY_ARRIVE))
            if flow == "invoices" and settings.servicetitan.webhooks.enabled:
                jobs.append(Job(connection=name, flow=INBOX, interval=INBOX_INTERVAL))
        else:
            jobs.append(
                Job(
                    connection=name,
                    flow=flow,
                    windows=tuple(schedules.posting_windows),
                    timezone=settings.timezone,
                )
            )
    return jobs
