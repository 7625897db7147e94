"""Links: the id map across systems, with the hash of the last version written.

A record whose mapped payload hashes to the stored ``version_hash`` is skipped as unchanged, which
also stops our own writes from echoing back as new changes.
"""

from __future__ import annotations

from sqlalchemy import Row, func, select

from ml_connector.store.records import Link
from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import links


def _link(row: Row[tuple[object, ...]]) -> Link:
    m = row._mapping
    return Link(
        connection=m["connection"],
        entity=m["entity"],
        source_system=m["source_system"],
        source_id=m["source_id"],
        target_system=m["target_system"],
        target_id=m["target_id"],
        version_hash=m["version_hash"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


class LinkRepo(Repo):
    async def get(self, connection: str, entity: str, source_id: str) -> Link | None:
        row = (
            await self._conn.execute(
                select(links).where(
                    links.c.connection == connection,
                    links.c.entity == entity,
                    links.c.source_id == source_id,
                )
            )
        ).first()
        return _link(row) if row is not None else None

    async def by_target(self, connection: str, entity: str, target_id: str) -> list[Link]:
        rows = (
            await self._conn.execute(
                select(links).where(
                    links.c.connection == connection,
                    links.c.entity == entity,
                    links.c.target_id == target_id,
                )
            )
        ).all()
        return [_link(r) for r in rows]

    async def upsert(
        self,
        *,
        connection: str,
        entity: str,
        source_system: str,
        source_id: str,
        target_system: str,
        target_id: str,
        version_hash: str | None,
    ) -> Link:
        now = self._clock.now()
        stmt = self.insert_or(links).values(
            connection=connection,
            entity=entity,
            source_system=source_system,
            source_id=source_id,
            target_system=target_system,
            target_id=target_id,
            version_hash=version_hash,
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[links.c.connection, links.c.entity, links.c.source_id],
            set_={
                "target_system": stmt.excluded.target_system,
                "target_id": stmt.excluded.target_id,
                "version_hash": stmt.excluded.version_hash,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        await self._conn.execute(stmt)
        link = await self.get(connection, entity, source_id)
        assert link is not None
        return link

    async def count(self, connection: str, entity: str | None = None) -> int:
        stmt = select(func.count()).select_from(links).where(links.c.connection == connection)
        if entity is not None:
            stmt = stmt.where(links.c.entity == entity)
        return int((await self._conn.execute(stmt)).scalar_one())
