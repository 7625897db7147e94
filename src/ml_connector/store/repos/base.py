"""What every repository shares: the connection of the current transaction and the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ml_connector.clock import Clock

#: how many keys one ``IN (…)`` lookup binds at most (SQLite allows 32,766 variables)
CHUNK = 500


class Repo:
    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    @property
    def dialect(self) -> str:
        return self._conn.dialect.name

    async def rows_in(
        self, stmt: Select[Any], column: ColumnElement[Any], keys: Iterable[str]
    ) -> AsyncIterator[Row[Any]]:
        """The rows of ``stmt`` whose ``column`` is one of ``keys``, ``CHUNK`` keys per query
        (a page's batched reads)."""
        wanted = sorted(set(keys))
        for start in range(0, len(wanted), CHUNK):
            for row in await self._conn.execute(
                stmt.where(column.in_(wanted[start : start + CHUNK]))
            ):
                yield row

    def insert_or(self, table: Table) -> Any:
        """``INSERT … ON CONFLICT`` for the current backend (both speak it)."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
