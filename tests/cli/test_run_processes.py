"""`ml-connector run` as OS processes (issue 7): SIGTERM in the middle of a sync leaves nothing half
done and the next start resumes where it stopped; two processes on one PostgreSQL database never
run the same flow at once.

The simulators are served in this test's event loop, with a gate in front of the ServiceTitan app:
past a number of vendor creates, each further ``POST …/vendors`` is committed and its answer held
until the test opens the gate. A held answer is an exact, observable "a write is in flight now",
so no test relies on timing luck or a fixed sleep.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cli_kit import _cli, _free_port
from ml_connector.clock import ensure_aware
from ml_connector.mapping.suppliers import SUPPLIER_KEY
from ml_connector.runtime.leases import GROUPS
from ml_connector.sandbox.faults import FaultConfig
from ml_connector.sandbox.faults.config import Latency
from ml_connector.sandbox.server import Sandbox, build_sandbox, serve_sandbox
from ml_connector.store.schema import audit, cursors, links, writes

VENDOR_CREATE = re.compile(r"^/inventory/v2/tenant/\d+/vendors/?$")
PROCUREMENT = ("suppliers", "purchase-orders", "receipts")


class VendorGate:
    """ASGI wrapper: the first ``allow`` vendor creates pass; each later one is committed by the
    simulator and its answer held until :meth:`open` (``holding`` is set at the first held one)."""

    def __init__(self, app: ASGIApp, *, allow: int) -> None:
        self.app = app
        self.allow = allow
        self.passed = 0
        self.held = 0
        self.holding = asyncio.Event()
        self._opened = asyncio.Event()

    def open(self) -> None:
        self._opened.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not VENDOR_CREATE.match(scope["path"])
            or self._opened.is_set()
            or self.passed < self.allow
        ):
            if scope["type"] == "http" and VENDOR_CREATE.match(scope["path"]):
                self.passed += 1
            await self.app(scope, receive, send)
            return
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)  # the vendor exists from here on
        self.held += 1
        self.holding.set()
        await self._opened.wait()
        with suppress(Exception):  # the client may be gone (cancelled): the answer is lost
            for message in answer:
                await send(message)


@dataclass
class Served:
    sandbox: Sandbox
    gate: VendorGate
    env: dict[str, str]

    def vendors_by_supplier(self) -> dict[int, list[int]]:
        """Supplier id → ids of the ServiceTitan vendors that carry it in our externalData key."""
        found: dict[int, list[int]] = defaultdict(list)
        for vendor in self.sandbox.servicetitan.snapshot("vendors"):
            for item in vendor.get("externalData") or []:
                if item["key"] == SUPPLIER_KEY:
                    found[int(item["value"])].append(int(vendor["id"]))
        return dict(found)

    def eligible_suppliers(self) -> set[int]:
        assert self.sandbox.dataset is not None
        return set(self.sandbox.dataset.expected.suppliers.eligible)

    def supplier_keys(self) -> dict[int, tuple[datetime, str]]:
        """Each Fusion supplier's place in the F1 cursor order (``LastUpdateDate``, padded id)."""
        return {
            sid: (ensure_aware(s.LastUpdateDate), str(sid).zfill(20))
            for sid, s in self.sandbox.fusion.suppliers.items()
        }


@asynccontextmanager
async def _serve(
    tmp_path: Path, *, allow: int, st_faults: FaultConfig | None = None
) -> AsyncIterator[Served]:
    """Both simulators on free loopback ports (like the ``sandbox_env`` fixture), with the gate."""
    sandbox = build_sandbox(st_faults=st_faults)
    gate = VendorGate(sandbox.st_app.app, allow=allow)
    sandbox.st_app.app = gate
    fusion_port, st_port = _free_port(), _free_port()
    started, stop = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve_sandbox(sandbox, fusion_port=fusion_port, st_port=st_port, started=started, stop=stop)
    )
    await asyncio.wait_for(started.wait(), timeout=30)
    fusion, st = f"http://127.0.0.1:{fusion_port}", f"http://127.0.0.1:{st_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ML_CONNECTOR_")}
    env.update(
        {
            "COLUMNS": "200",
            "ML_CONNECTOR_LOG__FORMAT": "json",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__BASE_URL": fusion,
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__TOKEN_URL": f"{fusion}/oauth2/v1/token",
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__API_BASE_URL": st,
            "ML_CONNECTOR_CONNECTIONS__DEFAULT__SERVICETITAN__TOKEN_URL": f"{st}/connect/token",
        }
    )
    try:
        yield Served(sandbox=sandbox, gate=gate, env=env)
    finally:
        gate.open()  # a held answer would keep its server from stopping
        stop.set()
        await asyncio.wait_for(task, timeout=30)


