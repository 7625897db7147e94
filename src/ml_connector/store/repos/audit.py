"""Audit: append-only, one row per record per attempt, written once when the attempt ends."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Row, select

from ml_connector.store.records import AuditEntry, AuditRecord
from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import audit
from ml_connector.store.states import AuditAction


def _record(row: Row[tuple[object, ...]]) -> AuditRecord:
    m = dict(row._mapping)
    m["action"] = AuditAction(m["action"])
    return AuditRecord(**m)


class AuditRepo(Repo):
    async def append(self, entry: AuditEntry) -> int:
        values = asdict(entry)
        values["action"] = entry.action.value
        result = await self._conn.execute(audit.insert().values(**values).returning(audit.c.id))
        return int(result.scalar_one())

    async def append_many(self, entries: list[AuditEntry]) -> None:
        if not entries:
            return
        rows = []
        for entry in entries:
            values = asdict(entry)
            values["action"] = entry.action.value
            rows.append(values)
        await self._conn.execute(audit.insert(), rows)

    async def get(self, audit_id: int) -> AuditRecord | None:
        row = (await self._conn.execute(select(audit).where(audit.c.id == audit_id))).first()
        return _record(row) if row is not None else None

    async def search(
        self,
        *,
        connection: str | None = None,
        flow: str | None = None,
        source_id: str | None = None,
        target_id: str | None = None,
        action: AuditAction | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Newest first. ``since`` is inclusive and ``until`` exclusive, on ``ended_at``."""
        stmt = select(audit).order_by(audit.c.ended_at.desc(), audit.c.id.desc()).limit(limit)
        if connection is not None:
            stmt = stmt.where(audit.c.connection == connection)
        if flow is not None:
            stmt = stmt.where(audit.c.flow == flow)
        if source_id is not None:
            stmt = stmt.where(audit.c.source_id == source_id)
        if target_id is not None:
            stmt = stmt.where(audit.c.target_id == target_id)
        if action is not None:
            stmt = stmt.where(audit.c.action == action.value)
        if since is not None:
            stmt = stmt.where(audit.c.ended_at >= since)
        if until is not None:
            stmt = stmt.where(audit.c.ended_at < until)
        return [_record(r) for r in (await self._conn.execute(stmt)).all()]

    async def history(self, connection: str, flow: str, source_id: str) -> list[AuditRecord]:
        """Every attempt for one source record, oldest first."""
        stmt = (
            select(audit)
            .where(
                audit.c.connection == connection,
                audit.c.flow == flow,
                audit.c.source_id == source_id,
            )
            .order_by(audit.c.started_at, audit.c.id)
        )
        return [_record(r) for r in (await self._conn.execute(stmt)).all()]
