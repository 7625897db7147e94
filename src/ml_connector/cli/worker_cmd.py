"""``worker``: a process of the distributed runner — runs flows as procrastinate tasks (PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

import typer

from ml_connector.cli.common import app_context, console, serve_until_signal
from ml_connector.errors import ConfigError
from ml_connector.flows.registry import FLOWS, flow_names
from ml_connector.runtime.clients import open_clients
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.distributed import (
    Distributed,
    WorkerRuntime,
    ensure_schema,
    postgres_conninfo,
)
from ml_connector.runtime.distributed_schedule import schedules_for
from ml_connector.runtime.metrics import Metrics
from ml_connector.runtime.scheduler import INBOX, jobs_for

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)


async def serve_worker(
    app_ctx: AppContext,
    *,
    stop: asyncio.Event,
    worker_name: str,
    concurrency: int,
    only: frozenset[str] | None,
    run_now: bool,
    grace_seconds: float,
    lease_seconds: float,
    heartbeat_seconds: float,
    stalled_after: float,
    lease_wait: float,
) -> None:
    """Run a worker until ``stop`` is set: jobs finish (or are cancelled after ``grace_seconds``
    and queued again), the worker leaves procrastinate's registry, connections close."""
    settings = app_ctx.config.settings
    conninfo = postgres_conninfo(app_ctx.database_url)
    guid = settings.application_guid
    if not guid:
        raise ConfigError(
            "application_guid is not set in the config (ml-connector init writes one)"
        )
    store = app_ctx.open_store()  # a wrong URL, a server down or an old schema: one line
    try:
        if await ensure_schema(conninfo):
            console.print("procrastinate's tables created")
    except BaseException:
        await store.close()
        raise
    metrics = Metrics()
    clients = {}
    distributed = Distributed(conninfo, pool_size=concurrency + 3, lease_wait=lease_wait)
    try:
        for name in settings.connections:
            clients[name] = await open_clients(app_ctx, store, name, observer=metrics)
        available = set(FLOWS) if only is None else set(FLOWS) & only
        jobs = [job for name, c in clients.items() for job in jobs_for(name, c.settings, available)]
        schedules = schedules_for(jobs, now=app_ctx.clock.now())
        distributed.register(schedules)
        runtime = WorkerRuntime(
            store=store,
            clock=app_ctx.clock,
            clients=clients,
            application_guid=guid,
            worker_name=worker_name,
            metrics=metrics,
            lease_seconds=lease_seconds,
        )
        async with distributed.app.open_async():
            if run_now:  # like `run`: the polling flows run at start (one queued job each)
                for job in jobs:
                    if job.interval is not None and job.flow != INBOX:
                        await distributed.defer(job.connection, job.flow)
            running = asyncio.create_task(
                distributed.app.run_worker_async(
                    name=worker_name,
                    concurrency=concurrency,
                    install_signal_handlers=False,
                    shutdown_graceful_timeout=grace_seconds,
                    update_heartbeat_interval=heartbeat_seconds,
                    stalled_worker_timeout=stalled_after,
                    additional_context={"runtime": runtime},
                )
            )
            sweeper = asyncio.create_task(
                distributed.sweep_stalled(
                    app_ctx.clock,
                    every=max(heartbeat_seconds, 0.5),
                    stalled_after=stalled_after,
                    stop=stop,
                )
            )
            console.print(
                f"ml-connector worker {worker_name}: {len(schedules)} schedules, "
                f"concurrency {concurrency}"
            )
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({running, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stop.set()
            if not running.done():
                running.cancel()  # procrastinate's graceful stop: finish, then abort and requeue
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await sweeper
            stopper.cancel()
    finally:
        for c in clients.values():
            await c.aclose()
        await store.close()


def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(
        4, "--concurrency", min=1, max=64, help="Jobs this process runs at once."
    ),
    flow: list[str] = typer.Option(
        [], "--flow", help="Schedule only these flows from this process (repeatable)."
    ),
    no_run_now: bool = typer.Option(
        False, "--no-run-now", help="Do not queue the polling flows at start; wait for schedules."
    ),
    grace_seconds: float = typer.Option(
        20.0,
        "--grace-seconds",
        min=0,
        max=3600,
        help="On SIGTERM, how long running jobs may take before they are cancelled and queued "
        "again for another worker.",
    ),
    lease_seconds: float = typer.Option(
        120.0,
        "--lease-seconds",
        min=5,
        max=3600,
        help="Store lease of a running job (renewed as the flow progresses); after a crash, "
        "the job's retry waits at most this long for it.",
    ),
    heartbeat_seconds: float = typer.Option(
        10.0, "--heartbeat-seconds", min=0.1, max=600, help="How often this worker says it lives."
    ),
    stalled_after: float = typer.Option(
        30.0,
        "--stalled-after",
        min=0.5,
        max=3600,
        help="A worker silent this long is taken for dead and its jobs are retried elsewhere.",
    ),
    lease_wait: float = typer.Option(
        2.0,
        "--lease-wait",
        min=0.1,
        max=600,
        help="Seconds before a job whose lease is busy retries.",
    ),
) -> None:
    """Run flows as tasks of the distributed runner (PostgreSQL) until SIGTERM/SIGINT.

    Start any number of workers, on any machines, on one database: each schedule fires once
    across all of them, and no two run a flow group at once."""
    try:
        only = flow_names(flow)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    app_ctx = app_context(ctx)
    postgres_conninfo(app_ctx.database_url)  # the SQLite error before anything starts
    if stalled_after <= heartbeat_seconds:
        raise ConfigError("--stalled-after must be longer than --heartbeat-seconds")
    worker_name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    async def go(stop: asyncio.Event) -> None:
        await serve_worker(
            app_ctx,
            stop=stop,
            worker_name=worker_name,
            concurrency=concurrency,
            only=only,
            run_now=not no_run_now,
            grace_seconds=grace_seconds,
            lease_seconds=lease_seconds,
            heartbeat_seconds=heartbeat_seconds,
            stalled_after=stalled_after,
            lease_wait=lease_wait,
        )

    serve_until_signal(go)
