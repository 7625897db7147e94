"""``attention list|show|replay|ignore``: the records that need a person, and what to do about them."""

from __future__ import annotations

import getpass
import json
import os

import typer
from rich.markup import escape
from rich.table import Table

from ml_connector.cli.common import app_context, console, run
from ml_connector.errors import ConfigError
from ml_connector.flows.inbox_worker import InboxWorker
from ml_connector.flows.registry import make_flow
from ml_connector.runtime.clients import open_clients
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.leases import held
from ml_connector.store.records import AttentionItem, NewInboxEvent
from ml_connector.store.states import AttentionState

app = typer.Typer(
    help="Records that need a person: list, show, replay, ignore.", no_args_is_help=True
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


RECEIVABLES = {"invoices": "invoice", "payments": "payment"}


async def replay_items(app_ctx: AppContext, item_ids: list[int], who: str) -> list[AttentionItem]:
    """Mark each item replayed and process its record again; return the items as they end up.

    Receivables records are fetched by id and run through the same per-record code as polling
    (an inbox event of origin ``replay``); procurement records are re-read with a full pass of
    their flow, where everything already written is skipped as unchanged.
    """
    store = app_ctx.open_store()
    try:
        async with store.transaction() as tx:
            items = []
            for item_id in item_ids:
                item = await tx.attention.get(item_id)
                if item is None:
                    raise ConfigError(f"attention item {item_id} does not exist")
                items.append(await tx.attention.mark_replayed(item_id, by=who))
            events = [
                NewInboxEvent(
                    connection=item.connection,
                    origin="replay",
                    event_key=f"replay:{item.id}:{app_ctx.clock.now().isoformat()}",
                    event_type=f"{RECEIVABLES[item.flow]}.replay",
                    entity_type=RECEIVABLES[item.flow],
                    entity_id=item.source_id,
                )
                for item in items
                if item.flow in RECEIVABLES
            ]
            await tx.inbox.enqueue(events)
        guid = app_ctx.config.settings.application_guid or ""
        for connection in sorted({item.connection for item in items}):
            clients = await open_clients(app_ctx, store, connection)
            try:
                ctx = clients.flow_context(store=store, clock=app_ctx.clock, application_guid=guid)
                mine = [item for item in items if item.connection == connection]
                holder = f"replay:{os.getpid()}"
                if any(item.flow in RECEIVABLES for item in mine):
                    async with held(store, connection, "invoices", holder=holder):
                        await InboxWorker(ctx=ctx).drain()
                for flow in sorted({item.flow for item in mine if item.flow not in RECEIVABLES}):
                    async with held(store, connection, flow, holder=holder):
                        await make_flow(flow.replace("_", "-"), ctx).run(full=True)
            finally:
                await clients.aclose()
        async with store.transaction() as tx:
            return [await tx.attention.get(item.id) or item for item in items]
    finally:
        await store.close()


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
