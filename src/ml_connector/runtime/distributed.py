"""The distributed runner: flows as procrastinate tasks on the store's PostgreSQL database.

``ml-connector worker`` processes (any number, on any machines) run the tasks; ``ml-connector web``
processes store webhook events and defer the inbox task. The flow code is the local runner's:
each task runs one scheduler job through :meth:`Daemon.run_job`, so it takes the same store lease,
logs the same "job started"/"job ended" lines and drains the inbox the same way.

Two locks keep one flow from running twice at once:

- procrastinate's job ``lock`` is the lease group (``default/procurement``…): a job is not fetched
  while another job of its group is ``doing`` anywhere;
- the store lease, taken by ``run_job`` under a holder unique to the job *attempt*. It is what
  keeps a worker out when a local ``run``, ``sync`` or ``attention replay`` holds the group, and
  what stops a retried attempt from overlapping one that is slow rather than dead: a busy lease
  makes the attempt fail with :class:`LeaseBusy` and procrastinate retries it shortly after.

Each (connection, flow) has one ``queueing_lock``, so bursts (many webhooks, several workers
starting together, a tick while a retry waits) collapse into one queued job. Because of it, a
failed attempt is never put back with procrastinate's own retry (a ``doing`` job cannot go back
to ``todo`` while a twin is queued): the task itself queues the next run (:func:`retry_delay`) —
or finds one already queued, which does the same work — and ends.

Crash recovery (procrastinate v3): every worker beats a heartbeat into ``procrastinate_workers``;
a job left ``doing`` by a worker whose heartbeat is older than ``stalled_after`` seconds is
*stalled*. procrastinate finds them (``JobManager.get_stalled_jobs``) but leaves retrying them to
the application, so every worker sweeps them every few seconds: each is put back to ``todo``
(``retry_job``), or, when a twin is already queued, ended as ``aborted`` so that the twin runs
(and the group's lock is free). Either way the flow runs again on a live worker, which is safe:
cursors move only after durable writes and an in-flight write is adopted by its recorded intent
(DESIGN §3.2 rules 1–2).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from procrastinate import App, JobContext, PsycopgConnector
from procrastinate import exceptions as pexc
from procrastinate.jobs import Job as PJob
from procrastinate.jobs import Status
from procrastinate.manager import QUEUEING_LOCK_CONSTRAINT
from procrastinate.schema import SchemaManager

from ml_connector.clock import Clock
from ml_connector.errors import ConfigError, ConnectorError, StoreError
from ml_connector.flows.registry import FLOWS
from ml_connector.runtime.clients import ConnectionClients
from ml_connector.runtime.daemon import Daemon
from ml_connector.runtime.distributed_schedule import Schedule
from ml_connector.runtime.leases import lease_name
from ml_connector.runtime.metrics import Metrics
from ml_connector.runtime.scheduler import INBOX, Job
from ml_connector.store import Store
from ml_connector.store.engine import parse_url, redact_db_url

log = logging.getLogger(__name__)

NEEDS_POSTGRES = "the distributed runner needs PostgreSQL; use `run` on SQLite"
#: pg_advisory_lock key under which one process at a time creates procrastinate's tables
SCHEMA_LOCK_KEY = 0x6D6C63_70726F  # "mlc" "pro"
#: a job fails for good after this many crashed attempts (a busy lease is not a crash)
MAX_ATTEMPTS = 8
#: finished jobs older than this are deleted by the daily ``mlc.prune_jobs`` task
KEEP_JOBS_HOURS = 72

RUN_FLOW = "mlc.run_flow"
PROCESS_INBOX = "mlc.process_inbox"
SCHEDULED_FLOW = "mlc.scheduled_flow"
PRUNE_JOBS = "mlc.prune_jobs"


class LeaseBusy(ConnectorError):
    """The job's store lease is held elsewhere (a local runner, or an attempt still running)."""


class FlowCrashed(ConnectorError):
    """The flow raised; the job is retried with backoff."""


def postgres_conninfo(database_url: str) -> str:
    """The store's SQLAlchemy URL as a libpq URI for procrastinate (ConfigError on SQLite)."""
    url = parse_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ConfigError(NEEDS_POSTGRES)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def ensure_schema(conninfo: str) -> bool:
    """Create procrastinate's tables unless they exist; True if they were created now.

    Safe to run from many processes at once: the check and the creation happen under a
    PostgreSQL advisory lock. Tables of an older procrastinate are not upgraded here (its
    migrations are shipped with it; see docs/decisions/0010).
    """
    try:
        connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    except psycopg.OperationalError as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise StoreError(
            f"cannot open the task queue at {redact_db_url(conninfo)}: {detail}"
        ) from None
    async with connection as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            row = await (await conn.execute("SELECT to_regclass('procrastinate_jobs')")).fetchone()
            if row is not None and row[0] is not None:
                return False
            # no parameters: psycopg sends the script as it is (its % signs stay literal)
            await conn.execute(SchemaManager.get_schema())
            return True
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def retry_delay(attempt: int, *, base: float = 5.0, cap: float = 600.0) -> float | None:
    """Seconds before the run after crashed attempt number ``attempt`` (0-based); None: give up."""
    if attempt + 1 >= MAX_ATTEMPTS:
        return None
    return float(min(cap, base * 2**attempt))


