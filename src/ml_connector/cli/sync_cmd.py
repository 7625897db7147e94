"""``sync FLOW``: run one cycle of a flow now, with a progress bar and a summary table.

``--since`` and ``--full`` read further back than the cursor (a backfill); records already written
are skipped as unchanged, and the cursor only ever moves forward. ``--dry-run`` maps, validates
and audits without writing to either system or moving the cursor.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ml_connector.cli.common import app_context, console, run
from ml_connector.errors import ConfigError
from ml_connector.flows.registry import FLOWS, make_flow
from ml_connector.flows.summary import RunSummary
from ml_connector.runtime.clients import open_clients
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.leases import held


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)


def parse_since(value: str | None) -> datetime | None:
    """``2026-11-01`` (midnight UTC) or an ISO datetime (naive means UTC)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--since {value!r} is not a date (YYYY-MM-DD) or ISO datetime") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def sync_flow(
    app_ctx: AppContext,
    connection: str,
    flow: str,
    *,
    since: datetime | None = None,
    full: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> RunSummary:
    guid = app_ctx.config.settings.application_guid
    if not guid:
        raise ConfigError(
            "application_guid is not set in the config (ml-connector init writes one): "
            "it marks our records in ServiceTitan"
        )
    store = app_ctx.open_store()
    try:
        clients = await open_clients(app_ctx, store, connection)
        try:
            task = progress.add_task(f"{connection} {flow}", total=None) if progress else None

            def tick(_flow: str, n: int) -> None:
                if progress is not None and task is not None:
                    progress.advance(task, n)

            ctx = clients.flow_context(
                store=store,
                clock=app_ctx.clock,
                application_guid=guid,
                dry_run=dry_run,
                progress=tick,
            )
            if dry_run:  # writes nothing, so it needs no lease
                return await make_flow(flow, ctx).run(since=since, full=full)
            async with held(store, connection, flow, holder=f"sync:{os.getpid()}"):
                return await make_flow(flow, ctx).run(since=since, full=full)
        finally:
            await clients.aclose()
    finally:
        await store.close()


def summary_table(summary: RunSummary) -> Table:
    title = f"{summary.connection}: sync {summary.flow}" + (" (dry run)" if summary.dry_run else "")
    table = Table(title=title)
    counts = summary.as_dict()
    if not counts["adopted"]:
        counts.pop("adopted")
    for key in counts:
        table.add_column(key, justify="right")
    table.add_row(*(str(v) for v in counts.values()))
    return table


def sync(
    ctx: typer.Context,
    flow: str = typer.Argument(..., help=f"One of: {', '.join(FLOWS)}."),
    connection: str | None = typer.Option(None, "--connection", help="Connection name."),
    since: str | None = typer.Option(
        None, "--since", help="Read changes from this date (YYYY-MM-DD or ISO datetime)."
    ),
    full: bool = typer.Option(False, "--full", help="Read everything, not just changes."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Map, validate and audit; write nothing, move no cursor."
    ),
) -> None:
    """Run one cycle of a flow now (exit 1 if a record failed and will be retried)."""
    if flow not in FLOWS:
        raise ConfigError(f"unknown flow {flow!r}; one of {', '.join(FLOWS)}")
    app_ctx = app_context(ctx)
    name, _ = app_ctx.config.settings.connection(connection)
    started = parse_since(since)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        summary = run(
            lambda: sync_flow(
                app_ctx, name, flow, since=started, full=full, dry_run=dry_run, progress=progress
            )
        )
    console.print(summary_table(summary))
    if summary.failed:
        raise typer.Exit(1)
