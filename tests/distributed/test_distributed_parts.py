"""The distributed runner's parts: the SQLite refusal, schema creation, queueing, the stalled-job
sweep and the web process's hook after a group commit."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from dist_kit import cli
from procrastinate import JobContext
from procrastinate.jobs import Job as PJob

from ml_connector.clock import SystemClock
from ml_connector.runtime.distributed import (
    MAX_ATTEMPTS,
    Distributed,
    FlowCrashed,
    LeaseBusy,
    WorkerRuntime,
    ensure_schema,
    postgres_conninfo,
)
from ml_connector.store import Store
from ml_connector.store.records import NewInboxEvent
from ml_connector.web.inbox_writer import InboxWriter


async def test_worker_and_web_refuse_a_sqlite_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    code, out = await cli(tmp_path, env, "init")
    assert code == 0, out
    for command in ("worker", "web"):
        code, out = await cli(tmp_path, env, command)
        assert code == 2, out
        assert "the distributed runner needs PostgreSQL; use `run` on SQLite" in out
        assert "Traceback" not in out


@pytest.fixture
async def distributed(postgres_url: str) -> AsyncIterator[Distributed]:
    conninfo = postgres_conninfo(postgres_url)
    await ensure_schema(conninfo)
    runner = Distributed(conninfo)
    async with runner.app.open_async():
        yield runner


async def _sql(conninfo: str, query: str, *params: object) -> list[tuple[object, ...]]:
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        cursor = await conn.execute(query, params or None)
        return await cursor.fetchall() if cursor.description else []


@pytest.mark.postgres
async def test_processes_starting_together_create_the_schema_once(postgres_url: str) -> None:
    conninfo = postgres_conninfo(postgres_url)
    created = await asyncio.gather(*(ensure_schema(conninfo) for _ in range(4)))
    assert sorted(created) == [False, False, False, True]
    assert await ensure_schema(conninfo) is False
    assert await _sql(conninfo, "SELECT count(*) FROM procrastinate_jobs") == [(0,)]


@pytest.mark.postgres
async def test_one_queued_job_per_flow_with_the_group_lock(
    distributed: Distributed, postgres_url: str
) -> None:
    first = await distributed.defer("default", "suppliers")
    assert first is not None
    assert await distributed.defer("default", "suppliers") is None, "a burst collapses"
    other = await distributed.defer("default", "purchase-orders")
    inbox = await distributed.defer_inboxes({"default"}) or await distributed.defer("b", "inbox")
    assert other is not None
    assert inbox is not None
    rows = await _sql(
        postgres_conninfo(postgres_url),
        "SELECT task_name, lock, queueing_lock FROM procrastinate_jobs ORDER BY id",
    )
    assert rows == [
        ("mlc.run_flow", "default/procurement", "default/suppliers"),
        ("mlc.run_flow", "default/procurement", "default/purchase-orders"),
        ("mlc.process_inbox", "default/receivables", "default/inbox"),
        ("mlc.process_inbox", "b/receivables", "b/inbox"),
    ]


@pytest.mark.postgres
async def test_a_dead_workers_job_is_put_back_or_left_to_its_queued_twin(
    distributed: Distributed, postgres_url: str
) -> None:
    conninfo = postgres_conninfo(postgres_url)
    manager = distributed.app.job_manager
    dead, alive = await manager.register_worker(), await manager.register_worker()

    async def take(worker: int) -> int:
        job = await manager.fetch_job(None, worker)
        assert job is not None
        assert job.id is not None
        return job.id

    async def status(job_id: int) -> tuple[object, ...]:
        rows = await _sql(
            conninfo, "SELECT status, attempts FROM procrastinate_jobs WHERE id = %s", job_id
        )
        return rows[0]

    await distributed.defer("default", "suppliers")
    await distributed.defer("default", "receipts")
    suppliers, receipts = await take(dead), await take(alive)
    await _sql(
        conninfo,
        "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = %s",
        dead,
    )
    # the dead worker's job goes back to the queue; the live worker's job is left alone
    assert await distributed.retry_stalled(stalled_after=30) == [suppliers]
    assert await status(suppliers) == ("todo", 1)
    assert await status(receipts) == ("doing", 0)
    assert await distributed.retry_stalled(stalled_after=30) == []

    # taken again by a worker that then dies too, while a twin is queued: the stalled one ends
    # so the twin runs (putting it back would break the one-queued-job rule and fail)
    again = await manager.register_worker()
    assert await take(again) == suppliers
    twin = await distributed.defer("default", "suppliers")
    assert twin is not None
    await _sql(conninfo, "DELETE FROM procrastinate_workers WHERE id = %s", again)
    assert await distributed.retry_stalled(stalled_after=30) == [suppliers]
    assert (await status(suppliers))[0] == "aborted"
    assert await status(twin) == ("todo", 0)
    assert await take(alive) == twin, "the group's lock is free for the twin"


async def test_the_web_hook_hears_connections_with_new_events_after_the_answer(
    sqlite_store: Store,
) -> None:
    heard: asyncio.Queue[set[str]] = asyncio.Queue()
    answered: list[bool] = []
    calls = 0

    async def on_commit(connections: set[str]) -> None:
        nonlocal calls
        calls += 1
        assert answered, "requests are answered before the hook runs"
        heard.put_nowait(connections)
        if calls == 2:
            raise RuntimeError("queue unreachable")

    writer = InboxWriter(sqlite_store, on_commit=on_commit)

    def event(connection: str, key: str) -> NewInboxEvent:
        return NewInboxEvent(
            connection=connection, origin="webhook", event_key=key, event_type="invoice.created"
        )

    async def submit(e: NewInboxEvent) -> bool:
        new = await writer.submit(e)
        answered.append(new)
        return new

    async def next_heard() -> set[str]:
        return await asyncio.wait_for(heard.get(), timeout=5)

    try:
        both = await asyncio.gather(submit(event("a", "k1")), submit(event("b", "k2")))
        assert both == [True, True]
        assert await next_heard() == {"a", "b"}  # one batch, one call
        assert await submit(event("a", "k1")) is False  # a duplicate: nothing new to process
        assert await submit(event("a", "k3")) is True
        assert await next_heard() == {"a"}  # this call fails: the event is kept all the same
        assert await submit(event("b", "k4")) is True  # and the writer goes on
        assert await next_heard() == {"b"}
        assert heard.empty()
        assert calls == 3
    finally:
        await writer.aclose()
    async with sqlite_store.transaction() as tx:
        items = await tx.inbox.claim(worker="w", limit=10, lease_seconds=60)
    assert sorted(i.event_key for i in items) == ["k1", "k2", "k3", "k4"]


class _Scripted(WorkerRuntime):
    """A runtime whose flow ends as the test says, to watch what the task queues next."""

    def __init__(self, outcome: BaseException) -> None:
        super().__init__(
            store=None,  # type: ignore[arg-type]
            clock=SystemClock(),
            clients={},
            application_guid="g",
            worker_name="w",
        )
        self.outcome = outcome

    async def run(self, job: Any, connection: str, flow: str) -> None:
        raise self.outcome


async def _attempt(runner: Distributed, outcome: BaseException, attempt: int) -> None:
    context = JobContext(
        app=runner.app,
        job=PJob(id=999, queue="default", lock=None, queueing_lock=None, task_name="t"),
        additional_context={"runtime": _Scripted(outcome)},
        abort_reason=lambda: None,
        start_timestamp=0.0,
    )
    await runner._attempt(context, "default", "payments", attempt)


@pytest.mark.postgres
async def test_a_failed_attempt_queues_the_next_run_itself(
    distributed: Distributed, postgres_url: str
) -> None:
    conninfo = postgres_conninfo(postgres_url)

    async def queued() -> list[tuple[object, ...]]:
        rows = await _sql(
            conninfo,
            "SELECT (args->>'attempt')::int, extract(epoch FROM scheduled_at - now())::float"
            " FROM procrastinate_jobs WHERE status = 'todo'",
        )
        await _sql(conninfo, "DELETE FROM procrastinate_jobs")
        return rows

    # the lease is busy (a local `run` holds the group): again soon, no failure
    await _attempt(distributed, LeaseBusy("busy"), 0)
    [(attempt, delay)] = await queued()
    assert attempt == 0
    assert 0 < delay <= 2
    # a crash: the job fails, and the next attempt is queued with backoff
    with pytest.raises(FlowCrashed):
        await _attempt(distributed, FlowCrashed("boom"), 2)
    [(attempt, delay)] = await queued()
    assert attempt == 3
    assert 15 < delay <= 20  # 5 s · 2²
    with pytest.raises(FlowCrashed):  # the last attempt: nothing more until the next schedule
        await _attempt(distributed, FlowCrashed("boom"), MAX_ATTEMPTS - 1)
    assert await queued() == []
    # stopped at SIGTERM after the grace time: queued at once for a live worker
    with pytest.raises(asyncio.CancelledError):
        await _attempt(distributed, asyncio.CancelledError(), 1)
    [(attempt, delay)] = await queued()
    assert attempt == 1
    assert delay is None or delay <= 0