@dataclass(kw_only=True)
class WorkerRuntime:
    """What the tasks of one worker process share: the store, the clients, the worker name."""

    store: Store
    clock: Clock
    clients: dict[str, ConnectionClients]
    application_guid: str
    worker_name: str
    metrics: Metrics = field(default_factory=Metrics)
    lease_seconds: float = 120.0

    async def run(self, job: PJob, connection: str, flow: str) -> None:
        """Run one (connection, flow) job through the local runner's code, under the store lease."""
        fields = {"connection": connection, "flow": flow, "job_id": job.id}
        if connection not in self.clients or (flow != INBOX and flow not in FLOWS):
            # a job queued before the config changed: nothing to run it against
            log.warning(
                "no connection %r or flow %r here; job dropped", connection, flow, extra=fields
            )
            return
        holder = f"{self.worker_name}#job{job.id}.{job.attempts}"
        daemon = Daemon(
            store=self.store,
            clock=self.clock,
            clients=self.clients,
            application_guid=self.application_guid,
            worker_id=holder,
            metrics=self.metrics,
            lease_seconds=self.lease_seconds,
        )
        record = await daemon.run_job(Job(connection=connection, flow=flow))
        if record.skipped_lease:
            raise LeaseBusy(f"{lease_name(connection, flow)} is held elsewhere; retrying soon")
        if record.error is not None:
            raise FlowCrashed(record.error)


def _runtime(context: JobContext) -> WorkerRuntime:
    runtime = context.additional_context.get("runtime")
    if not isinstance(runtime, WorkerRuntime):
        raise RuntimeError("this task runs in `ml-connector worker` only")
    return runtime


