"""The local runner (issue 7 slice): flows on schedule under leases, never twice at once."""

from __future__ import annotations

import asyncio
import random
from datetime import time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from flow_kit import APP_GUID, Harness
from ml_connector.runtime.clients import ConnectionClients
from ml_connector.runtime.daemon import Daemon
from ml_connector.runtime.scheduler import Job, jobs_for
from ml_connector.settings import ScheduleSettings


def _daemon(h: Harness, worker: str, only: frozenset[str] | None = None) -> Daemon:
    ctx = h.ctx()
    clients = ConnectionClients(
        name="default", settings=h.settings, fusion=ctx.fusion, servicetitan=ctx.servicetitan
    )
    return Daemon(
        store=h.store,
        clock=h.clock,
        clients={"default": clients},
        application_guid=APP_GUID,
        worker_id=worker,
        rng=random.Random(1),
        only=only,
    )


def test_schedule_intervals_with_jitter_and_posting_windows(h: Harness) -> None:
    settings = h.settings.model_copy(update={"timezone": "America/Chicago"})
    jobs = {j.flow: j for j in jobs_for("default", settings, {"suppliers", "invoices"})}
    now = h.clock.now()  # 2026-11-02 12:00 UTC = 06:00 Chicago
    due = jobs["suppliers"].next_due(now, random.Random(1))
    assert timedelta(minutes=10) <= due - now <= timedelta(minutes=10, seconds=30)
    window = jobs["invoices"].next_due(now, random.Random(1))
    assert window.astimezone(ZoneInfo("America/Chicago")).time() == time(18, 0)
    assert (
        Job(connection="c", flow="invoices", windows=(time(6, 0),), timezone="UTC")
        .next_due(now, random.Random())
        .date()
        == (now + timedelta(days=1)).date()
    )
    as_they_arrive = settings.model_copy(
        update={"schedules": ScheduleSettings(posting="as_they_arrive")}
    )
    fast = {j.flow: j for j in jobs_for("default", as_they_arrive, {"invoices"})}
    assert fast["invoices"].interval == timedelta(minutes=1)


async def test_polling_flows_run_at_start_then_on_their_interval(h: Harness) -> None:
    daemon = _daemon(h, "w1", only=frozenset({"suppliers", "purchase-orders", "invoices"}))
    polling = [j.flow for j in daemon.jobs() if j.interval is not None]
    assert polling == ["suppliers", "purchase-orders"]
    await daemon.serve(asyncio.Event(), max_runs=len(polling) + 1)
    first = {r.job.flow: r for r in daemon.history[: len(polling)]}
    assert set(first) == set(polling), "every polling flow runs at start, posting flows wait"
    assert first["suppliers"].summary is not None
    assert first["suppliers"].summary.created == len(h.dataset.expected.suppliers.eligible)
    again = daemon.history[len(polling)]
    assert again.job.flow == "suppliers"
    assert again.started_at >= daemon.history[0].started_at + timedelta(minutes=10)
    assert again.summary is not None
    assert again.summary.writes == 0, "the next cycle finds nothing new to write"
    assert all(r.error is None and not r.skipped_lease for r in daemon.history)


async def test_a_flow_held_by_another_daemon_is_skipped(h: Harness) -> None:
    one, two = _daemon(h, "w1"), _daemon(h, "w2")
    job = next(j for j in one.jobs() if j.flow == "suppliers")
    async with h.store.transaction() as tx:
        assert await tx.leases.acquire(job.lease_name, holder="w1", seconds=300)
    skipped = await two.run_job(job)
    assert skipped.skipped_lease
    assert skipped.summary is None
    async with h.store.transaction() as tx:
        assert await tx.leases.release(job.lease_name, holder="w1")
    ran = await two.run_job(job)
    assert ran.summary is not None
    assert ran.summary.created == len(h.dataset.expected.suppliers.eligible)


async def test_two_daemons_never_run_the_same_flow_at_once(h_any_store: Harness) -> None:
    h = h_any_store
    one, two = _daemon(h, "w1"), _daemon(h, "w2")
    job = next(j for j in one.jobs() if j.flow == "suppliers")
    first, second = await asyncio.gather(one.run_job(job), two.run_job(job))
    assert sorted([first.skipped_lease, second.skipped_lease]) == [False, True]
    ran = first if not first.skipped_lease else second
    assert ran.summary is not None
    vendors = [
        v
        for v in h.table("vendors")
        if any(e["key"] == "fusion.SupplierId" for e in v.get("externalData") or [])
    ]
    assert len(vendors) == len(h.dataset.expected.suppliers.eligible), "each vendor exactly once"


