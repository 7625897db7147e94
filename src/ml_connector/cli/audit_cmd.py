"""``audit search`` and ``audit show``: what happened to a record, attempt by attempt."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import typer
from rich.table import Table

from ml_connector.cli.common import app_context, console, run
from ml_connector.errors import ConfigError
from ml_connector.store.records import AuditRecord
from ml_connector.store.states import AuditAction

app = typer.Typer(help="Search the audit trail and show a record's history.", no_args_is_help=True)


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"{option}: {value!r} is not a date (use YYYY-MM-DD or an ISO timestamp)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _table(records: list[AuditRecord]) -> Table:
    table = Table(
        "id",
        "ended (UTC)",
        "connection",
        "flow",
        "source id",
        "action",
        "target id",
        "try",
        "error",
    )
    for r in records:
        table.add_row(
            str(r.id),
            r.ended_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.connection,
            r.flow,
            r.source_id,
            r.action.value + (" (dry run)" if r.dry_run else ""),
            r.target_id or "",
            str(r.attempt),
            (r.error_message or "")[:60],
        )
    return table


@app.command("search")
def search(
    ctx: typer.Context,
    source_id: str | None = typer.Option(None, "--source-id", help="Source transaction id."),
    target_id: str | None = typer.Option(None, "--target-id"),
    flow: str | None = typer.Option(None, "--flow"),
    status: AuditAction | None = typer.Option(
        None, "--status", help="Action: create, update, skip, fail…"
    ),
    connection: str | None = typer.Option(None, "--connection"),
    since: str | None = typer.Option(
        None, "--since", help="From this date/time (UTC unless given)."
    ),
    until: str | None = typer.Option(None, "--until", help="Before this date/time."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Search the audit trail (newest first)."""
    ctx_app = app_context(ctx)
    since_at, until_at = _when(since, "--since"), _when(until, "--until")

    async def go() -> list[AuditRecord]:
        store = ctx_app.open_store()
        try:
            async with store.transaction() as tx:
                return await tx.audit.search(
                    connection=connection,
                    flow=flow,
                    source_id=source_id,
                    target_id=target_id,
                    action=status,
                    since=since_at,
                    until=until_at,
                    limit=limit,
                )
        finally:
            await store.close()

    records = run(go)
    if as_json:
        for record in records:
            typer.echo(json.dumps(_as_dict(record), default=str))
        return
    console.print(_table(records) if records else "no audit rows match")


def _as_dict(record: AuditRecord) -> dict[str, object]:
    from dataclasses import asdict

    data = asdict(record)
    data["action"] = record.action.value
    return data


@app.command("show")
def show(ctx: typer.Context, audit_id: int = typer.Argument(..., help="An audit row id.")) -> None:
    """Show a record's whole history: every attempt with its mapping decisions."""
    ctx_app = app_context(ctx)

    async def go() -> list[AuditRecord] | None:
        store = ctx_app.open_store()
        try:
            async with store.transaction() as tx:
                row = await tx.audit.get(audit_id)
                if row is None:
                    return None
                return await tx.audit.history(row.connection, row.flow, row.source_id)
        finally:
            await store.close()

    history = run(go)
    if history is None:
        raise ConfigError(f"audit row {audit_id} does not exist")
    first = history[0]
    console.print(
        f"[bold]{first.connection} / {first.flow}[/bold]: {first.source_system} record {first.source_id}"
        f" — {len(history)} attempt(s)"
    )
    for r in history:
        marker = "→" if r.id == audit_id else " "
        console.print(
            f"{marker} #{r.id} try {r.attempt} {r.started_at:%Y-%m-%d %H:%M:%S}Z "
            f"[bold]{r.action.value}[/bold]{' (dry run)' if r.dry_run else ''}"
            f" target={r.target_system or '-'}:{r.target_id or '-'} version={r.source_version or '-'}"
        )
        for d in r.decisions:
            console.print(f"    · {d.get('rule')}: {d.get('detail')}", highlight=False)
        if r.error_message:
            console.print(f"    ! {r.error_class}: {r.error_message}", highlight=False)
