"""``attention list|show|replay|resolve|ignore``: the records that need a person, and what to do about them."""

from __future__ import annotations

import getpass
import json

import typer
from rich.markup import escape
from rich.table import Table

from ml_connector.cli.common import app_context, console, run
from ml_connector.errors import ConfigError
from ml_connector.runtime.replay import replay_items
from ml_connector.store.records import AttentionItem
from ml_connector.store.states import AttentionState

app = typer.Typer(
    help="Records that need a person: list, show, replay, resolve, ignore.", no_args_is_help=True
)


@app.command("list")
def list_items(
    ctx: typer.Context,
    connection: str | None = typer.Option(None, "--connection"),
    flow: str | None = typer.Option(None, "--flow"),
    reason: str | None = typer.Option(None, "--reason"),
    state: AttentionState = typer.Option(AttentionState.OPEN, "--state"),
    limit: int = typer.Option(200, "--limit", min=1, max=10_000),
) -> None:
    """List attention items (open ones by default), newest first."""
    app_ctx = app_context(ctx)

    async def go() -> list[AttentionItem]:
        store = app_ctx.open_store()
        try:
            async with store.transaction() as tx:
                return await tx.attention.list(
                    connection=connection, flow=flow, state=state, reason=reason, limit=limit
                )
        finally:
            await store.close()

    items = run(go)
    if not items:
        console.print(f"no {state.value} attention items")
        return
    table = Table(
        "id", "connection", "flow", "source id", "reason", "message", "seen", "updated (UTC)"
    )
    for item in items:
        table.add_row(
            str(item.id),
            item.connection,
            item.flow,
            item.source_id,
            item.reason,
            escape(item.message[:80]),
            str(item.occurrences),
            item.updated_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def _get(ctx: typer.Context, item_id: int) -> AttentionItem:
    app_ctx = app_context(ctx)

    async def go() -> AttentionItem | None:
        store = app_ctx.open_store()
        try:
            async with store.transaction() as tx:
                return await tx.attention.get(item_id)
        finally:
            await store.close()

    item = run(go)
    if item is None:
        raise ConfigError(f"attention item {item_id} does not exist")
    return item


@app.command("show")
def show(ctx: typer.Context, item_id: int = typer.Argument(...)) -> None:
    """One item: the reason, the suggested fix, the source record and the mapping decisions."""
    item = _get(ctx, item_id)
    console.print(
        f"[bold]#{item.id}[/bold] {item.connection} / {item.flow}: {item.source_system} record {item.source_id}"
    )
    console.print(
        f"state      {item.state.value} (seen {item.occurrences}×, since {item.created_at:%Y-%m-%d %H:%M} UTC)"
    )
    console.print(f"reason     {item.reason}", highlight=False)
    console.print(f"message    {escape(item.message)}", highlight=False)
    if item.suggestion:
        console.print(f"what to do {escape(item.suggestion)}", highlight=False)
    if item.comment:
        console.print(f"comment    {escape(item.comment)} ({item.decided_by})", highlight=False)
    for decision in item.decisions or []:
        console.print(
            f"  · {decision.get('rule')}: {escape(str(decision.get('detail')))}", highlight=False
        )
    if item.source_record is not None:
        console.print(
            escape(json.dumps(item.source_record, indent=2, default=str)[:4000]), highlight=False
        )


@app.command("resolve")
def resolve(
    ctx: typer.Context,
    item_id: int = typer.Argument(...),
    comment: str = typer.Option(..., "--comment", help="What was done (e.g. applied by hand)."),
) -> None:
    """Close an item that a person fixed by hand in Fusion or ServiceTitan (a comment is required)."""
    app_ctx = app_context(ctx)
    who = getpass.getuser()
    if not comment.strip():
        raise ConfigError("resolving an attention item needs a comment saying what was done")

    async def go() -> AttentionItem:
        store = app_ctx.open_store()
        try:
            async with store.transaction() as tx:
                try:
                    return await tx.attention.resolve(item_id, by=who, comment=comment.strip())
                except (LookupError, ValueError) as exc:
                    raise ConfigError(str(exc)) from None
        finally:
            await store.close()

    item = run(go)
    console.print(f"attention item #{item.id} resolved by {who}")


@app.command("ignore")
def ignore(
    ctx: typer.Context,
    item_id: int = typer.Argument(...),
    comment: str = typer.Option(..., "--comment", help="Why this record needs no action."),
) -> None:
    """Close an item without processing the record (a comment is required)."""
    app_ctx = app_context(ctx)
    who = getpass.getuser()

    async def go() -> AttentionItem:
        store = app_ctx.open_store()
        try:
            async with store.transaction() as tx:
                try:
                    return await tx.attention.ignore(item_id, by=who, comment=comment)
                except (LookupError, ValueError) as exc:
                    raise ConfigError(str(exc)) from None
        finally:
            await store.close()

    item = run(go)
    console.print(f"attention item #{item.id} ignored by {who}")


@app.command("replay")
def replay(
    ctx: typer.Context, item_ids: list[int] = typer.Argument(..., help="Attention item ids.")
) -> None:
    """Process the records again (after fixing the mapping or the data); shows how each ended."""
    app_ctx = app_context(ctx)
    ended = run(lambda: replay_items(app_ctx, item_ids, getpass.getuser()))
    failed = False
    for item in ended:
        if item.state is AttentionState.RESOLVED:
            console.print(f"#{item.id} {item.flow} {item.source_id}: [green]processed[/green]")
        else:
            failed = True
            console.print(
                f"#{item.id} {item.flow} {item.source_id}: still needs attention — {escape(item.message)}"
            )
    if failed:
        raise typer.Exit(1)
