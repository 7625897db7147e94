"""Top-level command group and the error boundary.

Every expected failure (bad config, missing or wrong key, store unreachable or on another schema) is a
:class:`~ml_connector.errors.ConnectorError` subclass: it is printed as one line on stderr and the
process exits 2, with no traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from ml_connector import __version__
from ml_connector.cli import (
    attention_cmd,
    audit_cmd,
    check_cmd,
    demo_cmd,
    init_cmd,
    match_cmd,
    reconcile_cmd,
    replay_cmd,
    run_cmd,
    sandbox_cmd,
    secrets_cmd,
    status_cmd,
    sync_cmd,
    web_cmd,
    worker_cmd,
)
from ml_connector.cli.common import err_console, options
from ml_connector.errors import ConnectorError
from ml_connector.logging import configure_logging

app = typer.Typer(
    name="ml-connector",
    help="Keeps Oracle Fusion Cloud ERP and ServiceTitan in step.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ml-connector {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: str | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Config file (default: $ML_CONNECTOR_CONFIG, else ./ml-connector.toml).",
        metavar="PATH",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    options(ctx).config_path = config


init_cmd.register(app)
sandbox_cmd.register(app)
check_cmd.register(app)
demo_cmd.register(app)
sync_cmd.register(app)
app.add_typer(secrets_cmd.app, name="secrets")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(attention_cmd.app, name="attention")
status_cmd.register(app)
replay_cmd.register(app)
run_cmd.register(app)
reconcile_cmd.register(app)
match_cmd.register(app)
worker_cmd.register(app)
web_cmd.register(app)


def main(argv: list[str] | None = None) -> None:
    configure_logging(level="WARNING")
    try:
        app(args=argv, prog_name="ml-connector", standalone_mode=True)
    except ConnectorError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        sys.exit(2)
