"""``status``: per connection and flow — where the cursor is, the last run, what happened, what waits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import typer
from rich.table import Table
from sqlalchemy import func, select

from ml_connector.cli.common import app_context, console, run
from ml_connector.store.schema import audit

FLOW_ORDER = ("suppliers", "purchase_orders", "receipts", "invoices", "payments")


@dataclass(frozen=True, kw_only=True)
class FlowStatus:
    connection: str
    flow: str
    cursor: str
    last_run: datetime | None
    day_counts: dict[str, int]
    attention: int


def register(app: typer.Typer) -> None:
    app.command("status")(status)


def status(ctx: typer.Context) -> None:
    """Cursors, last activity, the last 24 hours by action, open attention and inbox per flow."""
    app_ctx = app_context(ctx)

    async def go() -> tuple[list[FlowStatus], dict[str, int]]:
        store = app_ctx.open_store()
        now = app_ctx.clock.now()
        try:
            async with store.transaction() as tx:
                cursors = {(c.connection, c.flow): c for c in await tx.cursors.all()}
                rows = (
                    await tx.connection.execute(
                        select(
                            audit.c.connection,
                            audit.c.flow,
                            audit.c.action,
                            func.count(),
                            func.max(audit.c.ended_at),
                        )
                        .where(audit.c.ended_at >= now - timedelta(days=1))
                        .group_by(audit.c.connection, audit.c.flow, audit.c.action)
                    )
                ).all()
                last = {
                    (r.connection, r.flow): r[1]
                    for r in (
                        await tx.connection.execute(
                            select(
                                audit.c.connection, func.max(audit.c.ended_at), audit.c.flow
                            ).group_by(audit.c.connection, audit.c.flow)
                        )
                    ).all()
                }
                open_attention = await tx.attention.list(limit=100_000)
                inbox = await tx.inbox.counts()
        finally:
            await store.close()
        keys = set(cursors) | set(last) | {(r.connection, r.flow) for r in rows}
        keys |= {
            (name, flow) for name in app_ctx.config.settings.connections for flow in FLOW_ORDER
        }
        result = []
        for connection, flow in sorted(
            keys, key=lambda k: (k[0], FLOW_ORDER.index(k[1]) if k[1] in FLOW_ORDER else 99, k[1])
        ):
            cursor = cursors.get((connection, flow))
            where = "—"
            if cursor is not None and cursor.watermark is not None:
                where = f"{cursor.watermark:%Y-%m-%d %H:%M:%S} UTC"
            elif cursor is not None and cursor.token:
                where = f"export token …{cursor.token[-8:]}"
            counts = {
                r.action: int(r[3]) for r in rows if (r.connection, r.flow) == (connection, flow)
            }
            result.append(
                FlowStatus(
                    connection=connection,
                    flow=flow,
                    cursor=where,
                    last_run=last.get((connection, flow)),
                    day_counts=counts,
                    attention=sum(
                        1 for a in open_attention if (a.connection, a.flow) == (connection, flow)
                    ),
                )
            )
        return result, inbox

    flows, inbox = run(go)
    table = Table(
        "connection", "flow", "cursor", "last activity (UTC)", "last 24 h", "open attention"
    )
    for f in flows:
        table.add_row(
            f.connection,
            f.flow,
            f.cursor,
            f"{f.last_run:%Y-%m-%d %H:%M}" if f.last_run else "never",
            ", ".join(f"{k} {v}" for k, v in sorted(f.day_counts.items())) or "—",
            str(f.attention),
        )
    console.print(table)
    console.print("inbox: " + (", ".join(f"{k} {v}" for k, v in sorted(inbox.items())) or "empty"))
