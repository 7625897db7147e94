"""/healthz, /readyz and /metrics (issue 7 slice): store reachability, readiness checks, Prometheus text."""

from __future__ import annotations

import httpx

from ml_connector.clock import FakeClock
from ml_connector.runtime.metrics import Metrics
from ml_connector.store import Store
from ml_connector.store.records import NewInboxEvent
from ml_connector.web.app import create_web_app


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")  # type: ignore[arg-type]


async def test_health_and_readiness(sqlite_store: Store, clock: FakeClock) -> None:
    token_ok = {"fusion": True}
    app = create_web_app(
        store=sqlite_store,
        clock=clock,
        endpoints={},
        readiness=[lambda: ("fusion_token", token_ok["fusion"], "token obtained 2 min ago")],
    )
    async with _client(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["store"]["ok"] is True
        token_ok["fusion"] = False
        not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["checks"]["fusion_token"]["ok"] is False


async def test_readyz_is_503_when_the_store_is_gone(sqlite_store: Store, clock: FakeClock) -> None:
    app = create_web_app(store=sqlite_store, clock=clock, endpoints={})
    from ml_connector.store.engine import create_store_engine

    await sqlite_store.engine.dispose()
    # a database server that refuses the connection (nothing listens on port 1): no SQLite worker
    # thread is left behind to outlive the test's event loop
    sqlite_store.engine = create_store_engine("postgresql+psycopg://nobody@127.0.0.1:1/gone")
    async with _client(app) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["store"]["ok"] is False


async def test_metrics_expose_api_calls_and_queue_sizes(
    sqlite_store: Store, clock: FakeClock
) -> None:
    metrics = Metrics()
    metrics.api_call(system="fusion", resource="suppliers", method="GET", status=200, seconds=0.2)
    metrics.rate_limited(system="servicetitan", resource="vendors", retry_after=7)
    metrics.token_refreshed(system="servicetitan")
    metrics.record(connection="default", flow="invoices", action="fail")
    async with sqlite_store.transaction() as tx:
        await tx.inbox.enqueue(
            [
                NewInboxEvent(
                    connection="default",
                    origin="webhook",
                    event_key="k1",
                    event_type="invoice.updated",
                ),
                # waiting out a retry backoff: pending, but not lagging (decision 0013)
                NewInboxEvent(
                    connection="default",
                    origin="retry",
                    event_key="k2",
                    event_type="invoice.retry",
                    delay_seconds=3600,
                ),
            ]
        )
        await tx.attention.open(
            connection="default",
            flow="invoices",
            source_system="servicetitan",
            source_id="1",
            reason="x",
            message="m",
        )
    clock.advance(30)
    app = create_web_app(store=sqlite_store, clock=clock, endpoints={}, metrics=metrics)
    async with _client(app) as client:
        text = (await client.get("/metrics")).text
    assert (
        'mlc_api_calls_total{method="GET",resource="suppliers",status="200",system="fusion"} 1.0'
        in text
    )
    assert 'mlc_api_rate_limited_total{system="servicetitan"} 1.0' in text
    assert 'mlc_token_refreshes_total{system="servicetitan"} 1.0' in text
    assert 'mlc_errors_total{connection="default",flow="invoices"} 1.0' in text
    assert 'mlc_attention_open{connection="default"} 1.0' in text
    assert "mlc_inbox_pending 2.0" in text
    assert "mlc_inbox_lag_seconds 30.0" in text
