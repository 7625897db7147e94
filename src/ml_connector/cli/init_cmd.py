"""``init`` and ``migrate``."""

from __future__ import annotations

import asyncio
import os
import uuid

import typer

from ml_connector.cli.common import app_context, console, options
from ml_connector.secrets import Secret, create_key_file
from ml_connector.settings import DEFAULT_KEY_NAME, load_config, resolve_config_path
from ml_connector.starter import SANDBOX_SECRETS, render_starter
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
    if path.exists():
        console.print(f"config   {path} exists, kept")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_starter(str(uuid.uuid4())), encoding="utf-8")
        console.print(f"config   {path} written (points at the sandbox)")
    loaded = load_config(
        path, environ=environ
    )  # a broken existing file stops here, nothing written
    key_path = loaded.directory / DEFAULT_KEY_NAME
    if environ.get("ML_CONNECTOR_MASTER_KEY"):
        console.print("key      ML_CONNECTOR_MASTER_KEY is set; no key file needed")
    elif create_key_file(key_path):
        console.print(
            f"key      {key_path} created (mode 0600) — back it up: secrets cannot be read without it"
        )
    else:
        console.print(f"key      {key_path} exists, kept")
    ctx_app = app_context(ctx)
    status = upgrade(ctx_app.database_url)
    console.print(f"store    {redact_db_url(ctx_app.database_url)} at schema {status.current}")

    async def store_sandbox_secrets() -> list[str]:
        stored: list[str] = []
        store = ctx_app.open_store()
        try:
            async with store.transaction() as tx:
                cipher = ctx_app.cipher()
                await tx.secrets.ensure_key(cipher)
                for name, value in SANDBOX_SECRETS.items():
                    if not await tx.secrets.exists(name):
                        await tx.secrets.set(cipher, name, Secret(value))
                        stored.append(name)
        finally:
            await store.close()
        return stored

    stored = asyncio.run(store_sandbox_secrets())
    if stored:
        console.print(f"secrets  sandbox credentials stored: {', '.join(stored)}")
    else:
        console.print("secrets  already set, kept")
    console.print("next     `ml-connector sandbox` in another terminal, then `ml-connector check`")


def migrate(ctx: typer.Context) -> None:
    """Create or upgrade the state store's schema to this version's."""
    ctx_app = app_context(ctx)
    status = upgrade(ctx_app.database_url)
    console.print(
        f"store {redact_db_url(ctx_app.database_url)} is at schema {status.current} (head)"
    )
