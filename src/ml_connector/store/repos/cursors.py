"""Cursors: where each flow resumes (DESIGN §3.2 rule 1).

Advance a cursor in the same transaction as the link and audit writes of the page it covers, so a
crash can never leave the cursor ahead of the durable writes. A watermark never moves backwards
unless :meth:`CursorRepo.reset` is called (a backfill with ``--since``/``--full``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from ml_connector.clock import ensure_aware
from ml_connector.store.records import Cursor
from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import cursors


class CursorRepo(Repo):
    async def get(self, connection: str, flow: str) -> Cursor:
        row = (
            await self._conn.execute(
                select(cursors).where(cursors.c.connection == connection, cursors.c.flow == flow)
            )
        ).first()
        if row is None:
            return Cursor(connection=connection, flow=flow)
        return Cursor(
            connection=row.connection,
            flow=row.flow,
            watermark=row.watermark,
            tiebreak=row.tiebreak,
            token=row.token,
            updated_at=row.updated_at,
        )

    async def advance(
        self,
        connection: str,
        flow: str,
        *,
        watermark: datetime | None = None,
        tiebreak: str | None = None,
        token: str | None = None,
    ) -> Cursor:
        """Move the cursor forward; a watermark older than the stored one is refused."""
        if watermark is not None:
            watermark = ensure_aware(watermark)
        current = await self.get(connection, flow)
        if (
            watermark is not None
            and current.watermark is not None
            and (watermark, tiebreak or "") < (current.watermark, current.tiebreak or "")
        ):
            raise ValueError(
                f"cursor {connection}/{flow} would move backwards "
                f"({current.watermark.isoformat()} → {watermark.isoformat()}); use reset()"
            )
        return await self._write(connection, flow, watermark, tiebreak, token)

    async def reset(
        self,
        connection: str,
        flow: str,
        *,
        watermark: datetime | None = None,
        token: str | None = None,
    ) -> Cursor:
        """Set the cursor anywhere (backfills); ``None`` everywhere means start from the beginning."""
        if watermark is None and token is None:
            await self._conn.execute(
                delete(cursors).where(cursors.c.connection == connection, cursors.c.flow == flow)
            )
            return Cursor(connection=connection, flow=flow)
        return await self._write(
            connection, flow, ensure_aware(watermark) if watermark else None, None, token
        )

    async def _write(
        self,
        connection: str,
        flow: str,
        watermark: datetime | None,
        tiebreak: str | None,
        token: str | None,
    ) -> Cursor:
        now = self._clock.now()
        values = {
            "connection": connection,
            "flow": flow,
            "watermark": watermark,
            "tiebreak": tiebreak,
            "token": token,
            "updated_at": now,
        }
        stmt = self.insert_or(cursors).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[cursors.c.connection, cursors.c.flow],
            set_={k: stmt.excluded[k] for k in ("watermark", "tiebreak", "token", "updated_at")},
        )
        await self._conn.execute(stmt)
        return Cursor(
            connection=connection,
            flow=flow,
            watermark=watermark,
            tiebreak=tiebreak,
            token=token,
            updated_at=now,
        )

    async def all(self) -> list[Cursor]:
        rows = (
            await self._conn.execute(select(cursors).order_by(cursors.c.connection, cursors.c.flow))
        ).all()
        return [
            Cursor(
                connection=r.connection,
                flow=r.flow,
                watermark=r.watermark,
                tiebreak=r.tiebreak,
                token=r.token,
                updated_at=r.updated_at,
            )
            for r in rows
        ]
