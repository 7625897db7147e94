"""``check``: can we reach both systems with these credentials, and does the mapping hold?

For each connection: a token from each system, one read of every resource the flows use, then the
mapping validated against live Fusion lookups. A failed resource makes the exit code 1; mapping
problems are shown as warnings (records that hit them go to attention), or fail with ``--strict``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from ml_connector.cli.common import app_context, console, run
from ml_connector.flows.validation import MappingProblem, validate_mapping
from ml_connector.runtime.clients import open_clients
from ml_connector.runtime.context import AppContext


@dataclass(frozen=True, kw_only=True)
class Line:
    connection: str
    system: str
    name: str
    ok: bool
    detail: str


def register(app: typer.Typer) -> None:
    app.command("check")(check)


async def check_connection(
    app_ctx: AppContext, name: str
) -> tuple[list[Line], list[MappingProblem]]:
    store = app_ctx.open_store()
    try:
        clients = await open_clients(app_ctx, store, name)
        try:
            fusion_results, st_results = await asyncio.gather(
                clients.fusion.check(), clients.servicetitan.check()
            )
            lines = [
                Line(connection=name, system=r.system, name=r.name, ok=r.ok, detail=r.detail)
                for r in fusion_results
            ] + [
                Line(connection=name, system=r.system, name=r.name, ok=r.ok, detail=r.detail)
                for r in st_results
            ]
            problems: list[MappingProblem] = []
            if all(line.ok for line in lines if line.system == "fusion"):
                today = app_ctx.clock.now().astimezone(ZoneInfo(clients.settings.timezone)).date()
                problems = await validate_mapping(clients.settings, clients.fusion, on=today)
            return lines, problems
        finally:
            await clients.aclose()
    finally:
        await store.close()


def print_check(
    name: str, lines: list[Line], problems: list[MappingProblem], *, strict: bool = False
) -> bool:
    """Print one connection's results; True if the check failed."""
    table = Table("system", "resource", "result", "detail", title=f"connection {name}")
    for line in lines:
        table.add_row(
            line.system,
            line.name,
            "[green]OK[/green]" if line.ok else "[red]FAILED[/red]",
            escape(line.detail),
        )
    console.print(table)
    failed = not all(line.ok for line in lines)
    if problems:
        console.print(
            f"[yellow]mapping: {len(problems)} problem(s)[/yellow] — records that need them go to attention"
        )
        for problem in problems:
            console.print(
                f"  [yellow]![/yellow] {problem.key}: {escape(problem.message)}", highlight=False
            )
        failed = failed or strict
    elif all(line.ok for line in lines if line.system == "fusion"):
        console.print(
            "[green]mapping: every value exists and every account combination is usable[/green]"
        )
    return failed


def check(
    ctx: typer.Context,
    connection: str | None = typer.Option(None, "--connection", help="Only this connection."),
    strict: bool = typer.Option(False, "--strict", help="Mapping problems fail the check too."),
) -> None:
    """Ping both systems with the stored credentials and validate the mapping (exit 1 on failure)."""
    app_ctx = app_context(ctx)
    names = (
        [app_ctx.config.settings.connection(connection)[0]]
        if connection
        else list(app_ctx.config.settings.connections)
    )
    failed = False
    for name in names:
        lines, problems = run(lambda n=name: check_connection(app_ctx, n))  # type: ignore[misc]
        failed = print_check(name, lines, problems, strict=strict) or failed
    if failed:
        raise typer.Exit(1)