class Distributed:
    """The procrastinate app with the connector's tasks; used by workers and web processes."""

    def __init__(self, conninfo: str, *, pool_size: int = 4, lease_wait: float = 2.0) -> None:
        self.app = App(
            connector=PsycopgConnector(conninfo=conninfo, min_size=1, max_size=pool_size),
            periodic_defaults={"max_delay": 600},
        )
        self.lease_wait = lease_wait

        async def run_flow(
            context: JobContext, connection: str, flow: str, attempt: int = 0
        ) -> None:
            await self._attempt(context, connection, flow, attempt)

        async def process_inbox(context: JobContext, connection: str, attempt: int = 0) -> None:
            await self._attempt(context, connection, INBOX, attempt)

        async def scheduled_flow(
            context: JobContext,
            timestamp: int,
            connection: str,
            flow: str,
            cron: str,
            window: str | None = None,
            timezone: str = "UTC",
        ) -> None:
            schedule = Schedule(
                connection=connection, flow=flow, cron=cron, window=window, timezone=timezone
            )
            if not schedule.fires_at(timestamp):
                return  # the other UTC time of this window today (daylight saving)
            await self._attempt(context, connection, flow, 0)

        async def prune_jobs(context: JobContext, timestamp: int) -> None:
            await context.app.job_manager.delete_old_jobs(nb_hours=KEEP_JOBS_HOURS)

        self.run_flow = self.app.task(name=RUN_FLOW, pass_context=True)(run_flow)
        self.process_inbox = self.app.task(name=PROCESS_INBOX, pass_context=True)(process_inbox)
        self.scheduled_flow = self.app.task(name=SCHEDULED_FLOW, pass_context=True)(scheduled_flow)
        self.prune_jobs = self.app.task(name=PRUNE_JOBS, pass_context=True)(prune_jobs)

    async def _attempt(self, context: JobContext, connection: str, flow: str, attempt: int) -> None:
        """One attempt; whatever the outcome, the next run the job needs is queued before it ends."""
        fields = {"connection": connection, "flow": flow, "job_id": context.job.id}
        try:
            await _runtime(context).run(context.job, connection, flow)
        except LeaseBusy:
            log.info("lease busy; the job runs again in %.0f s", self.lease_wait, extra=fields)
            await self.defer(connection, flow, delay=self.lease_wait, attempt=attempt)
        except FlowCrashed:
            delay = retry_delay(attempt)
            if delay is None:
                log.error(
                    "attempt %d crashed; giving up until the next schedule",
                    attempt + 1,
                    extra=fields,
                )
            else:
                await self.defer(connection, flow, delay=delay, attempt=attempt + 1)
            raise  # the job ends ``failed``: visible in procrastinate's tables
        except asyncio.CancelledError:
            # stopped at SIGTERM after the grace time: a live worker takes the flow over
            await asyncio.shield(self.defer(connection, flow, attempt=attempt))
            raise

    @staticmethod
    def locks(connection: str, flow: str) -> tuple[str, str]:
        """The job lock (the lease group) and the queueing lock (the flow) of a job."""
        return lease_name(connection, flow), f"{connection}/{flow}"

    def register(self, schedules: Iterable[Schedule]) -> int:
        """Register the periodic tasks (before the worker starts); returns how many."""
        count = 0
        for s in schedules:
            kwargs: dict[str, Any] = {
                "connection": s.connection,
                "flow": s.flow,
                "cron": s.cron,
                "timezone": s.timezone,
            }
            if s.window is not None:
                kwargs["window"] = s.window
            lock, queueing_lock = self.locks(s.connection, s.flow)
            self.app.periodic(
                cron=s.cron,
                periodic_id=s.periodic_id,
                task_kwargs=kwargs,
                lock=lock,
                queueing_lock=queueing_lock,
            )(self.scheduled_flow)
            count += 1
        self.app.periodic(cron="17 3 * * *", periodic_id="prune")(self.prune_jobs)
        return count

    async def defer(
        self, connection: str, flow: str, *, delay: float = 0.0, attempt: int = 0
    ) -> int | None:
        """Queue one run of a job (in ``delay`` s); None when one is already queued (its
        queueing lock), which does the same work."""
        lock, queueing_lock = self.locks(connection, flow)
        options: dict[str, Any] = {"lock": lock, "queueing_lock": queueing_lock}
        if delay > 0:
            options["schedule_in"] = {"seconds": delay}
        try:
            if flow == INBOX:
                return await self.process_inbox.configure(**options).defer_async(
                    connection=connection, attempt=attempt
                )
            return await self.run_flow.configure(**options).defer_async(
                connection=connection, flow=flow, attempt=attempt
            )
        except pexc.AlreadyEnqueued:
            return None

    async def defer_inboxes(self, connections: set[str]) -> None:
        """After webhook events are stored: have the inbox of each connection processed."""
        for connection in sorted(connections):
            job_id = await self.defer(connection, INBOX)
            log.info(
                "new webhook events: inbox job %s",
                "already queued" if job_id is None else f"{job_id} queued",
                extra={"connection": connection, "job_id": job_id},
            )

    async def retry_stalled(self, *, stalled_after: float) -> list[int]:
        """Put back the jobs of workers silent for ``stalled_after`` s; the ids put back or ended."""
        handled = []
        manager = self.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
            assert job.id is not None
            fields = {"job_id": job.id, "task": job.task_name, "lock": job.lock}
            try:
                await manager.retry_job(job)
                outcome = "retried"
            except pexc.UniqueViolation as exc:
                if exc.constraint_name != QUEUEING_LOCK_CONSTRAINT:
                    raise
                try:  # a twin is queued: end this one so the twin runs (and the lock is free)
                    await manager.finish_job(job, status=Status.ABORTED, delete_job=False)
                except pexc.ConnectorException:
                    continue  # another worker handled it first
                outcome = "ended: the job queued for the same flow runs it"
            except pexc.ConnectorException:
                continue  # another worker put it back first, or it finished meanwhile
            handled.append(job.id)
            log.warning(
                "job %s (%s) was left running by a worker that stopped; %s",
                job.id,
                job.task_name,
                outcome,
                extra=fields,
            )
        return handled

    async def sweep_stalled(
        self, clock: Clock, *, every: float, stalled_after: float, stop: asyncio.Event
    ) -> None:
        """Call :meth:`retry_stalled` every ``every`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.retry_stalled(stalled_after=stalled_after)
            except Exception:  # the database may be away for a moment; try again next time
                log.exception("looking for stalled jobs failed")
            sleeper = asyncio.ensure_future(clock.sleep(every))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for waiter in (sleeper, stopper):
                waiter.cancel()


def next_runs(schedules: Iterable[Schedule], now: datetime) -> dict[tuple[str, str], datetime]:
    """When each (connection, flow) fires next, for the dashboard."""
    found: dict[tuple[str, str], datetime] = {}
    for s in schedules:
        when = s.next_fire(now)
        key = (s.connection, s.flow)
        if key not in found or when < found[key]:
            found[key] = when
    return found
