"""``replay``: process records again after their cause was fixed, chosen from the audit trail.

Exactly one of ``--audit-id`` (the record of that row), ``--source-id`` (narrowed by ``--flow`` and
``--connection`` when it names records of several) or ``--failed-since`` (every record whose latest
attempt since then failed or went to attention; those that went through later are reported as
already processed and left alone). The work is :mod:`ml_connector.runtime.replay`'s, shared with the
dashboard. Exit 0 when every record was processed, 1 when one still fails, 2 on errors.
"""

from __future__ import annotations

import getpass
from datetime import UTC, date, datetime

import typer
from rich.markup import escape

from ml_connector.cli.common import app_context, console, run
from ml_connector.errors import ConfigError
from ml_connector.runtime.context import AppContext
from ml_connector.runtime.replay import (
    STILL_FAILING,
    RecordRef,
    ReplayOutcome,
    ReplayStatus,
    pick_record,
    ref_of,
    replay_records,
    split_failed,
    store_flow,
)
from ml_connector.store.records import AuditRecord

SINCE_HELP = (
    "Replay records whose latest attempt since then failed or went to attention: a date "
    "(2026-11-30, midnight UTC) or an ISO datetime with Z or an offset "
    "(2026-11-30T08:00:00Z, 2026-11-30T08:00:00+01:00); a datetime without a zone is refused."
)


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)


def parse_failed_since(value: str) -> datetime:
    """A date is midnight UTC; a datetime must say its zone (a naive one is refused, not guessed)."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--failed-since {value!r} is not a date (YYYY-MM-DD) or an ISO datetime"
        ) from None
    if parsed.tzinfo is None:
        raise ConfigError(
            f"--failed-since {value!r} has no time zone: add Z for UTC or an offset "
            "such as +01:00 (or give a date alone, read as midnight UTC)"
        )
    return parsed.astimezone(UTC)


def _row_text(row: AuditRecord) -> str:
    text = f"audit #{row.id} {row.action.value} at {row.ended_at:%Y-%m-%d %H:%M:%S} UTC"
    if row.action in STILL_FAILING and row.error_message:
        text += f": {row.error_message[:200]}"
    return text


def _outcome_text(outcome: ReplayOutcome) -> str:
    ref = outcome.ref
    head = f"{ref.connection}/{ref.flow.replace('_', '-')} {ref.source_id}: "
    after = f" (audit #{outcome.audit_id})" if outcome.audit_id is not None else ""
    if outcome.status is ReplayStatus.PROCESSED:
        action = outcome.action.value if outcome.action is not None else "done"
        text = f"[green]processed[/green] — {action}{after}"
    elif outcome.status is ReplayStatus.ATTENTION:
        item = f" #{outcome.attention_id}" if outcome.attention_id is not None else ""
        text = (
            f"[yellow]still needs attention[/yellow]{item} — {outcome.reason}: "
            f"{escape(outcome.message or '')}{after}"
        )
    else:
        text = f"[red]failed[/red] — {escape(outcome.message or 'unknown error')}{after}"
    if outcome.note:
        text += f" [dim]({escape(outcome.note)})[/dim]"
    return head + text


async def _select(
    app_ctx: AppContext,
    *,
    audit_id: int | None,
    source_id: str | None,
    since: datetime | None,
    connection: str | None,
    flow: str | None,
) -> tuple[list[tuple[RecordRef, AuditRecord | None]], list[AuditRecord]]:
    """What to replay (with the row that chose it) and what was already processed."""
    store = app_ctx.open_store()
    try:
        async with store.transaction() as tx:
            if audit_id is not None:
                row = await tx.audit.get(audit_id)
                if row is None:
                    raise ConfigError(f"audit row {audit_id} does not exist")
                return [(ref_of(row), row)], []
            if source_id is not None:
                candidates = await tx.audit.flows_of(source_id)
                ref = pick_record(source_id, candidates, connection=connection, flow=flow)
                if ref is not None:
                    return [(ref, None)], []
                if flow is None:
                    where = f" in connection {connection}" if connection else ""
                    raise ConfigError(
                        f"no audit row names source id {source_id}{where}; "
                        "give --flow to replay it anyway"
                    )
                name, _ = app_ctx.config.settings.connection(connection)
                return [(RecordRef(name, store_flow(flow), source_id), None)], []
            assert since is not None
            latest = await tx.audit.latest_per_record(
                since=since, actions=STILL_FAILING, connection=connection, flow=flow
            )
    finally:
        await store.close()
    chosen = split_failed(latest)
    return [(ref_of(row), row) for row in chosen.replay], chosen.already_processed


def replay(
    ctx: typer.Context,
    audit_id: int | None = typer.Option(
        None, "--audit-id", min=1, help="Replay the record of this audit row."
    ),
    source_id: str | None = typer.Option(
        None, "--source-id", help="Replay the record with this source id."
    ),
    failed_since: str | None = typer.Option(None, "--failed-since", help=SINCE_HELP),
    flow: str | None = typer.Option(
        None, "--flow", help="With --source-id or --failed-since: only this flow."
    ),
    connection: str | None = typer.Option(
        None, "--connection", help="With --source-id or --failed-since: only this connection."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="List what would be replayed; do nothing."
    ),
) -> None:
    """Process failed records again once their cause is fixed (exit 1 if one still fails)."""
    given = [
        name
        for name, value in (
            ("--audit-id", audit_id),
            ("--source-id", source_id),
            ("--failed-since", failed_since),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise ConfigError(
            "give exactly one of --audit-id, --source-id or --failed-since"
            + (f" (not {' and '.join(given)})" if given else "")
        )
    if audit_id is not None and (flow is not None or connection is not None):
        raise ConfigError("--audit-id names its record: --flow and --connection do not go with it")
    if source_id is not None and not source_id.strip():
        raise ConfigError("--source-id is empty")
    since = parse_failed_since(failed_since) if failed_since is not None else None
    wanted_flow = store_flow(flow) if flow is not None else None
    app_ctx = app_context(ctx)
    if connection is not None:
        app_ctx.config.settings.connection(connection)  # an unknown name is a one-line error
    todo, done = run(
        lambda: _select(
            app_ctx,
            audit_id=audit_id,
            source_id=source_id.strip() if source_id is not None else None,
            since=since,
            connection=connection,
            flow=wanted_flow,
        )
    )
    for row in done:
        ref = ref_of(row)
        console.print(
            f"{ref.connection}/{ref.flow.replace('_', '-')} {ref.source_id}: already processed "
            f"({escape(_row_text(row))})",
            highlight=False,
        )
    if not todo:
        console.print(
            f"nothing to replay: no record failed or went to attention since {since:%Y-%m-%d %H:%M} UTC"
            if since is not None
            else "nothing to replay"
        )
        return
    if dry_run:
        for ref, why in todo:
            last = f" — last {escape(_row_text(why))}" if why is not None else ""
            console.print(
                f"would replay {ref.connection}/{ref.flow.replace('_', '-')} {ref.source_id}{last}",
                highlight=False,
            )
        return
    outcomes = run(lambda: replay_records(app_ctx, [ref for ref, _ in todo], getpass.getuser()))
    for outcome in outcomes:
        console.print(_outcome_text(outcome), highlight=False, soft_wrap=True)
    if any(o.status is not ReplayStatus.PROCESSED for o in outcomes):
        raise typer.Exit(1)
