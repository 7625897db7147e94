"""The local runner behind ``ml-connector run``: scheduler + flows under leases + web app.

One process. Each job (connection + flow) runs when due, only while this process holds the job's
lease in the store, so two daemons on one database never run the same flow at once (the loser
skips the turn). The lease is renewed as the flow makes progress and released after.

Jobs run side by side, up to ``max_parallel`` at once, so a connection whose Fusion pod hangs or
answers 503 for minutes (retrying) holds up only its own jobs: every other connection's flows
start when they are due. Within the process two runs of one lease group never overlap (the store
lease guards across processes), and a connection that already has a job running never takes the
last free slot, so one connection alone cannot fill them all.

Stopping (SIGTERM/SIGINT → ``stop``): no new job starts; running flows get ``grace_seconds`` to
finish, then they are cancelled — safe, because every page commits atomically with its cursor, and
a write that was in flight is found by its recorded intent on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ml_connector.clock import Clock
from ml_connector.flows.inbox_worker import InboxWorker
from ml_connector.flows.registry import FLOWS, make_flow
from ml_connector.flows.summary import RunSummary
from ml_connector.runtime.clients import ConnectionClients
from ml_connector.runtime.metrics import Metrics
from ml_connector.runtime.scheduler import INBOX, Job, jobs_for
from ml_connector.store import Store

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class JobRun:
    job: Job
    started_at: datetime
    summary: RunSummary | None = None
    skipped_lease: bool = False
    error: str | None = None


@dataclass(kw_only=True)
class Daemon:
    store: Store
    clock: Clock
    clients: dict[str, ConnectionClients]
    application_guid: str
    worker_id: str
    metrics: Metrics = field(default_factory=Metrics)
    lease_seconds: float = 300.0
    grace_seconds: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    history: list[JobRun] = field(default_factory=list)
    on_run: Callable[[JobRun], None] | None = None
    #: run only these flows (None: every flow that exists)
    only: frozenset[str] | None = None
    #: when each job runs next, while :meth:`serve` runs (the dashboard shows it)
    due: dict[Job, datetime] = field(default_factory=dict)
    #: how many jobs may run at once (``run --max-parallel``)
    max_parallel: int = 4
    #: while jobs run, how often (real seconds) the scheduler looks at the clock for jobs that fell
    #: due; it also looks whenever a job ends or reports progress
    poll_seconds: float = 1.0
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_parallel < 1:
            raise ValueError(f"max_parallel must be at least 1, not {self.max_parallel}")

    def jobs(self) -> list[Job]:
        available = set(FLOWS) if self.only is None else set(FLOWS) & self.only
        return [
            job for name, c in self.clients.items() for job in jobs_for(name, c.settings, available)
        ]

    async def run_job(self, job: Job) -> JobRun:
        """Run one job now if its lease can be had."""
        record = JobRun(job=job, started_at=self.clock.now())
        async with self.store.transaction() as tx:
            got = await tx.leases.acquire(
                job.lease_name, holder=self.worker_id, seconds=self.lease_seconds
            )
        fields = {
            "connection": job.connection,
            "flow": job.flow,
            "lease": job.lease_name,
            "worker": self.worker_id,
        }
        if not got:
            record.skipped_lease = True
            log.info("%s is running elsewhere; skipped", job.lease_name, extra=fields)
            self._done(record)
            return record
        renewals: list[asyncio.Task[None]] = []
        last_renewal = self.clock.monotonic()
        me = asyncio.current_task()
        lost = False

        async def renew() -> None:
            # a lease another runner took means both could write: stop this run at once (every
            # write's intent is recorded, so the other runner settles whatever was in flight)
            nonlocal lost
            if not await self._renew(job) and not lost and me is not None:
                lost = True
                me.cancel()

        # "job started"/"job ended" bracket the time the lease is held (monotonic: comparable
        # across the processes of one machine), so an overlap would show in the logs
        log.info(
            "job started: %s (%s)",
            job.lease_name,
            job.flow,
            extra={**fields, "monotonic": last_renewal},
        )

        def progress(_flow: str, _n: int) -> None:
            # Renew on progress, not from a timer: no background loop competes with the flow.
            nonlocal last_renewal
            self._wake.set()  # the clock may have moved: let the scheduler look at what is due
            if self.clock.monotonic() - last_renewal >= self.lease_seconds / 3:
                last_renewal = self.clock.monotonic()
                renewals.append(asyncio.create_task(renew()))

        run_id: str | None = None
        try:
            clients = self.clients[job.connection]
            ctx = clients.flow_context(
                store=self.store,
                clock=self.clock,
                application_guid=self.application_guid,
                progress=progress,
            )
            run_id = ctx.run_id
            if job.flow == INBOX:
                await InboxWorker(ctx=ctx, worker_id=self.worker_id).drain()
                self._done(record)
                return record
            record.summary = await make_flow(job.flow, ctx).run()
            if job.flow in ("invoices", "payments") and "invoices" in FLOWS:
                # in a posting window, events that arrived since the last window are settled too
                await InboxWorker(ctx=ctx, worker_id=self.worker_id).drain()
            for action, count in record.summary.as_dict().items():
                if action != "read" and count:
                    self.metrics.records.labels(job.connection, job.flow, action).inc(count)
            if record.summary.failed:
                self.metrics.errors.labels(job.connection, job.flow).inc(record.summary.failed)
        except Exception as exc:  # a flow that crashes must not stop the daemon; it runs again
            record.error = f"{type(exc).__name__}: {exc}"
            log.exception(
                "%s failed", job.lease_name, extra={"connection": job.connection, "flow": job.flow}
            )
        except asyncio.CancelledError:
            if not lost:
                raise  # stopping: the caller cancelled this run
            assert me is not None
            me.uncancel()
            record.error = "LeaseLost: another runner took the lease; this run stopped"
            log.error("%s: %s", job.lease_name, record.error, extra=fields)
        finally:
            for task in renewals:
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await task
            log.info(
                "job ended: %s (%s)",
                job.lease_name,
                job.flow,
                extra={**fields, "run_id": run_id, "monotonic": self.clock.monotonic()},
            )
            async with self.store.transaction() as tx:
                await tx.leases.release(job.lease_name, holder=self.worker_id)
        self._done(record)
        return record

    def last_runs(self) -> dict[Job, JobRun]:
        """The latest finished run of each job in this process."""
        return {record.job: record for record in self.history}

    def _done(self, record: JobRun) -> None:
        self.history.append(record)
        if len(self.history) > 2000:  # a daemon runs for years: keep the recent runs only
            del self.history[:1000]
        if self.on_run is not None:
            self.on_run(record)

    async def _renew(self, job: Job) -> bool:
        """Extend the lease once (``progress`` calls this at most every third of the lease);
        False if another runner holds it now."""
        async with self.store.transaction() as tx:
            kept = await tx.leases.acquire(
                job.lease_name, holder=self.worker_id, seconds=self.lease_seconds
            )
        if not kept:
            log.warning(
                "%s: the lease ran out and another runner took it",
                job.lease_name,
                extra={"connection": job.connection, "flow": job.flow, "worker": self.worker_id},
            )
        return bool(kept)

    async def serve(
        self, stop: asyncio.Event, *, run_now: bool = True, max_runs: int | None = None
    ) -> None:
        """Run jobs when due until ``stop`` is set (or ``max_runs`` jobs ran, for tests).

        With ``run_now`` the polling flows (intervals) run at once; posting flows wait for their
        window either way. With ``max_runs`` no more than that many jobs start, and ``serve``
        returns when they have all finished.

        Waiting: with nothing running, the scheduler sleeps on the clock until the next job is due
        (a fake clock jumps there). While jobs run it does not sleep on the clock — a fake clock
        would race ahead under the running flows — but looks at it whenever a job ends or reports
        progress, and at least every ``poll_seconds``."""
        now = self.clock.now()
        due = self.due
        due.clear()
        due.update(
            {
                job: (now if run_now and job.interval is not None else job.next_due(now, self.rng))
                for job in self.jobs()
            }
        )
        running: dict[asyncio.Task[JobRun], Job] = {}
        started = 0
        stopper = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set() and due:
                if max_runs is None or started < max_runs:
                    for job in self._startable(running):
                        running[asyncio.create_task(self.run_job(job))] = job
                        started += 1
                        if max_runs is not None and started >= max_runs:
                            break
                if not running:
                    if max_runs is not None and started >= max_runs:
                        break
                    wait = (min(due.values()) - self.clock.now()).total_seconds()
                    if wait > 0 and await self._sleep_or_stop(wait, stop):
                        break
                    continue
                self._wake.clear()
                waker = asyncio.create_task(self._wake.wait())
                # a job due now but not started waits for a running one to end; a job due later
                # is looked at when its time comes (or sooner, on a wake)
                now = self.clock.now()
                later = [when for when in due.values() if when > now]
                timeout = self.poll_seconds
                if later and (max_runs is None or started < max_runs):
                    timeout = min(timeout, (min(later) - now).total_seconds())
                done, _ = await asyncio.wait(
                    {*running, stopper, waker},
                    timeout=timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waker.cancel()
                for task in [t for t in running if t in done]:
                    self._finished(task, running.pop(task))
            if running:
                await self._wind_down(running, stop)
        finally:
            stopper.cancel()

    def _startable(self, running: dict[asyncio.Task[JobRun], Job]) -> list[Job]:
        """The due jobs to start now, earliest first: one run per lease group, ``max_parallel``
        in all, and a connection with a job running never takes the last free slot."""
        now = self.clock.now()
        groups = {job.lease_name for job in running.values()}
        per_connection: dict[str, int] = {}
        for job in running.values():
            per_connection[job.connection] = per_connection.get(job.connection, 0) + 1
        chosen: list[Job] = []
        free = self.max_parallel - len(running)
        for job, when in sorted(self.due.items(), key=lambda item: item[1]):
            if free <= 0 or when > now:
                break
            if job.lease_name in groups:
                continue
            if per_connection.get(job.connection, 0) and free < 2:
                continue
            chosen.append(job)
            groups.add(job.lease_name)
            per_connection[job.connection] = per_connection.get(job.connection, 0) + 1
            free -= 1
        return chosen

    def _finished(self, task: asyncio.Task[JobRun], job: Job) -> None:
        """A job's task ended: schedule its next run (a failure outside the flow is logged)."""
        if not task.cancelled() and (exc := task.exception()) is not None:
            # the lease itself could not be taken or released (the store was unavailable)
            log.error(
                "%s could not run: %s: %s",
                job.lease_name,
                type(exc).__name__,
                exc,
                extra={"connection": job.connection, "flow": job.flow, "worker": self.worker_id},
            )
            self._done(
                JobRun(job=job, started_at=self.clock.now(), error=f"{type(exc).__name__}: {exc}")
            )
        self.due[job] = job.next_due(self.clock.now(), self.rng)

    async def _wind_down(
        self, running: dict[asyncio.Task[JobRun], Job], stop: asyncio.Event
    ) -> None:
        """Let the running jobs end. After ``stop`` they get ``grace_seconds`` (together, not
        each); the ones still running then are cancelled and resume on the next start."""
        if stop.is_set():
            names = ", ".join(sorted(job.lease_name for job in running.values()))
            log.info("stopping: giving %s %.0f s to finish", names, self.grace_seconds)
            done, pending = await asyncio.wait(running, timeout=self.grace_seconds)
        else:
            done, pending = await asyncio.wait(running)
        for task in pending:
            log.warning(
                "%s did not finish in time; cancelled (it resumes on the next start)",
                running[task].lease_name,
            )
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        for task in done | pending:
            self._finished(task, running[task])

    async def _sleep_or_stop(self, seconds: float, stop: asyncio.Event) -> bool:
        """Wait ``seconds`` on the clock; True if ``stop`` was set first."""
        sleeper = asyncio.create_task(self.clock.sleep(seconds))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, stopper):
            task.cancel()
        return stop.is_set()
