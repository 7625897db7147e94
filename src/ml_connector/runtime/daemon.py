"""The local runner behind ``ml-connector run``: scheduler + flows under leases + web app.

One process. Each job (connection + flow) runs when due, only while this process holds the job's
lease in the store, so two daemons on one database never run the same flow at once (the loser
skips the turn). The lease is renewed as the flow makes progress and released after.

Stopping (SIGTERM/SIGINT → ``stop``): no new job starts; a running flow gets ``grace_seconds`` to
finish, then it is cancelled — safe, because every page commits atomically with its cursor, and a
write that was in flight is found by its recorded intent on the next start.
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
            if self.clock.monotonic() - last_renewal >= self.lease_seconds / 3:
                last_renewal = self.clock.monotonic()
                renewals.append(asyncio.create_task(self._renew(job)))

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
        finally:
            for task in renewals:
                with contextlib.suppress(Exception):
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

    async def _renew(self, job: Job) -> None:
        """Extend the lease once (``progress`` calls this at most every third of the lease)."""
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

    async def serve(
        self, stop: asyncio.Event, *, run_now: bool = True, max_runs: int | None = None
    ) -> None:
        """Run jobs when due until ``stop`` is set (or ``max_runs`` jobs ran, for tests).

        With ``run_now`` the polling flows (intervals) run at once; posting flows wait for their
        window either way."""
        now = self.clock.now()
        # polling flows run at start; posting flows wait for their window
        due = self.due
        due.clear()
        due.update(
            {
                job: (now if run_now and job.interval is not None else job.next_due(now, self.rng))
                for job in self.jobs()
            }
        )
        runs = 0
        while not stop.is_set() and due:
            job, when = min(due.items(), key=lambda item: item[1])
            wait = (when - self.clock.now()).total_seconds()
            if wait > 0 and await self._sleep_or_stop(wait, stop):
                break
            running = asyncio.create_task(self.run_job(job))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({running, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not running.done():
                log.info("stopping: giving %s %.0f s to finish", job.lease_name, self.grace_seconds)
                try:
                    await asyncio.wait_for(running, timeout=self.grace_seconds)
                except TimeoutError:
                    log.warning(
                        "%s did not finish in time; cancelled (it resumes on the next start)",
                        job.lease_name,
                    )
            stopper.cancel()
            due[job] = job.next_due(self.clock.now(), self.rng)
            runs += 1
            if max_runs is not None and runs >= max_runs:
                break

    async def _sleep_or_stop(self, seconds: float, stop: asyncio.Event) -> bool:
        """Wait ``seconds`` on the clock; True if ``stop`` was set first."""
        sleeper = asyncio.create_task(self.clock.sleep(seconds))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeper, stopper):
            task.cancel()
        return stop.is_set()