@dataclass
class RunProcess:
    """One ``ml-connector run`` process; its output (stdout and JSON logs) is read as it comes."""

    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    eof: bool = False
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, cwd: Path, env: dict[str, str], *args: str) -> RunProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ml_connector", "run", "--no-web", *args,
            cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        run = cls(proc=proc)
        run._reader = asyncio.create_task(run._read())
        return run

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            async with self._changed:
                self.lines.append(line.decode())
                self._changed.notify_all()
        async with self._changed:
            self.eof = True
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def events(self) -> list[dict[str, Any]]:
        """The JSON log records of the daemon's job lines, in order."""
        found = []
        for line in self.lines:
            if line.startswith("{"):
                record = json.loads(line)
                if record.get("logger") == "ml_connector.runtime.daemon":
                    found.append(record)
        return found

    def outcomes(self) -> dict[str, str]:
        """Flow → how its job went at the last attempt: ``ended`` or ``skipped``."""
        done: dict[str, str] = {}
        for event in self.events():
            if event["message"].startswith("job ended"):
                done[event["flow"]] = "ended"
            elif event["message"].endswith("skipped"):
                done[event["flow"]] = "skipped"
        return done

    async def wait_for(self, what: str, check: Callable[[RunProcess], bool], within: float) -> None:
        try:
            async with asyncio.timeout(within):
                async with self._changed:
                    await self._changed.wait_for(lambda: check(self) or self.eof)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}:\n{self.output}") from None
        assert check(self), f"run exited before {what}:\n{self.output}"

    async def stop(self) -> int:
        """SIGTERM, then the exit code (the output is complete afterwards); within 60 s."""
        self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), timeout=60)
        assert self._reader is not None
        await asyncio.wait_for(self._reader, timeout=10)
        return code

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


@asynccontextmanager
async def _running(cwd: Path, env: dict[str, str], *args: str) -> AsyncIterator[RunProcess]:
    """A ``run`` process that is killed if the test fails before stopping it."""
    run = await RunProcess.start(cwd, env, *args)
    try:
        yield run
    finally:
        run.kill()
        await run.proc.wait()


def _stopped_cleanly(code: int, run: RunProcess) -> None:
    assert code == 0, run.output
    assert "stopped" in run.output
    assert "Traceback" not in run.output


# -- SIGTERM in the middle of a sync -------------------------------------------------------------