async def test_stop_before_start_returns_without_running(h: Harness) -> None:
    daemon = _daemon(h, "w1")
    stop = asyncio.Event()
    stop.set()
    await daemon.serve(stop)
    assert daemon.history == []


async def test_as_they_arrive_drains_the_webhook_inbox(h: Harness) -> None:
    from ml_connector.runtime.scheduler import INBOX
    from ml_connector.store.records import NewInboxEvent

    h.settings = h.settings.model_copy(
        update={"schedules": ScheduleSettings(posting="as_they_arrive")}
    )
    daemon = _daemon(h, "w1")
    assert INBOX in {j.flow for j in daemon.jobs()}
    invoice_id = next(iter(h.dataset.expected.invoices.eligible))
    async with h.store.transaction() as tx:
        await tx.inbox.enqueue(
            [
                NewInboxEvent(
                    connection="default",
                    origin="webhook",
                    event_key="id:e-1",
                    event_type="invoice.updated",
                    entity_type="invoice",
                    entity_id=str(invoice_id),
                )
            ]
        )
    job = next(j for j in daemon.jobs() if j.flow == INBOX)
    record = await daemon.run_job(job)
    assert record.error is None
    async with h.store.transaction() as tx:
        assert await tx.inbox.counts() == {"done": 1}
        link = await tx.links.get("default", "invoice", str(invoice_id))
    assert link is not None, "the event's invoice was posted to Fusion"


async def test_flows_that_write_the_same_records_share_a_lease(h: Harness) -> None:
    """F2 runs F1 for unsynced suppliers, and the inbox runs the invoice code: they exclude each other."""
    one, two = _daemon(h, "w1"), _daemon(h, "w2")
    jobs = {j.flow: j for j in one.jobs()}
    assert (
        jobs["suppliers"].lease_name == jobs["purchase-orders"].lease_name == "default/procurement"
    )
    assert jobs["invoices"].lease_name == jobs["payments"].lease_name == "default/receivables"
    first, second = await asyncio.gather(
        one.run_job(jobs["suppliers"]), two.run_job(jobs["purchase-orders"])
    )
    assert sorted([first.skipped_lease, second.skipped_lease]) == [False, True]
    vendors = [
        v
        for v in h.table("vendors")
        if any(e["key"] == "fusion.SupplierId" for e in v.get("externalData") or [])
    ]
    assert len(vendors) == len(h.dataset.expected.suppliers.eligible)


async def test_a_command_waits_for_nobody_it_says_who_holds_the_lease(h: Harness) -> None:
    import pytest

    from ml_connector.runtime.leases import LeaseBusy, held

    async with held(h.store, "default", "invoices", holder="daemon-a"):
        with pytest.raises(
            LeaseBusy, match=r"default/receivables is running in another process \(daemon-a\)"
        ):
            async with held(h.store, "default", "inbox", holder="sync:1"):
                pass
    async with held(h.store, "default", "payments", holder="sync:1") as name:
        assert name == "default/receivables"


async def test_a_long_flow_renews_its_lease_and_still_ends(h: Harness) -> None:
    """Renewal is one extension per third of the lease reported as progress, not a loop: a flow
    that outlives its first lease term ends, and its lease is released."""
    from ml_connector.sandbox.faults import FaultConfig
    from ml_connector.sandbox.faults.config import Latency

    # each ServiceTitan request takes 1 s on the fake clock: the sync outlives the 9 s lease
    h.sandbox.st_app.set_config(FaultConfig(latency=Latency(fixed_ms=1000)))
    daemon = _daemon(h, "w1")
    daemon.lease_seconds = 9.0
    job = next(j for j in daemon.jobs() if j.flow == "suppliers")
    began = h.clock.monotonic()
    record = await asyncio.wait_for(daemon.run_job(job), timeout=30)
    assert h.clock.monotonic() - began > 3 * daemon.lease_seconds
    assert record.error is None
    assert record.summary is not None
    assert record.summary.created == len(h.dataset.expected.suppliers.eligible)
    async with h.store.transaction() as tx:
        assert await tx.leases.holder(job.lease_name) is None, "released after the run"


