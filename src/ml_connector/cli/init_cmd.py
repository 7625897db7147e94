"""``init`` and ``migrate``."""

from __future__ import annotations

import asyncio
import os

import typer

from ml_connector.cli.common import app_context, console, options
from ml_connector.runtime.setup import prepare, store_sandbox_secrets
from ml_connector.settings import resolve_config_path
from ml_connector.store.engine import redact_db_url
from ml_connector.store.migrate import upgrade


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("migrate")(migrate)


def init(ctx: typer.Context) -> None:
    """Write a starter config, create the master key, migrate the store, store sandbox secrets.

    The starter config points at the sandbox. Safe to run again: nothing existing is replaced.
    """
    environ = dict(os.environ)
    path = resolve_config_path(options(ctx).config_path, environ)
    app_ctx = prepare(path, environ, console.print)
    asyncio.run(store_sandbox_secrets(app_ctx, console.print))
    console.print("next     `ml-connector sandbox` in another terminal, then `ml-connector check`")


def migrate(ctx: typer.Context) -> None:
    """Create or upgrade the state store's schema to this version's."""
    ctx_app = app_context(ctx)
    status = upgrade(ctx_app.database_url)
    console.print(
        f"store {redact_db_url(ctx_app.database_url)} is at schema {status.current} (head)"
    )