def _store_state(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        link_rows = conn.execute(select(links).where(links.c.entity == "supplier")).all()
        audit_rows = conn.execute(
            select(audit).where(audit.c.flow == "suppliers", audit.c.dry_run.is_(False))
        ).all()
        write_rows = conn.execute(select(writes).where(writes.c.flow == "suppliers")).all()
        cursor = conn.execute(
            select(cursors).where(cursors.c.connection == "default", cursors.c.flow == "suppliers")
        ).first()
    return {"links": link_rows, "audit": audit_rows, "writes": write_rows, "cursor": cursor}


async def test_sigterm_mid_sync_leaves_nothing_half_done_and_the_next_start_resumes(
    tmp_path: Path,
) -> None:
    # pages of 10 suppliers: the cursor moves page by page; creates past the 12th are held, so the
    # sync is stuck mid-way with writes committed in ServiceTitan and their answers in flight
    async with _serve(tmp_path, allow=12) as served:
        env = {**served.env, "ML_CONNECTOR_CONNECTIONS__DEFAULT__FUSION__PAGE_SIZE": "10"}
        assert (await _cli(tmp_path, env, "init"))[0] == 0
        engine = create_engine(f"sqlite:///{tmp_path / 'ml-connector.db'}")
        eligible = served.eligible_suppliers()
        keys = served.supplier_keys()

        async with _running(tmp_path, env, "--flow", "suppliers") as first:
            await asyncio.wait_for(served.gate.holding.wait(), timeout=60)
            await first.wait_for("the sync to start", lambda r: "job started" in r.output, 30)
            # SIGTERM while vendor creates are in flight: the flow cannot finish in its grace
            # time, so it is cancelled mid-write
            code = await first.stop()
        _stopped_cleanly(code, first)
        assert "did not finish in time; cancelled" in first.output

        state = _store_state(engine)
        vendors = served.vendors_by_supplier()
        assert all(len(ids) == 1 for ids in vendors.values()), f"a vendor twice: {vendors}"
        linked = {int(row.source_id): int(row.target_id) for row in state["links"]}
        assert 0 < len(linked) < len(eligible), "SIGTERM came in the middle of the sync"
        creates = Counter(int(r.target_id) for r in state["audit"] if r.action == "create")
        pending = {r.business_key for r in state["writes"] if r.state == "pending"}
        in_flight = set()
        for supplier_id, (vendor_id,) in vendors.items():
            if supplier_id in linked:
                # written and recorded: one link, one create row
                assert linked[supplier_id] == vendor_id
                assert creates[vendor_id] == 1, f"vendor {vendor_id}: {creates[vendor_id]} creates"
            else:
                # committed in ServiceTitan, answer lost at the cancel: its intent is pending
                assert f"supplier:{supplier_id}" in pending, f"supplier {supplier_id} untraced"
                in_flight.add(supplier_id)
        assert len(in_flight) == served.gate.held >= 1
        assert set(creates) <= set(linked.values()), "no create row without its link"
        cursor = state["cursor"]
        assert cursor is not None, "the first page was durable before SIGTERM"
        at = (ensure_aware(cursor.watermark), cursor.tiebreak)
        passed = {sid for sid, key in keys.items() if key <= at}
        assert passed, "the cursor moved past the first page"
        assert passed & eligible <= set(linked), "the cursor passed a supplier not written"
        assert eligible - passed, "the cursor stopped before the end"
        audited = {int(r.source_id) for r in state["audit"] if r.action != "fail"}
        assert passed <= audited, "every supplier the cursor passed has its outcome recorded"

        # the second start resumes: in-flight creates are found and adopted, the rest created
        served.gate.open()
        async with _running(tmp_path, env, "--flow", "suppliers") as second:
            await second.wait_for(
                "the suppliers job to end", lambda r: r.outcomes().get("suppliers") == "ended", 60
            )
            code = await second.stop()
        _stopped_cleanly(code, second)

        state = _store_state(engine)
        engine.dispose()
    vendors = served.vendors_by_supplier()
    assert set(vendors) == eligible, "every eligible supplier reached ServiceTitan, no other"
    assert all(len(ids) == 1 for ids in vendors.values()), "each exactly once"
    assert {int(r.source_id): int(r.target_id) for r in state["links"]} == {
        sid: ids[0] for sid, ids in vendors.items()
    }
    assert not [r for r in state["writes"] if r.state == "pending"], "every intent resolved"
    adopted = {r.business_key for r in state["writes"] if r.state == "adopted"}
    assert adopted == {f"supplier:{sid}" for sid in in_flight}
    written = Counter(int(r.target_id) for r in state["audit"] if r.action in ("create", "adopt"))
    assert set(written.values()) == {1}, "one create or adopt row per vendor"
    assert sorted(written) == sorted(vendors[sid][0] for sid in vendors)
    cursor = state["cursor"]
    assert (ensure_aware(cursor.watermark), cursor.tiebreak) == max(keys.values()), "at the end"


# -- two processes on one PostgreSQL database ----------------------------------------------------


def _all_tried(run: RunProcess) -> bool:
    return set(run.outcomes()) == set(PROCUREMENT)


def _spans(intervals: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """The intervals that overlap another one (sorted by start): none if they never overlapped."""
    overlapping, reached = [], float("-inf")
    for span in sorted(intervals):
        if span[0] < reached:
            overlapping.append(span)
        reached = max(reached, span[1])
    return overlapping


@pytest.mark.postgres
async def test_two_run_processes_on_one_postgres_never_run_the_same_flow_at_once(
    tmp_path: Path, postgres_url: str
) -> None:
    rounds = 3
    logs: list[RunProcess] = []
    # 20 ms per ServiceTitan request keeps each job busy long enough to meet the other process's
    async with _serve(
        tmp_path, allow=0, st_faults=FaultConfig(latency=Latency(fixed_ms=20))
    ) as served:
        env = {**served.env, "ML_CONNECTOR_DATABASE_URL": postgres_url}
        code, out, err = await _cli(tmp_path, env, "init")
        assert code == 0, out + err
        flows = [arg for flow in PROCUREMENT for arg in ("--flow", flow)]

        # round 1: A holds the procurement lease (a vendor create of its F1 is held) while B
        # starts, so B finds the lease taken, deterministically
        async with _running(tmp_path, env, *flows) as a:
            await asyncio.wait_for(served.gate.holding.wait(), timeout=60)
            async with _running(tmp_path, env, *flows) as b:
                await b.wait_for(
                    "B to skip the procurement flows",
                    lambda r: (
                        r.outcomes().get("suppliers") == "skipped"
                        and r.outcomes().get("purchase-orders") == "skipped"
                    ),
                    30,
                )
                served.gate.open()
                for run in (a, b):
                    await run.wait_for("every flow to be tried", _all_tried, 60)
                for run in (a, b):
                    _stopped_cleanly(await run.stop(), run)
                logs += [a, b]

        # later rounds: both start together; whoever loses a lease skips that turn
        for _ in range(rounds - 1):
            async with (
                _running(tmp_path, env, *flows) as a,
                _running(tmp_path, env, *flows) as b,
            ):
                for run in (a, b):
                    await run.wait_for("every flow to be tried", _all_tried, 60)
                for run in (a, b):
                    _stopped_cleanly(await run.stop(), run)
                logs += [a, b]

        engine = create_engine(postgres_url)
        with engine.connect() as conn:
            audit_rows = conn.execute(select(audit).where(audit.c.dry_run.is_(False))).all()
            held = conn.execute(text("SELECT name, holder FROM leases")).all()
        engine.dispose()
        vendors = served.vendors_by_supplier()
        eligible = served.eligible_suppliers()

    # both sides tried every flow in every round, and the procurement lease was met taken
    for side in (0, 1):
        runs = logs[side::2]
        assert len(runs) == rounds
        assert all(_all_tried(run) for run in runs)
    assert logs[1].outcomes()["suppliers"] == "skipped"
    workers = {e["worker"] for run in logs for e in run.events() if "worker" in e}
    assert len(workers) == 2 * rounds, "each process ran under its own worker id"

    # evidence from the logs: per lease, the [started, ended] spans of all processes (monotonic
    # clock, one machine) never overlap
    by_lease: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    run_ids: dict[str, str] = {}
    for run in logs:
        started: dict[str, float] = {}
        for event in run.events():
            if event["message"].startswith("job started"):
                started[event["lease"]] = event["monotonic"]
            elif event["message"].startswith("job ended"):
                begin = started.pop(event["lease"])
                by_lease[event["lease"]].append((begin, event["monotonic"], event["worker"]))
                run_ids[event["run_id"]] = event["lease"]
        assert not started, "every job that started also ended"
    assert set(by_lease) == {"default/procurement", "default/receipts"}
    for lease, spans in by_lease.items():
        assert not _spans(spans), f"{lease} ran twice at once: {sorted(spans)}"

    # evidence from the store: each audited flow run (run_id) lies inside one logged job, and runs
    # of one lease group never overlap in time
    per_run: dict[str, list[datetime]] = {}
    for row in audit_rows:
        assert row.run_id in run_ids, f"audit run {row.run_id} was not a logged job"
        span = per_run.setdefault(row.run_id, [row.started_at, row.ended_at])
        span[0], span[1] = min(span[0], row.started_at), max(span[1], row.ended_at)
    assert per_run, "the flows wrote audit rows"
    by_group: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for run_id, (begin, end) in per_run.items():
        group = GROUPS[next(r.flow for r in audit_rows if r.run_id == run_id)]
        by_group[group].append((begin.timestamp(), end.timestamp(), run_id))
    for group, spans in by_group.items():
        assert not _spans(spans), f"{group}: audited runs overlap: {sorted(spans)}"

    assert held == [], "every lease was released at the stop"
    assert set(vendors) == eligible, "every eligible supplier reached ServiceTitan, no other"
    assert all(len(ids) == 1 for ids in vendors.values()), "each exactly once"
