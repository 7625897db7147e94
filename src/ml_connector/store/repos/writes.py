"""Writes: the outbox of intended writes, recorded before the call (DESIGN §3.2 rule 2).

A pending intent found at start-up or before a retry means "this write may have happened": the flow
looks the record up by its business key and adopts it instead of writing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Row, Select, select, update

from ml_connector.store.records import WriteIntent
from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import writes
from ml_connector.store.states import WriteState


def _intent(row: Row[tuple[object, ...]]) -> WriteIntent:
    m = dict(row._mapping)
    m["state"] = WriteState(m["state"])
    return WriteIntent(**m)


#: built once: the values travel as parameters, so SQLAlchemy neither rebuilds nor re-keys it
_RECORD = writes.insert().returning(*writes.c)


class WriteRepo(Repo):
    async def record_intent(
        self,
        *,
        connection: str,
        flow: str,
        target_system: str,
        operation: str,
        business_key: str,
        payload_hash: str,
    ) -> WriteIntent:
        now = self._clock.now()
        values = {
            "connection": connection,
            "flow": flow,
            "target_system": target_system,
            "operation": operation,
            "business_key": business_key,
            "payload_hash": payload_hash,
            "state": WriteState.PENDING.value,
            "created_at": now,
            "updated_at": now,
        }
        return _intent((await self._conn.execute(_RECORD, values)).one())

    async def get(self, intent_id: int) -> WriteIntent | None:
        row = (await self._conn.execute(select(writes).where(writes.c.id == intent_id))).first()
        return _intent(row) if row is not None else None

    async def pending(
        self, connection: str, flow: str | None = None, business_key: str | None = None
    ) -> list[WriteIntent]:
        stmt = (
            select(writes)
            .where(writes.c.connection == connection, writes.c.state == WriteState.PENDING.value)
            .order_by(writes.c.id)
        )
        if flow is not None:
            stmt = stmt.where(writes.c.flow == flow)
        if business_key is not None:
            stmt = stmt.where(writes.c.business_key == business_key)
        return [_intent(r) for r in (await self._conn.execute(stmt)).all()]

    async def pending_ending(
        self, connection: str, flow: str, operation: str, suffix: str
    ) -> list[WriteIntent]:
        """Pending ``operation`` intents of ``flow`` whose business key ends with ``suffix``
        (``%`` and ``_`` in it are not wildcards; SQLite's LIKE ignores the case of ASCII letters,
        which the numeric ids used here do not have)."""
        stmt = _pending_of(connection, flow).where(
            writes.c.operation == operation,
            writes.c.business_key.endswith(suffix, autoescape=True),
        )
        return [_intent(r) for r in (await self._conn.execute(stmt)).all()]

    async def pending_for(
        self, connection: str, flow: str, business_keys: Iterable[str]
    ) -> dict[str, list[WriteIntent]]:
        """:meth:`pending` for several business keys at once (a page's prefetch): the keys with
        pending intents, each with its intents oldest first; a key with none is absent."""
        stmt = _pending_of(connection, flow)
        found: dict[str, list[WriteIntent]] = {}
        async for row in self.rows_in(stmt, writes.c.business_key, business_keys):
            intent = _intent(row)
            found.setdefault(intent.business_key, []).append(intent)
        return found

    async def _set(self, intent_id: int, state: WriteState, **values: object) -> None:
        await self._conn.execute(
            update(writes)
            .where(writes.c.id == intent_id)
            .values(state=state.value, updated_at=self._clock.now(), **values)
        )

    async def complete(self, intent_id: int, *, target_id: str) -> None:
        await self._set(intent_id, WriteState.DONE, target_id=target_id, error=None)

    async def adopt(self, intent_id: int, *, target_id: str) -> None:
        """The record was found on the target (written before a crash or a lost response)."""
        await self._set(intent_id, WriteState.ADOPTED, target_id=target_id, error=None)

    async def fail(self, intent_id: int, *, error: str) -> None:
        await self._set(intent_id, WriteState.FAILED, error=error)


def _pending_of(connection: str, flow: str) -> Select[Any]:
    """The pending intents of one flow, oldest first (narrowed further by the caller)."""
    return (
        select(writes)
        .where(
            writes.c.connection == connection,
            writes.c.flow == flow,
            writes.c.state == WriteState.PENDING.value,
        )
        .order_by(writes.c.id)
    )
