"""Audit: append-only, one row per record per attempt, written once when the attempt ends."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime

from sqlalchemy import Row, and_, func, select

from ml_connector.store.records import AuditEntry, AuditRecord
from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import audit
from ml_connector.store.states import AuditAction


def _record(row: Row[tuple[object, ...]]) -> AuditRecord:
    m = dict(row._mapping)
    m["action"] = AuditAction(m["action"])
    return AuditRecord(**m)


_FIELDS = tuple(f.name for f in fields(AuditEntry))
#: built once: the values travel as parameters, so SQLAlchemy neither rebuilds nor re-keys it
_APPEND = audit.insert().returning(audit.c.id)


def _values(entry: AuditEntry) -> dict[str, object]:
    values = {name: getattr(entry, name) for name in _FIELDS}
    values["action"] = entry.action.value
    return values


class AuditRepo(Repo):
    async def append(self, entry: AuditEntry) -> int:
        result = await self._conn.execute(_APPEND, _values(entry))
        return int(result.scalar_one())

    async def append_many(self, entries: list[AuditEntry]) -> None:
        if not entries:
            return
        await self._conn.execute(audit.insert(), [_values(entry) for entry in entries])

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

    async def flows_of(self, source_id: str) -> list[tuple[str, str]]:
        """The (connection, flow) pairs that have audit rows for ``source_id``, sorted: one source
        id can name records of several flows (a ServiceTitan invoice and payment share no space)."""
        stmt = (
            select(audit.c.connection, audit.c.flow)
            .where(audit.c.source_id == source_id)
            .distinct()
            .order_by(audit.c.connection, audit.c.flow)
        )
        return [(str(r.connection), str(r.flow)) for r in (await self._conn.execute(stmt)).all()]

    async def latest_per_record(
        self,
        *,
        since: datetime,
        actions: Iterable[AuditAction],
        connection: str | None = None,
        flow: str | None = None,
    ) -> list[AuditRecord]:
        """For every record with a row of one of ``actions`` that ended at or after ``since``, the
        record's latest row (highest id), oldest first. Dry-run rows are left out of both: they
        changed nothing. Replay uses it to tell records still failing from ones processed since."""
        keys = select(audit.c.connection, audit.c.flow, audit.c.source_id).where(
            audit.c.ended_at >= since,
            audit.c.action.in_([a.value for a in actions]),
            audit.c.dry_run.is_(False),
        )
        if connection is not None:
            keys = keys.where(audit.c.connection == connection)
        if flow is not None:
            keys = keys.where(audit.c.flow == flow)
        hit = keys.distinct().subquery()
        latest = (
            select(func.max(audit.c.id))
            .join(
                hit,
                and_(
                    audit.c.connection == hit.c.connection,
                    audit.c.flow == hit.c.flow,
                    audit.c.source_id == hit.c.source_id,
                ),
            )
            .where(audit.c.dry_run.is_(False))
            .group_by(audit.c.connection, audit.c.flow, audit.c.source_id)
        )
        stmt = select(audit).where(audit.c.id.in_(latest)).order_by(audit.c.id)
        return [_record(r) for r in (await self._conn.execute(stmt)).all()]
