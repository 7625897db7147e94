"""Attention: records that need a person, with a reason and a suggested fix.

There is at most one open item per (connection, flow, source id): a record that fails again bumps
``occurrences`` and refreshes the reason instead of piling up duplicates.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, func, select, update

from ml_connector.store.records import AttentionItem
from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import attention
from ml_connector.store.states import AttentionState

_ACTIVE = (AttentionState.OPEN.value, AttentionState.REPLAYED.value)
#: built once: every successful write asks it
_FIND_ACTIVE = select(attention).where(
    attention.c.connection == bindparam("connection"),
    attention.c.flow == bindparam("flow"),
    attention.c.source_id == bindparam("source_id"),
    attention.c.state.in_(_ACTIVE),
)


def _item(row: Row[tuple[object, ...]]) -> AttentionItem:
    m = dict(row._mapping)
    m["state"] = AttentionState(m["state"])
    return AttentionItem(**m)


class AttentionRepo(Repo):
    async def open(
        self,
        *,
        connection: str,
        flow: str,
        source_system: str,
        source_id: str,
        reason: str,
        message: str,
        suggestion: str = "",
        source_record: Any = None,
        decisions: Any = None,
    ) -> AttentionItem:
        now = self._clock.now()
        existing = (
            await self._conn.execute(
                select(attention.c.id).where(
                    attention.c.connection == connection,
                    attention.c.flow == flow,
                    attention.c.source_id == source_id,
                    attention.c.state.in_(_ACTIVE),
                )
            )
        ).first()
        values = {
            "reason": reason,
            "message": message,
            "suggestion": suggestion,
            "source_record": source_record,
            "decisions": decisions,
            "state": AttentionState.OPEN.value,
            "updated_at": now,
        }
        if existing is not None:
            await self._conn.execute(
                update(attention)
                .where(attention.c.id == existing.id)
                .values(occurrences=attention.c.occurrences + 1, **values)
            )
            item_id = int(existing.id)
        else:
            result = await self._conn.execute(
                attention.insert()
                .values(
                    connection=connection,
                    flow=flow,
                    source_system=source_system,
                    source_id=source_id,
                    occurrences=1,
                    created_at=now,
                    **values,
                )
                .returning(attention.c.id)
            )
            item_id = int(result.scalar_one())
        item = await self.get(item_id)
        assert item is not None
        return item

    async def get(self, item_id: int) -> AttentionItem | None:
        row = (await self._conn.execute(select(attention).where(attention.c.id == item_id))).first()
        return _item(row) if row is not None else None

    async def find_active(self, connection: str, flow: str, source_id: str) -> AttentionItem | None:
        params = {"connection": connection, "flow": flow, "source_id": source_id}
        row = (await self._conn.execute(_FIND_ACTIVE, params)).first()
        return _item(row) if row is not None else None

    async def list(
        self,
        *,
        connection: str | None = None,
        flow: str | None = None,
        state: AttentionState | None = AttentionState.OPEN,
        reason: str | None = None,
        limit: int = 200,
    ) -> list[AttentionItem]:
        stmt = (
            select(attention)
            .order_by(attention.c.updated_at.desc(), attention.c.id.desc())
            .limit(limit)
        )
        if connection is not None:
            stmt = stmt.where(attention.c.connection == connection)
        if flow is not None:
            stmt = stmt.where(attention.c.flow == flow)
        if state is not None:
            stmt = stmt.where(attention.c.state == state.value)
        if reason is not None:
            stmt = stmt.where(attention.c.reason == reason)
        return [_item(r) for r in (await self._conn.execute(stmt)).all()]

    async def _move(
        self, item_id: int, to: AttentionState, allowed_from: tuple[str, ...], **values: Any
    ) -> AttentionItem:
        item = await self.get(item_id)
        if item is None:
            raise LookupError(f"attention item {item_id} does not exist")
        if item.state.value not in allowed_from:
            raise ValueError(
                f"attention item {item_id} is {item.state.value}, cannot become {to.value}"
            )
        await self._conn.execute(
            update(attention)
            .where(attention.c.id == item_id)
            .values(state=to.value, updated_at=self._clock.now(), **values)
        )
        moved = await self.get(item_id)
        assert moved is not None
        return moved

    async def mark_replayed(self, item_id: int, *, by: str) -> AttentionItem:
        """A person asked for a replay; the flow resolves it on success or reopens it on failure."""
        return await self._move(
            item_id, AttentionState.REPLAYED, (AttentionState.OPEN.value,), decided_by=by
        )

    async def resolve(self, item_id: int, *, by: str, comment: str | None = None) -> AttentionItem:
        return await self._move(
            item_id,
            AttentionState.RESOLVED,
            _ACTIVE,
            decided_by=by,
            comment=comment,
        )

    async def resolve_for(self, connection: str, flow: str, source_id: str, *, by: str) -> bool:
        """The record went through: close whatever was open for it."""
        item = await self.find_active(connection, flow, source_id)
        if item is None:
            return False
        await self.resolve(item.id, by=by, comment="processed successfully")
        return True

    async def ignore(self, item_id: int, *, by: str, comment: str) -> AttentionItem:
        if not comment.strip():
            raise ValueError("ignoring an attention item needs a comment saying why")
        return await self._move(
            item_id, AttentionState.IGNORED, _ACTIVE, decided_by=by, comment=comment
        )

    async def counts(self, connection: str | None = None) -> dict[str, int]:
        stmt = select(attention.c.state, func.count()).group_by(attention.c.state)
        if connection is not None:
            stmt = stmt.where(attention.c.connection == connection)
        return {state: int(n) for state, n in (await self._conn.execute(stmt)).all()}