class _Hold(httpx.AsyncBaseTransport):
    """ServiceTitan that takes requests and never answers (token requests pass)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, expect: int) -> None:
        self.inner = inner
        self.expect = expect
        self.held = 0
        self.all_held = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/connect/token"):
            return await self.inner.handle_async_request(request)
        self.held += 1
        if self.held >= self.expect:
            self.all_held.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_lease_groups_run_side_by_side_and_stop_cancels_them_after_the_grace(
    h: Harness,
) -> None:
    """Suppliers (procurement) and receipts start together; on stop, both get the grace period,
    then are cancelled and their leases released (they resume on the next start)."""
    from ml_connector.sandbox import credentials as sb
    from ml_connector.secrets import Secret
    from ml_connector.systems.servicetitan.client import STClient

    hold = _Hold(httpx.ASGITransport(app=h.sandbox.st_app), expect=2)
    daemon = _daemon(h, "w1", only=frozenset({"suppliers", "receipts"}))
    clients = daemon.clients["default"]
    clients.servicetitan = STClient.from_settings(
        h.settings.servicetitan,
        client_secret=Secret(sb.SERVICETITAN_CLIENT_SECRET),
        app_key=Secret(sb.SERVICETITAN_APP_KEY),
        clock=h.clock,
        transport=hold,
    )
    h.clients.append(clients.servicetitan)
    daemon.grace_seconds = 0.05
    stop = asyncio.Event()
    serving = asyncio.create_task(daemon.serve(stop))
    await asyncio.wait_for(hold.all_held.wait(), timeout=30)
    assert hold.held == 2, "both lease groups were running at once"
    stop.set()
    await asyncio.wait_for(serving, timeout=30)
    assert daemon.history == [], "cancelled runs are not finished runs"
    async with h.store.transaction() as tx:
        for job in daemon.jobs():
            assert await tx.leases.holder(job.lease_name) is None


async def test_max_parallel_one_still_runs_every_due_job(h: Harness) -> None:
    daemon = _daemon(h, "w1", only=frozenset({"suppliers", "receipts"}))
    daemon.max_parallel = 1
    await daemon.serve(asyncio.Event(), max_runs=2)
    assert [r.job.flow for r in daemon.history] == ["suppliers", "receipts"]
    assert all(r.error is None and r.summary is not None for r in daemon.history)
    with pytest.raises(ValueError, match="max_parallel must be at least 1"):
        Daemon(
            store=h.store,
            clock=h.clock,
            clients={},
            application_guid=APP_GUID,
            worker_id="w",
            max_parallel=0,
        )


async def test_a_runner_whose_lease_was_taken_stops_its_flow(h: Harness) -> None:
    """Review finding: a renewal that finds another runner holding the lease used only to log a
    warning and keep writing beside it. Now the run stops at once, says why, and leaves the other
    runner's lease alone; what it created stays created exactly once."""
    from sqlalchemy import update

    from ml_connector.sandbox.faults import FaultConfig
    from ml_connector.sandbox.faults.config import Latency
    from ml_connector.store.schema import leases

    faults = h.sandbox.st_app
    faults.set_config(FaultConfig(latency=Latency(fixed_ms=1000)))
    posts = 0

    async def thief(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal posts
        if scope["type"] == "http" and scope["method"] == "POST" and "/vendors" in scope["path"]:
            posts += 1
            if posts == 5:  # another runner takes the lease over (e.g. after a long stall)
                async with h.store.transaction() as tx:
                    await tx.connection.execute(
                        update(leases)
                        .where(leases.c.name == job.lease_name)
                        .values(holder="thief", expires_at=h.clock.now() + timedelta(hours=1))
                    )
        await faults(scope, receive, send)

    h.sandbox.st_app = thief  # type: ignore[assignment]
    daemon = _daemon(h, "w1")
    daemon.lease_seconds = 9.0
    job = next(j for j in daemon.jobs() if j.flow == "suppliers")
    record = await asyncio.wait_for(daemon.run_job(job), timeout=30)
    assert record.error is not None
    assert record.error.startswith("LeaseLost")
    assert posts < len(h.dataset.expected.suppliers.eligible), "the run stopped early"
    async with h.store.transaction() as tx:
        assert await tx.leases.holder(job.lease_name) == "thief", "the other runner's lease stays"
