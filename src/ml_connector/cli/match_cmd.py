"""``match``: link records that already exist on both sides before the first sync (issue 11).

``ml-connector match [vendors|customers|items|all]`` proposes links and prints what it found;
``match export`` writes the review CSV and ``match apply FILE`` reads a person's decisions back.
Exit codes: 0 done, 1 the review file had bad rows or accepted links could not be applied, 2 an
error (config, store, an unreachable system — one line on stderr).
"""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from ml_connector.cli.common import app_context, console, err_console, run, write_output
from ml_connector.errors import ConfigError
from ml_connector.flows.base import FlowContext
from ml_connector.matching.model import Entity
from ml_connector.matching.review import ReviewFileError
from ml_connector.matching.run import (
    MatchReport,
    ReviewResult,
    apply_review,
    export_rows,
    match_entity,
)
from ml_connector.runtime.clients import open_clients
from ml_connector.runtime.context import AppContext
from ml_connector.store.repos.matches import ACCEPTED, PROPOSED, REJECTED

T = TypeVar("T")

app = typer.Typer(
    help="Link records that already exist on both sides (propose, review, apply).",
    no_args_is_help=False,
    invoke_without_command=True,
)


class What(StrEnum):
    VENDORS = "vendors"
    CUSTOMERS = "customers"
    ITEMS = "items"
    ALL = "all"


class AutoAccept(StrEnum):
    NONE = "none"
    EXACT = "exact"


class StateFilter(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ALL = "all"


async def _with_ctx(
    app_ctx: AppContext, connection: str, work: Callable[[FlowContext], Awaitable[T]]
) -> T:
    guid = app_ctx.config.settings.application_guid
    if not guid:
        raise ConfigError(
            "application_guid is not set in the config (ml-connector init writes one): "
            "accepted vendor links are marked with it in ServiceTitan"
        )
    store = app_ctx.open_store()
    try:
        clients = await open_clients(app_ctx, store, connection)
        try:
            ctx = clients.flow_context(store=store, clock=app_ctx.clock, application_guid=guid)
            return await work(ctx)
        finally:
            await clients.aclose()
    finally:
        await store.close()


def _table(reports: list[MatchReport]) -> Table:
    table = Table(title="match")
    for column in (
        "entity",
        "targets",
        "sources",
        "linked before",
        "compared",
        "proposed",
        "exact",
        "ambiguous",
        "decided before",
        "auto-accepted",
        "applied",
        "seconds",
    ):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for r in reports:
        table.add_row(
            r.entity.label,
            *(
                str(v)
                for v in (
                    r.targets,
                    r.sources,
                    r.already_linked,
                    r.compared,
                    r.proposed,
                    r.exact,
                    r.ambiguous,
                    r.kept_decided,
                    r.auto_accepted,
                    r.applied,
                )
            ),
            f"{r.seconds:.1f}",
        )
    return table


def _print_apply_errors(errors: list[str]) -> None:
    for problem in errors:
        err_console.print(f"[yellow]not linked:[/yellow] {escape(problem)}", highlight=False)


@app.callback()
def match(
    ctx: typer.Context,
    connection: str | None = typer.Option(None, "--connection", help="Connection name."),
) -> None:
    """Propose links between records both systems already have (all entities when no
    subcommand is given)."""
    ctx.meta["match_connection"] = connection
    if ctx.invoked_subcommand is None:
        _match(ctx, What.ALL, connection, AutoAccept.NONE)


def _connection(ctx: typer.Context, given: str | None) -> str | None:
    found = ctx.meta.get("match_connection")
    return given if given is not None else (str(found) if found else None)


def _match(ctx: typer.Context, what: What, connection: str | None, auto: AutoAccept) -> None:
    app_ctx = app_context(ctx)
    name, _ = app_ctx.config.settings.connection(connection)
    entities = list(Entity) if what is What.ALL else [Entity.from_label(what.value)]

    async def work(fctx: FlowContext) -> list[MatchReport]:
        return [
            await match_entity(fctx, e, auto_accept_exact=auto is AutoAccept.EXACT)
            for e in entities
        ]

    reports = run(lambda: _with_ctx(app_ctx, name, work))
    console.print(_table(reports))
    errors = [e for r in reports for e in r.apply_errors]
    _print_apply_errors(errors)
    console.print(
        "review with: ml-connector match export -o proposals.csv, edit, then "
        "ml-connector match apply proposals.csv",
        highlight=False,
    )
    raise typer.Exit(1 if errors else 0)


def _entity_command(what: What) -> Callable[..., None]:
    def command(
        ctx: typer.Context,
        connection: str | None = typer.Option(None, "--connection", help="Connection name."),
        auto_accept: AutoAccept = typer.Option(
            AutoAccept.NONE,
            "--auto-accept",
            help="exact: accept exact-key proposals that are unambiguous (none within the margin).",
        ),
    ) -> None:
        _match(ctx, what, _connection(ctx, connection), auto_accept)

    command.__doc__ = (
        f"Propose links for {what.value}."
        if what is not What.ALL
        else "Propose links for vendors, customers and items."
    )
    return command


for _what in What:
    app.command(_what.value)(_entity_command(_what))


@app.command("export")
def export(
    ctx: typer.Context,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the CSV here (default: stdout)."
    ),
    entity: What = typer.Option(What.ALL, "--entity", help="vendors, customers, items or all."),
    state: StateFilter = typer.Option(
        StateFilter.PROPOSED, "--state", help="proposed (default), accepted, rejected or all."
    ),
    connection: str | None = typer.Option(None, "--connection", help="Connection name."),
) -> None:
    """Write proposals as a CSV a person can edit: decision = accept / reject; to pick another
    candidate put its id in target_id and accept."""
    app_ctx = app_context(ctx)
    name, _ = app_ctx.config.settings.connection(_connection(ctx, connection))
    one = None if entity is What.ALL else Entity.from_label(entity.value)
    states = (PROPOSED, ACCEPTED, REJECTED) if state is StateFilter.ALL else (state.value,)

    async def go() -> str:
        store = app_ctx.open_store()
        try:
            return "".join([chunk async for chunk in export_rows(store, name, one, states)])
        finally:
            await store.close()

    text = run(go)
    write_output(text, output)
    if output is None:
        return
    console.print(
        f"wrote {max(text.count(chr(10)) - 1, 0)} proposal(s) to {output}", highlight=False
    )


@app.command("apply")
def apply(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The edited review CSV."),
    connection: str | None = typer.Option(None, "--connection", help="Connection name."),
) -> None:
    """Record the decisions of an edited review CSV and link what was accepted (every row is
    checked first; one bad row and nothing is applied)."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not a UTF-8 text file") from None
    app_ctx = app_context(ctx)
    name, _ = app_ctx.config.settings.connection(_connection(ctx, connection))
    who = getpass.getuser()

    async def work(fctx: FlowContext) -> ReviewResult:
        return await apply_review(fctx, text, by=who)

    try:
        result = run(lambda: _with_ctx(app_ctx, name, work))
    except ReviewFileError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    console.print(
        f"accepted {result.accepted}, rejected {result.rejected}, unchanged {result.unchanged}; "
        f"linked {result.applied}",
        highlight=False,
    )
    _print_apply_errors(result.apply_errors)
    raise typer.Exit(1 if result.apply_errors else 0)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="match")
