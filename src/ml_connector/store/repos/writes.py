"""Writes: the outbox of intended writes, recorded before the call (DESIGN §3.2 rule 2).

A pending intent found at start-up or before a retry means "this write may have happened": the flow
looks the record up by its business key and adopts it instead of writing twice.
"""

from __future__ import annotations

from sqlalchemy import Row, select, update

from ml_connector.store.records import WriteIntent
from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import writes
from ml_connector.store.states import WriteState


def _intent(row: Row[tuple[object, ...]]) -> WriteIntent:
    m = dict(row._mapping)
    m["state"] = WriteState(m["state"])
    return WriteIntent(**m)


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
        result = await self._conn.execute(
            writes.insert()
            .values(
                connection=connection,
                flow=flow,
                target_system=target_system,
                operation=operation,
                business_key=business_key,
                payload_hash=payload_hash,
                state=WriteState.PENDING.value,
                created_at=now,
                updated_at=now,
            )
            .returning(writes.c.id)
        )
        intent = await self.get(int(result.scalar_one()))
        assert intent is not None
        return intent

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
