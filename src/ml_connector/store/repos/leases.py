"""Leases: at most one holder of a name (``connection/flow``) at a time, across processes.

A lease expires at a time taken from the injected clock; a holder renews it while it works and
releases it when done. A crashed holder's lease simply runs out, so another process takes over.
Acquisition is one statement: insert, or take over a row whose lease expired or that we hold —
atomic on PostgreSQL (``ON CONFLICT … WHERE``) and under SQLite's ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import leases


class LeaseRepo(Repo):
    async def acquire(self, name: str, *, holder: str, seconds: float) -> bool:
        """Take or renew the lease; False if someone else holds an unexpired one."""
        now = self._clock.now()
        expires = now + timedelta(seconds=seconds)
        stmt = self.insert_or(leases).values(
            name=name, holder=holder, expires_at=expires, acquired_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[leases.c.name],
            set_={"holder": holder, "expires_at": expires, "acquired_at": now},
            where=(leases.c.expires_at <= now) | (leases.c.holder == holder),
        )
        await self._conn.execute(stmt)
        row = (
            await self._conn.execute(select(leases.c.holder).where(leases.c.name == name))
        ).first()
        return row is not None and row.holder == holder

    async def release(self, name: str, *, holder: str) -> bool:
        result = await self._conn.execute(
            delete(leases).where(leases.c.name == name, leases.c.holder == holder)
        )
        return bool(result.rowcount)

    async def holder(self, name: str) -> str | None:
        row = (
            await self._conn.execute(
                select(leases.c.holder).where(
                    leases.c.name == name, leases.c.expires_at > self._clock.now()
                )
            )
        ).first()
        return None if row is None else str(row.holder)
