"""Prometheus metrics: an :class:`ApiObserver` for the clients plus flow and queue gauges.

Each process has its own :class:`Metrics` (its own registry, not the global one), so tests can make
as many as they like. ``/metrics`` renders :meth:`Metrics.render`; queue sizes (attention, inbox
lag) are read from the store at scrape time by :meth:`Metrics.refresh_from_store`.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import case, func, select

from ml_connector.store import Store
from ml_connector.store.schema import attention, inbox
from ml_connector.store.states import AttentionState, InboxState

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.api_calls = Counter(
            "mlc_api_calls",
            "API call attempts",
            ["system", "resource", "method", "status"],
            registry=r,
        )
        self.api_latency = Histogram(
            "mlc_api_latency_seconds",
            "API call latency",
            ["system"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rate_limited_total = Counter(
            "mlc_api_rate_limited", "429 answers", ["system"], registry=r
        )
        self.token_refreshes = Counter(
            "mlc_token_refreshes", "Access tokens obtained", ["system"], registry=r
        )
        self.records = Counter(
            "mlc_records", "Records processed", ["connection", "flow", "action"], registry=r
        )
        self.errors = Counter(
            "mlc_errors", "Records that failed", ["connection", "flow"], registry=r
        )
        self.attention_open = Gauge(
            "mlc_attention_open", "Open attention items", ["connection"], registry=r
        )
        self.inbox_pending = Gauge("mlc_inbox_pending", "Inbox items waiting", registry=r)
        self.inbox_lag = Gauge(
            "mlc_inbox_lag_seconds",
            "How long the oldest due inbox item has waited for a worker",
            registry=r,
        )
        self.webhooks = Counter(
            "mlc_webhooks", "Webhook requests by outcome", ["outcome"], registry=r
        )

    # --- ApiObserver ---------------------------------------------------------------------------

    def api_call(
        self, *, system: str, resource: str, method: str, status: int | None, seconds: float
    ) -> None:
        self.api_calls.labels(
            system, resource, method, str(status) if status is not None else "none"
        ).inc()
        self.api_latency.labels(system).observe(seconds)

    def rate_limited(self, *, system: str, resource: str, retry_after: float | None) -> None:
        self.rate_limited_total.labels(system).inc()

    def token_refreshed(self, *, system: str) -> None:
        self.token_refreshes.labels(system).inc()

    # --- flows and queues ----------------------------------------------------------------------

    def record(self, *, connection: str, flow: str, action: str) -> None:
        self.records.labels(connection, flow, action).inc()
        if action == "fail":
            self.errors.labels(connection, flow).inc()

    async def refresh_from_store(self, store: Store, now: datetime) -> None:
        async with store.transaction() as tx:
            rows = (
                await tx.connection.execute(
                    select(attention.c.connection, func.count())
                    .where(attention.c.state == AttentionState.OPEN.value)
                    .group_by(attention.c.connection)
                )
            ).all()
            pending, oldest = (
                await tx.connection.execute(
                    # lag: how long the oldest item that is due has waited for a worker since it
                    # became due (an item waiting out its retry backoff is not lagging)
                    select(
                        func.count(),
                        func.min(case((inbox.c.available_at <= now, inbox.c.available_at))),
                    ).where(inbox.c.state == InboxState.PENDING.value)
                )
            ).one()
        self.attention_open.clear()
        for connection, count in rows:
            self.attention_open.labels(connection).set(count)
        self.inbox_pending.set(pending)
        self.inbox_lag.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
