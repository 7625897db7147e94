"""The distributed runner (issue 9): 3 ``worker`` and 2 ``web`` processes on one PostgreSQL
database process a workload with no flow run twice at once and no event lost, and a worker
SIGKILLed in the middle of a task has the task run again on another worker, exactly once in effect.

The simulators are served in this test's event loop. Webhooks go to both web processes (every
event to each: the inbox keeps one). A gate in front of the ServiceTitan simulator holds the
answer of a vendor create that has been committed, which is an exact "a procurement task is in the
middle of a write now": the worker running it is killed then, so no step depends on timing luck.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from dist_kit import Changes, Proc, VendorGate, cli, free_port, overlapping
from sqlalchemy import create_engine, select, text

from ml_connector.mapping.suppliers import SUPPLIER_KEY
from ml_connector.runtime.leases import GROUPS
from ml_connector.sandbox.faults import FaultConfig
from ml_connector.sandbox.faults.config import Latency
from ml_connector.sandbox.server import Sandbox, build_sandbox, serve_sandbox
from ml_connector.sandbox.webhooks import WebhookConfig
from ml_connector.store.schema import audit, inbox, writes

WORKER_ARGS = (
    "worker", "--concurrency", "1", "--heartbeat-seconds", "0.5", "--stalled-after", "2",
    "--lease-seconds", "6", "--lease-wait", "1", "--grace-seconds", "10",
)  # fmt: skip
pytestmark = pytest.mark.postgres


@asynccontextmanager
async def _sandbox(web_ports: list[int]) -> AsyncIterator[tuple[Sandbox, VendorGate, str, str]]:
    """Both simulators on free ports; webhooks to every web port; vendor creates gated."""
    hooks = WebhookConfig(
        callback_urls=[f"http://127.0.0.1:{p}/webhooks/servicetitan/default" for p in web_ports],
        max_in_flight=8,
        time_scale=0.05,  # a refused delivery (a web process not up yet) is retried in 0.5 s
    )
    sandbox = build_sandbox(st_faults=FaultConfig(latency=Latency(fixed_ms=10)), webhooks=hooks)
    gate = VendorGate(sandbox.st_app.app, allow=6)
    sandbox.st_app.app = gate
    fusion_port, st_port = free_port(), free_port()
    started, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve_sandbox(sandbox, fusion_port=fusion_port, st_port=st_port, started=started, stop=stop)
    )
    await asyncio.wait_for(started.wait(), timeout=30)
    try:
        yield sandbox, gate, f"http://127.0.0.1:{fusion_port}", f"http://127.0.0.1:{st_port}"
    finally:
        gate.open()  # a held answer would keep its server from stopping
        stop.set()
        await asyncio.wait_for(task, timeout=30)


def _vendors(sandbox: Sandbox) -> dict[int, list[int]]:
    """Fusion supplier id → the ServiceTitan vendors carrying it in our externalData key."""
    found: dict[int, list[int]] = defaultdict(list)
    for vendor in sandbox.servicetitan.snapshot("vendors"):
        for item in vendor.get("externalData") or []:
            if item["key"] == SUPPLIER_KEY:
                found[int(item["value"])].append(int(vendor["id"]))
    return dict(found)


def _spans(procs: list[Proc], killed: Proc, killed_at: float) -> dict[str, list[Any]]:
    """Per lease, the [started, ended] monotonic spans of every job in every worker; the killed
    worker's open job ends at the kill."""
    by_lease: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for proc in procs:
        started: dict[str, tuple[float, str]] = {}
        for event in proc.jobs():
            if event["message"].startswith("job started"):
                started[event["lease"]] = (event["monotonic"], event["worker"])
            elif event["message"].startswith("job ended"):
                begin, _ = started.pop(event["lease"])
                by_lease[event["lease"]].append((begin, event["monotonic"], event["worker"]))
        if proc is killed:
            assert len(started) == 1, f"the killed worker was in one job: {started}"
            for lease, (begin, holder) in started.items():
                by_lease[lease].append((begin, killed_at, holder))
        else:
            assert not started, f"{proc.name}: every job that started also ended"
    return by_lease


def _running_procurement(workers: list[Proc]) -> Proc:
    """The worker whose procurement job has started and not ended."""
    running = []
    for proc in workers:
        open_leases: set[str] = set()
        for event in proc.jobs():
            if event["message"].startswith("job started"):
                open_leases.add(event["lease"])
            elif event["message"].startswith("job ended"):
                open_leases.discard(event["lease"])
        if "default/procurement" in open_leases:
            running.append(proc)
    assert len(running) == 1, f"one worker runs procurement: {[p.name for p in running]}"
    return running[0]


