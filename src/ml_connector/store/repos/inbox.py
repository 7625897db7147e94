"""Inbox: webhook events and polled changes waiting to be processed.

Unique on (connection, event_key), so a duplicate delivery is accepted and ignored. Workers claim
items with a lease taken from the injected clock; an expired lease makes the item claimable again,
so a crashed worker's items are picked up by another. On PostgreSQL claims use
``FOR UPDATE SKIP LOCKED``; on SQLite the whole claim runs in one ``BEGIN IMMEDIATE`` transaction
(the engine starts every transaction that way), which serialises claimers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ml_connector.clock import Clock
from ml_connector.store.records import InboxItem, NewInboxEvent
from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import inbox
from ml_connector.store.states import InboxState


def _item(row: Row[tuple[object, ...]]) -> InboxItem:
    m = row._mapping
    return InboxItem(
        id=m["id"],
        connection=m["connection"],
        origin=m["origin"],
        event_key=m["event_key"],
        event_type=m["event_type"],
        entity_type=m["entity_type"],
        entity_id=m["entity_id"],
        payload=m["payload"],
        state=InboxState(m["state"]),
        attempts=m["attempts"],
        received_at=m["received_at"],
        available_at=m["available_at"],
        claimed_by=m["claimed_by"],
        lease_until=m["lease_until"],
        last_error=m["last_error"],
        first_failed_at=m["first_failed_at"],
    )


@dataclass(frozen=True, kw_only=True)
class _Enqueue:
    """One enqueue as a statement: the rows to insert (each key once) and who gets the answers."""

    statement: Any
    rows: list[dict[str, object]]
    #: (connection, event_key) → the position of its first occurrence in the events given
    first: dict[tuple[str, str], int]
    size: int

    def results(self, returned: Iterable[Any]) -> list[bool]:
        """True at the position of each event whose row the statement inserted."""
        results = [False] * self.size
        for connection, event_key in returned:
            results[self.first[(connection, event_key)]] = True
        return results


def _enqueue(dialect: str, events: Sequence[NewInboxEvent], now: datetime) -> _Enqueue:
    first: dict[tuple[str, str], int] = {}
    rows: list[dict[str, object]] = []
    for position, event in enumerate(events):
        key = (event.connection, event.event_key)
        if key in first:
            continue
        first[key] = position
        rows.append(
            {
                "connection": event.connection,
                "origin": event.origin,
                "event_key": event.event_key,
                "event_type": event.event_type,
                "entity_type": event.entity_type,
                "entity_id": event.entity_id,
                "payload": event.payload,
                "state": InboxState.PENDING.value,
                "attempts": 0,
                "received_at": now,
                "available_at": now + timedelta(seconds=max(0.0, event.delay_seconds)),
            }
        )
    insert = postgresql.insert(inbox) if dialect == "postgresql" else sqlite.insert(inbox)
    statement = insert.on_conflict_do_nothing(
        index_elements=[inbox.c.connection, inbox.c.event_key]
    ).returning(inbox.c.connection, inbox.c.event_key)
    return _Enqueue(statement=statement, rows=rows, first=first, size=len(events))


def enqueue_in(conn: Connection, clock: Clock, events: Sequence[NewInboxEvent]) -> list[bool]:
    """:meth:`InboxRepo.enqueue` on a synchronous connection (the webhook receiver's SQLite
    writer runs a whole batch in one trip to its own thread)."""
    plan = _enqueue(conn.dialect.name, events, clock.now())
    if not plan.rows:
        return plan.results(())
    return plan.results(conn.execute(plan.statement, plan.rows).all())


class InboxRepo(Repo):
    async def enqueue(self, events: Sequence[NewInboxEvent]) -> list[bool]:
        """Store events; for each, True if new, False if it was a duplicate (already stored, or
        earlier in ``events``).

        Many events in one call share one transaction and one multi-row
        ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (a list of parameter sets with RETURNING:
        SQLAlchemy's "insertmanyvalues" writes them as one statement, paged only past the
        backend's bound-parameter limit): the group commit that keeps webhook acknowledgement
        fast at high rates. Rows are inserted in the order given.
        """
        plan = _enqueue(self.dialect, events, self._clock.now())
        if not plan.rows:
            return plan.results(())
        return plan.results((await self._conn.execute(plan.statement, plan.rows)).all())

    async def claim(
        self,
        *,
        worker: str,
        limit: int,
        lease_seconds: float,
        connection: str | None = None,
    ) -> list[InboxItem]:
        """Claim up to ``limit`` due items: pending and available, or claimed with an expired lease."""
        now = self._clock.now()
        due = or_(
            and_(inbox.c.state == InboxState.PENDING.value, inbox.c.available_at <= now),
            and_(inbox.c.state == InboxState.CLAIMED.value, inbox.c.lease_until < now),
        )
        stmt = select(inbox.c.id).where(due).order_by(inbox.c.available_at, inbox.c.id).limit(limit)
        if connection is not None:
            stmt = stmt.where(inbox.c.connection == connection)
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = [r.id for r in (await self._conn.execute(stmt)).all()]
        if not ids:
            return []
        lease_until = now + timedelta(seconds=lease_seconds)
        await self._conn.execute(
            update(inbox)
            .where(inbox.c.id.in_(ids))
            .values(
                state=InboxState.CLAIMED.value,
                claimed_by=worker,
                lease_until=lease_until,
                attempts=inbox.c.attempts + 1,
            )
        )
        rows = (
            await self._conn.execute(select(inbox).where(inbox.c.id.in_(ids)).order_by(inbox.c.id))
        ).all()
        return [_item(r) for r in rows]

    async def _finish(self, item_id: int, worker: str, **values: object) -> bool:
        result = await self._conn.execute(
            update(inbox)
            .where(
                inbox.c.id == item_id,
                inbox.c.state == InboxState.CLAIMED.value,
                inbox.c.claimed_by == worker,
            )
            .values(**values)
        )
        return bool(result.rowcount)

    async def complete(self, item_id: int, *, worker: str) -> bool:
        """Mark done; False when the lease was lost (another worker owns the item now)."""
        return await self._finish(
            item_id,
            worker,
            state=InboxState.DONE.value,
            finished_at=self._clock.now(),
            lease_until=None,
            last_error=None,
        )

    async def ignore(self, item_id: int, *, worker: str, reason: str) -> bool:
        """Unknown or irrelevant events: kept, visible, not processed."""
        return await self._finish(
            item_id,
            worker,
            state=InboxState.IGNORED.value,
            finished_at=self._clock.now(),
            lease_until=None,
            last_error=reason,
        )

    async def retry_later(
        self,
        item_id: int,
        *,
        worker: str,
        delay_seconds: float,
        error: str,
        first_failed_at: datetime | None = None,
    ) -> bool:
        """Release the item for another attempt after ``delay_seconds``; ``first_failed_at`` is
        the claimed item's (None: this is its first failure, stamped now)."""
        now = self._clock.now()
        return await self._finish(
            item_id,
            worker,
            state=InboxState.PENDING.value,
            available_at=now + timedelta(seconds=delay_seconds),
            claimed_by=None,
            lease_until=None,
            last_error=error,
            first_failed_at=first_failed_at or now,
        )

    async def fail(self, item_id: int, *, worker: str, error: str) -> bool:
        """Give up on the item (the record itself goes to attention through its flow)."""
        return await self._finish(
            item_id,
            worker,
            state=InboxState.FAILED.value,
            finished_at=self._clock.now(),
            lease_until=None,
            last_error=error,
        )

    async def release(self, item_id: int, *, worker: str) -> bool:
        """Hand an unstarted item back at once (graceful shutdown)."""
        return await self._finish(
            item_id,
            worker,
            state=InboxState.PENDING.value,
            claimed_by=None,
            lease_until=None,
            attempts=inbox.c.attempts - 1,
        )

    async def get(self, item_id: int) -> InboxItem | None:
        row = (await self._conn.execute(select(inbox).where(inbox.c.id == item_id))).first()
        return _item(row) if row is not None else None

    async def counts(self, connection: str | None = None) -> dict[str, int]:
        stmt = select(inbox.c.state, func.count()).group_by(inbox.c.state)
        if connection is not None:
            stmt = stmt.where(inbox.c.connection == connection)
        return {state: int(n) for state, n in (await self._conn.execute(stmt)).all()}

    async def list(
        self, *, state: InboxState | None = None, connection: str | None = None, limit: int = 100
    ) -> list[InboxItem]:
        stmt = select(inbox).order_by(inbox.c.id.desc()).limit(limit)
        if state is not None:
            stmt = stmt.where(inbox.c.state == state.value)
        if connection is not None:
            stmt = stmt.where(inbox.c.connection == connection)
        return [_item(r) for r in (await self._conn.execute(stmt)).all()]
