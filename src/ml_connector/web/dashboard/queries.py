"""The dashboard's read-only questions to the store, each one bounded SQL with bound parameters.

The overview reads only the chart window of the audit table (the ``ended_at`` index), the cursors
and the attention counts; it never scans the whole audit history.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from ml_connector.store import Tx
from ml_connector.store.schema import attention, audit
from ml_connector.store.states import AttentionState, AuditAction

#: the actions that moved a record (skips are "read, nothing to do")
MOVED = (AuditAction.CREATE.value, AuditAction.UPDATE.value, AuditAction.ADOPT.value)


@dataclass(kw_only=True)
class FlowActivity:
    connection: str
    flow: str
    last_activity: datetime | None = None
    cursor_at: datetime | None = None
    watermark: datetime | None = None
    last_24h: dict[str, int] = field(default_factory=dict)
    attention_open: int = 0
    next_run: datetime | None = None
    last_run: str | None = None

    @property
    def errors_24h(self) -> int:
        return self.last_24h.get(AuditAction.FAIL.value, 0)

    @property
    def moved_24h(self) -> int:
        return sum(self.last_24h.get(action, 0) for action in MOVED)


def _day(tx: Tx) -> Any:
    """The UTC calendar day of ``audit.ended_at`` as SQL, on either backend."""
    if tx.connection.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", audit.c.ended_at))
    return func.date(audit.c.ended_at)  # SQLite keeps naive UTC text


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def flow_activity(
    tx: Tx, pairs: list[tuple[str, str]], now: datetime, *, window_days: int = 14
) -> list[FlowActivity]:
    """One row per (connection, flow) in ``pairs``, plus any pair the store knows and ``pairs`` lacks."""
    rows: dict[tuple[str, str], FlowActivity] = {
        pair: FlowActivity(connection=pair[0], flow=pair[1]) for pair in pairs
    }

    def row(connection: str, flow: str) -> FlowActivity:
        return rows.setdefault((connection, flow), FlowActivity(connection=connection, flow=flow))

    day_ago = now - timedelta(days=1)
    recent = await tx.connection.execute(
        select(audit.c.connection, audit.c.flow, audit.c.action, func.count())
        .where(audit.c.ended_at >= day_ago, audit.c.dry_run.is_(False))
        .group_by(audit.c.connection, audit.c.flow, audit.c.action)
    )
    for connection, flow, action, n in recent.all():
        row(connection, flow).last_24h[action] = int(n)
    latest = await tx.connection.execute(
        select(audit.c.connection, audit.c.flow, func.max(audit.c.ended_at))
        .where(audit.c.ended_at >= now - timedelta(days=window_days))
        .group_by(audit.c.connection, audit.c.flow)
    )
    for connection, flow, last in latest.all():
        row(connection, flow).last_activity = last  # max() keeps the column's UTC type
    for cursor in await tx.cursors.all():
        r = row(cursor.connection, cursor.flow)
        r.cursor_at, r.watermark = cursor.updated_at, cursor.watermark
    open_items = await tx.connection.execute(
        select(attention.c.connection, attention.c.flow, func.count())
        .where(attention.c.state == AttentionState.OPEN.value)
        .group_by(attention.c.connection, attention.c.flow)
    )
    for connection, flow, n in open_items.all():
        row(connection, flow).attention_open = int(n)
    return sorted(rows.values(), key=lambda r: (r.connection, r.flow))


async def records_per_day(tx: Tx, now: datetime, *, days: int = 14) -> dict[date, dict[str, int]]:
    """Records moved (created, updated, adopted) per UTC day and flow, the last ``days`` days."""
    first = (now - timedelta(days=days - 1)).date()
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    day = _day(tx).label("day")
    result = await tx.connection.execute(
        select(day, audit.c.flow, func.count())
        .where(
            audit.c.ended_at >= since,
            audit.c.action.in_(MOVED),
            audit.c.dry_run.is_(False),
        )
        .group_by(day, audit.c.flow)
    )
    counts: dict[date, dict[str, int]] = {
        first + timedelta(days=i): defaultdict(int) for i in range(days)
    }
    for value, flow, n in result.all():
        key = _as_date(value)
        if key in counts:
            counts[key][flow] += int(n)
    return {key: dict(value) for key, value in counts.items()}
