"""``secrets set|list|delete``: credentials stored encrypted in the store, never shown in full."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from ml_connector.cli.common import app_context, console, run
from ml_connector.errors import SecretError
from ml_connector.secrets import Secret

app = typer.Typer(
    help="Store, list and delete credentials (encrypted at rest).", no_args_is_help=True
)


def _read_value(name: str) -> str:
    if sys.stdin.isatty():
        value = str(typer.prompt(f"value for {name}", hide_input=True, confirmation_prompt=True))
    else:
        value = sys.stdin.read()
    value = value.rstrip("\r\n")
    if not value:
        raise SecretError(
            f"no value given for {name!r} (type it at the prompt or pipe it on stdin)"
        )
    return value


@app.command("set")
def set_secret(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="e.g. fusion.client_secret or east.servicetitan.app_key"),
) -> None:
    """Store a secret; the value is read from a prompt without echo, or from stdin."""
    if not name or any(c.isspace() for c in name):
        raise SecretError(f"secret name {name!r} must be non-empty and contain no spaces")
    ctx_app = app_context(ctx)
    value = Secret(_read_value(name))

    async def go() -> bool:
        store = ctx_app.open_store()
        try:
            async with store.transaction() as tx:
                return await tx.secrets.set(ctx_app.cipher(), name, value)
        finally:
            await store.close()

    created = run(go)
    console.print(f"secret {name} {'stored' if created else 'replaced'}")


@app.command("list")
def list_secrets(ctx: typer.Context) -> None:
    """Names and masked values."""
    ctx_app = app_context(ctx)

    async def go() -> list[tuple[str, str]]:
        store = ctx_app.open_store()
        try:
            async with store.transaction() as tx:
                rows = []
                for name in await tx.secrets.names():
                    value = await tx.secrets.get(ctx_app.cipher(), name)
                    rows.append((name, value.masked() if value else "?"))
                return rows
        finally:
            await store.close()

    rows = run(go)
    table = Table("name", "value (masked)")
    for name, masked in rows:
        table.add_row(name, masked)
    console.print(table if rows else "no secrets stored")


@app.command("delete")
def delete_secret(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Delete a secret."""
    ctx_app = app_context(ctx)

    async def go() -> bool:
        store = ctx_app.open_store()
        try:
            async with store.transaction() as tx:
                return await tx.secrets.delete(name)
        finally:
            await store.close()

    if not run(go):
        raise SecretError(f"secret {name!r} does not exist")
    console.print(f"secret {name} deleted")