async def test_three_workers_and_two_web_processes_process_everything_once(
    tmp_path: Path, postgres_url: str
) -> None:
    web_ports = [free_port(), free_port()]
    engine = create_engine(postgres_url)
    changes = Changes()
    async with AsyncExitStack() as stack:
        sandbox, gate, fusion, st = await stack.enter_async_context(_sandbox(web_ports))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
        env |= {
            "COLUMNS": "200",
            "ML_CONNECTOR_DATABASE_URL": postgres_url,
            "ML_CONNECTOR_LOG__FORMAT": "json",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL": fusion,
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__TOKEN_URL": f"{fusion}/oauth2/v1/token",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__API_BASE_URL": st,
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__TOKEN_URL": f"{st}/connect/token",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__PAGE_SIZE": "10",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__SCHEDULES__POSTING": "as_they_arrive",
        }
        code, out = await cli(tmp_path, env, "init")
        assert code == 0, out

        procs: list[Proc] = []

        async def start(name: str, *args: str) -> Proc:
            proc = await Proc.start(name, tmp_path, env, args, changes)
            procs.append(proc)
            stack.callback(proc.kill)  # a failing test leaves no process behind
            return proc

        webs = [await start(f"web{i}", "web", "--port", str(p)) for i, p in enumerate(web_ports)]
        for web in webs:
            await changes.wait_for(
                f"{web.name} to listen", lambda w=web: "ml-connector web on" in w.output, 120
            )
        async with httpx.AsyncClient(timeout=10) as http:  # stateless, but ready on the store
            for port in web_ports:
                ready = await http.get(f"http://127.0.0.1:{port}/readyz")
                assert ready.status_code == 200, ready.text
                assert ready.json()["checks"]["store"]["ok"] is True
        workers = [await start(f"worker{i}", *WORKER_ARGS) for i in range(3)]
        for worker in workers:
            await changes.wait_for(
                f"{worker.name} to start", lambda w=worker: "ml-connector worker" in w.output, 120
            )
        emitted = sandbox.emit_existing()  # every invoice and payment, by webhook, to both webs

        # a procurement job is in the middle of a vendor create: kill its worker there
        await asyncio.wait_for(gate.holding.wait(), timeout=60)
        await changes.wait_for(
            "the procurement job's start in the logs",
            lambda: any(
                e["message"].startswith("job started") and e["lease"] == "default/procurement"
                for w in workers
                for e in w.jobs()
            ),
            10,
        )
        victim = _running_procurement(workers)
        victim.kill()
        killed_at = time.monotonic()
        await asyncio.wait_for(victim.proc.wait(), timeout=10)
        gate.open()
        survivors = [w for w in workers if w is not victim]

        eligible = set(sandbox.dataset.expected.suppliers.eligible) if sandbox.dataset else set()
        assert sandbox.dataset is not None
        invoices = {str(i) for i in sandbox.dataset.expected.invoices.eligible}
        payments = {str(p) for p in sandbox.dataset.expected.payments.eligible}

        def inbox_open() -> int:
            with engine.connect() as conn:
                return int(
                    conn.execute(
                        text("SELECT count(*) FROM inbox WHERE state IN ('pending', 'claimed')")
                    ).scalar_one()
                )

        progress: dict[str, bool] = {}

        def settled() -> bool:
            progress.update(
                suppliers=set(_vendors(sandbox)) == eligible,
                purchase_orders=any(
                    e["message"].startswith("job ended") and e["flow"] == "purchase-orders"
                    for w in survivors
                    for e in w.jobs()
                ),
                invoices={str(i.CrossReference) for i in sandbox.fusion.invoices.values()}
                >= invoices,
                payments=len(sandbox.fusion.receipts) >= len(payments),
                inbox=inbox_open() == 0,
            )
            return all(progress.values())

        try:
            await changes.wait_for("the workload to be processed", settled, 180)
        except AssertionError as exc:
            for proc in procs:
                (tmp_path / f"{proc.name}.log").write_text(proc.output)
            raise AssertionError(f"{exc}: {progress}; logs in {tmp_path}") from None
        codes = {proc.name: await proc.stop() for proc in procs}
        for proc in procs:  # kept for a look when an assertion below fails
            (tmp_path / f"{proc.name}.log").write_text(proc.output)

    # every process but the killed one stopped cleanly at SIGTERM
    for proc in procs:
        if proc is victim:
            assert codes[proc.name] == -9
            continue
        assert codes[proc.name] == 0, proc.output
        assert "Traceback" not in proc.output, proc.output
        assert proc.output.rstrip().endswith("stopped"), proc.output[-2000:]

    # no flow group ran twice at once: the logs of all workers (one machine's monotonic clock)
    by_lease = _spans(workers, victim, killed_at)
    assert {"default/procurement", "default/receivables", "default/receipts"} <= set(by_lease)
    for lease, spans in by_lease.items():
        assert not overlapping(spans), f"{lease} ran twice at once: {sorted(spans)}"
    pids = {span[2].split(":")[1] for spans in by_lease.values() for span in spans}
    assert pids == {str(w.proc.pid) for w in workers}, "all three workers ran jobs"

    with engine.connect() as conn:
        audit_rows = conn.execute(select(audit).where(audit.c.dry_run.is_(False))).all()
        write_rows = conn.execute(select(writes).where(writes.c.flow == "suppliers")).all()
        inbox_rows = conn.execute(select(inbox)).all()
        jobs = conn.execute(
            text("SELECT id, task_name, status, attempts, args, lock FROM procrastinate_jobs")
        ).all()
        leases = conn.execute(text("SELECT name, holder FROM leases")).all()
    engine.dispose()

    # ... and the store agrees: audited runs of one group never overlap in time
    per_run: dict[str, list[datetime]] = {}
    flow_of: dict[str, str] = {}
    for row in audit_rows:
        span = per_run.setdefault(row.run_id, [row.started_at, row.ended_at])
        span[0], span[1] = min(span[0], row.started_at), max(span[1], row.ended_at)
        flow_of[row.run_id] = row.flow
    by_group: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for run_id, (begin, end) in per_run.items():
        by_group[GROUPS[flow_of[run_id]]].append((begin.timestamp(), end.timestamp(), run_id))
    assert {"procurement", "receivables"} <= set(by_group)
    for group, spans in by_group.items():
        assert not overlapping(spans), f"{group}: audited runs overlap: {sorted(spans)}"
    assert leases == [], "every store lease was released (the dead attempt's one was taken over)"

    # the killed task ran again on another worker: a survivor found the dead worker's job and put
    # it back (or ended it for its queued twin), and the flow then ran to its end on a survivor
    killed_holder = next(
        h
        for h in (span[2] for span in by_lease["default/procurement"])
        if h.split(":")[1] == str(victim.proc.pid)
    )
    killed_job = int(killed_holder.split("#job")[1].split(".")[0])
    killed_flow = next(
        e["flow"]
        for e in victim.jobs()
        if e["message"].startswith("job started") and e["lease"] == "default/procurement"
    )
    found = [
        r
        for w in survivors
        for r in w.records("ml_connector.runtime.distributed")
        if "left running by a worker that stopped" in r["message"]
    ]
    assert [int(r["job_id"]) for r in found] == [killed_job], found
    job = next(j for j in jobs if j.id == killed_job)
    assert job.lock == "default/procurement"
    assert job.status in ("succeeded", "aborted"), job
    again = [
        e
        for w in survivors
        for e in w.jobs()
        if e["message"].startswith("job started")
        and e["flow"] == killed_flow
        and e["monotonic"] > killed_at
    ]
    assert again, f"{killed_flow} ran again on a surviving worker"
    assert any(
        e["flow"] == killed_flow and e["message"].startswith("job ended")
        for w in survivors
        for e in w.jobs()
    )

    # effect exactly once: every eligible supplier is one vendor; the write in flight at the kill
    # was adopted, not created twice
    vendors = _vendors(sandbox)
    assert set(vendors) == eligible
    assert all(len(v) == 1 for v in vendors.values()), vendors
    assert gate.held >= 1
    assert not [w for w in write_rows if w.state == "pending"], "every intent resolved"
    adopted = [w for w in write_rows if w.state == "adopted"]
    assert len(adopted) >= 1, "the create whose answer was lost at the kill was adopted"
    made = Counter(
        int(r.target_id)
        for r in audit_rows
        if r.flow == "suppliers" and r.action in ("create", "adopt")
    )
    assert set(made.values()) == {1}

    # no event lost: every emitted event is in the inbox and was processed; every eligible
    # invoice and payment is in Fusion exactly once
    delivered = [d for d in sandbox.emitter.history if d.state == "delivered"]
    assert {d.url for d in delivered} == set(sandbox.emitter.config.callback_urls), "both webs"
    events = {row.event_key for row in inbox_rows}
    assert {f"id:{d.event.event_id}" for d in delivered} <= events, "every acknowledged event kept"
    assert len(events) >= emitted
    assert Counter(row.state for row in inbox_rows).keys() <= {"done", "ignored"}, Counter(
        row.state for row in inbox_rows
    )
    refs = Counter(str(i.CrossReference) for i in sandbox.fusion.invoices.values())
    assert set(refs) == invoices
    assert set(refs.values()) == {1}
    numbers = Counter(r.ReceiptNumber for r in sandbox.fusion.receipts.values())
    assert {n.rsplit("PAY-", 1)[1] for n in numbers} == payments
    assert set(numbers.values()) == {1}

    # webhook bursts were turned into inbox tasks by the web processes, and the periodic inbox
    # drain fired once per tick across all three workers
    deferred = {
        web.name: [r for r in web.records() if r["message"].startswith("new webhook events")]
        for web in webs
    }
    assert all(deferred.values()), "each web process had the inbox task queued (or found it was)"
    queued = {r["job_id"] for records in deferred.values() for r in records} - {None}
    assert queued <= {j.id for j in jobs if j.task_name == "mlc.process_inbox"}
    ticks = Counter(
        (j.args["flow"], j.args["timestamp"]) for j in jobs if j.task_name == "mlc.scheduled_flow"
    )
    assert ticks
    assert set(ticks.values()) == {1}, ticks
    assert any(flow == "inbox" for flow, _ in ticks)
