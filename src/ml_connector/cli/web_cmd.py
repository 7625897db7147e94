"""``web``: a stateless web process of the distributed runner — webhooks, dashboard, health, metrics.

The web app of ``run`` without a scheduler: webhook events are stored in the inbox (group commit,
acknowledged once durable) and then the connection's inbox task is deferred for the workers. Any
number of these can sit behind a load balancer; they share nothing but the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import typer
import uvicorn

from ml_connector.cli.common import app_context, console, serve_until_signal
from ml_connector.errors import ConfigError
from ml_connector.flows.registry import FLOWS
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.distributed import (
    Distributed,
    ensure_schema,
    next_runs,
    postgres_conninfo,
)
from ml_connector.runtime.distributed_schedule import Schedule, schedules_for
from ml_connector.runtime.metrics import Metrics
from ml_connector.runtime.scheduler import INBOX, jobs_for
from ml_connector.web.app import create_web_app, load_webhook_endpoints
from ml_connector.web.dashboard import Dashboard, ScheduledRun


def register(app: typer.Typer) -> None:
    app.command("web")(web)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen(host: str, port: int) -> socket.socket:
    try:
        sock = socket.create_server((host, port), reuse_port=False, backlog=2048)
    except OSError as exc:
        raise ConfigError(f"could not listen on {host}:{port}: {exc.strerror}") from None
    return sock


def schedule_view(app_ctx: AppContext, schedules: list[Schedule]) -> list[ScheduledRun]:
    """The dashboard's overview: when each flow fires next on the workers' schedules."""
    return [
        ScheduledRun(
            connection=connection, flow=flow.replace("-", "_"), next_run=when, last_run=None
        )
        for (connection, flow), when in next_runs(schedules, app_ctx.clock.now()).items()
        if flow != INBOX
    ]


async def serve_web(app_ctx: AppContext, *, stop: asyncio.Event, host: str, port: int) -> None:
    settings = app_ctx.config.settings
    conninfo = postgres_conninfo(app_ctx.database_url)
    store = app_ctx.open_store()  # a wrong URL, a server down or an old schema: one line
    try:
        if await ensure_schema(conninfo):
            console.print("procrastinate's tables created")
    except BaseException:
        await store.close()
        raise
    distributed = Distributed(conninfo, pool_size=4)
    jobs = [
        job
        for name, conn in settings.connections.items()
        for job in jobs_for(name, conn, set(FLOWS))
    ]
    schedules = schedules_for(jobs, now=app_ctx.clock.now())
    try:
        async with distributed.app.open_async():
            endpoints = await load_webhook_endpoints(app_ctx, store)
            app = create_web_app(
                store=store,
                clock=app_ctx.clock,
                endpoints=endpoints,
                metrics=Metrics(),
                dashboard=Dashboard(
                    app_ctx=app_ctx, store=store, schedule=lambda: schedule_view(app_ctx, schedules)
                )
                if settings.web.dashboard
                else None,
                on_inbox_commit=distributed.defer_inboxes,
            )
            server = _Server(
                uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
            )
            # bound and listening before the line is printed: a client that read it can connect
            sock = _listen(host, port)
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            stopper = asyncio.create_task(stop.wait())
            console.print(
                f"ml-connector web on http://{host}:{port}"
                + (" (dashboard, " if settings.web.dashboard else " (")
                + "/healthz /readyz /metrics, webhooks)"
            )
            await asyncio.wait({serving, stopper}, return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True  # in-flight requests are answered, then uvicorn returns
            await serving
            stopper.cancel()
    finally:
        await store.close()


def web(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Listen address (default: web.host)."),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Listen port (default: web.port)."
    ),
) -> None:
    """Serve webhooks, the dashboard, health and metrics for the distributed runner until SIGTERM.

    Needs PostgreSQL; flows run in `ml-connector worker` processes."""
    app_ctx = app_context(ctx)
    postgres_conninfo(app_ctx.database_url)  # the SQLite error before anything starts
    settings = app_ctx.config.settings

    async def go(stop: asyncio.Event) -> None:
        await serve_web(
            app_ctx,
            stop=stop,
            host=host or settings.web.host,
            port=port or settings.web.port,
        )

    serve_until_signal(go)
