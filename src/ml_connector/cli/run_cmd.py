"""``run``: the long-running connector — scheduler, flows under leases, webhook receiver, health, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import typer
import uvicorn

from ml_connector.cli.common import app_context, console, serve_until_signal
from ml_connector.errors import ConfigError
from ml_connector.flows.registry import flow_names
from ml_connector.runtime.clients import ConnectionClients, open_clients
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.daemon import Daemon, JobRun
from ml_connector.runtime.metrics import Metrics
from ml_connector.runtime.scheduler import INBOX
from ml_connector.web.app import create_web_app, load_webhook_endpoints
from ml_connector.web.dashboard import Dashboard, ScheduledRun

TOKEN_FRESH = timedelta(minutes=30)


def register(app: typer.Typer) -> None:
    app.command("run")(run)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[Any] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        except SystemExit:  # uvicorn exits the process when it cannot bind: end this task only
            self.should_exit = True
            return
        if self.started:
            self.ready.set()


def _readiness(app_ctx: AppContext, clients: dict[str, ConnectionClients]) -> list[Any]:
    """ "A recent successful token per system" (issue 7): fresh within 30 minutes, or never needed yet."""

    def check(name: str, system: str, stats_of: Any) -> Any:
        def probe() -> tuple[str, bool, str]:
            stats = stats_of()
            if stats is None:
                return f"{name}.{system}", True, "basic auth"
            if stats.last_success_at is None:
                return (
                    f"{name}.{system}",
                    stats.last_error is None,
                    stats.last_error or "no token needed yet",
                )
            age = app_ctx.clock.now() - stats.last_success_at
            return (
                f"{name}.{system}",
                age <= TOKEN_FRESH,
                f"last token {int(age.total_seconds())} s ago",
            )

        return probe

    probes = []
    for name, c in clients.items():
        probes.append(check(name, "fusion", lambda c=c: c.fusion.token_stats))
        probes.append(check(name, "servicetitan", lambda c=c: c.servicetitan.token_stats))
    return probes


def _describe(run: JobRun) -> str:
    when = run.started_at.strftime("%Y-%m-%d %H:%M")
    if run.skipped_lease:
        return f"{when}: ran elsewhere"
    if run.error is not None:
        return f"{when}: crashed ({run.error[:80]})"
    if run.summary is None:
        return f"{when}: ok"
    moved = ", ".join(f"{n} {action}" for action, n in run.summary.as_dict().items() if n)
    return f"{when}: {moved or 'nothing new'}"


def schedule_view(daemon: Daemon) -> list[ScheduledRun]:
    """What the dashboard's overview shows of this process's scheduler."""
    last = daemon.last_runs()
    return [
        ScheduledRun(
            connection=job.connection,
            flow=job.flow.replace("-", "_"),
            next_run=when,
            last_run=_describe(last[job]) if job in last else None,
        )
        for job, when in list(daemon.due.items())
        if job.flow != INBOX
    ]


async def serve(
    app_ctx: AppContext,
    *,
    stop: asyncio.Event,
    worker_id: str,
    web: bool = True,
    only: frozenset[str] | None = None,
    grace_seconds: float = 20.0,
    max_parallel: int = 4,
) -> None:
    settings = app_ctx.config.settings
    guid = settings.application_guid
    if not guid:
        raise ConfigError(
            "application_guid is not set in the config (ml-connector init writes one)"
        )
    store = app_ctx.open_store()
    metrics = Metrics()
    clients = {
        name: await open_clients(app_ctx, store, name, observer=metrics)
        for name in settings.connections
    }
    daemon = Daemon(
        store=store,
        clock=app_ctx.clock,
        clients=clients,
        application_guid=guid,
        worker_id=worker_id,
        metrics=metrics,
        only=only,
        grace_seconds=grace_seconds,
        max_parallel=max_parallel,
    )
    server: _Server | None = None
    tasks: list[asyncio.Task[None]] = []
    try:
        if web:
            endpoints = await load_webhook_endpoints(app_ctx, store)
            app = create_web_app(
                store=store,
                clock=app_ctx.clock,
                endpoints=endpoints,
                metrics=metrics,
                readiness=_readiness(app_ctx, clients),
                dashboard=Dashboard(
                    app_ctx=app_ctx, store=store, schedule=lambda: schedule_view(daemon)
                )
                if settings.web.dashboard
                else None,
            )
            server = _Server(
                uvicorn.Config(
                    app,
                    host=settings.web.host,
                    port=settings.web.port,
                    log_level="warning",
                    access_log=False,
                )
            )
            serving = asyncio.create_task(server.serve())
            tasks.append(serving)
            # say "running" only once the port is bound: a probe right after it must connect
            bound = asyncio.create_task(server.ready.wait())
            await asyncio.wait({serving, bound}, return_when=asyncio.FIRST_COMPLETED)
            bound.cancel()
            if not server.ready.is_set():
                raise ConfigError(
                    f"the web server could not start on {settings.web.host}:{settings.web.port} "
                    "(see the log above: the port may be in use)"
                )
        console.print(
            f"ml-connector running as {worker_id}: {len(daemon.jobs())} jobs"
            + (
                f", http://{settings.web.host}:{settings.web.port}"
                + (" (dashboard, " if settings.web.dashboard else " (")
                + "/healthz /readyz /metrics, webhooks)"
                if web
                else ""
            )
        )
        await daemon.serve(stop)
    finally:
        if server is not None:
            server.should_exit = True
        for task in tasks:
            with contextlib.suppress(Exception):
                await task
        for c in clients.values():
            await c.aclose()
        await store.close()


def run(
    ctx: typer.Context,
    no_web: bool = typer.Option(False, "--no-web", help="Scheduler only; no HTTP listener."),
    flow: list[str] = typer.Option([], "--flow", help="Run only these flows (repeatable)."),
    grace_seconds: float = typer.Option(
        20.0,
        "--grace-seconds",
        min=0,
        max=3600,
        help="On SIGTERM, how long a running flow may take to finish before it is cancelled "
        "(keep it under your orchestrator's kill timeout, e.g. Kubernetes' 30 s).",
    ),
    max_parallel: int = typer.Option(
        4,
        "--max-parallel",
        min=1,
        max=256,
        help="How many jobs may run at once, across connections (a connection with a job "
        "running never takes the last free slot). With many connections, raise it.",
    ),
) -> None:
    """Run the connector until SIGTERM/SIGINT: flows on their schedules, webhooks, health, metrics."""
    try:
        only = flow_names(flow)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    app_ctx = app_context(ctx)
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    async def go(stop: asyncio.Event) -> None:
        await serve(
            app_ctx,
            stop=stop,
            worker_id=worker_id,
            web=not no_web,
            only=only,
            grace_seconds=grace_seconds,
            max_parallel=max_parallel,
        )

    serve_until_signal(go)
