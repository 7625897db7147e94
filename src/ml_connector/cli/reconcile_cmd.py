"""``reconcile``: ServiceTitan invoices and payments of a month against Fusion AR (issue 7).

Exit codes are for monitoring: 0 no problems, 1 problems (missing, mismatched, duplicated or only
in Fusion), 2 an error (bad period, config, unreachable system — one line on stderr).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from ml_connector.cli.common import app_context, console, run, write_output
from ml_connector.errors import ConfigError
from ml_connector.reconcile import Period, Reconciliation, as_csv, as_html, as_table, reconcile


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    HTML = "html"


def reconcile_command(
    ctx: typer.Context,
    period: str = typer.Option(
        ..., "--period", help="The month to reconcile, YYYY-MM.", metavar="YYYY-MM"
    ),
    fmt: Format = typer.Option(Format.TABLE, "--format", help="table, csv or html."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write csv or html to this file (default: stdout)."
    ),
    connection: str | None = typer.Option(None, "--connection", help="Connection name."),
    all_rows: bool = typer.Option(False, "--all", help="Table: list matched rows too."),
) -> None:
    """Compare ServiceTitan invoices and payments of a month with Fusion receivables."""
    month = Period.parse(period)  # a bad period fails before anything is opened
    if output is not None and fmt is Format.TABLE:
        raise ConfigError("--output takes --format csv or html")
    app_ctx = app_context(ctx)
    name, _ = app_ctx.config.settings.connection(connection)

    async def go() -> Reconciliation:
        store = app_ctx.open_store()
        try:
            return await reconcile(app_ctx, store, name, month)
        finally:
            await store.close()

    rec = run(go)
    if fmt is Format.TABLE:
        console.print(as_table(rec, all_rows=all_rows))
    elif fmt is Format.CSV:
        write_output(as_csv(rec), output)
    else:
        write_output(as_html(rec), output)
    raise typer.Exit(1 if rec.problems else 0)


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile_command)
