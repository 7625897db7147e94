"""What every repository shares: the connection of the current transaction and the clock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
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

    def insert_or(self, table: Table) -> Any:
        """``INSERT … ON CONFLICT`` for the current backend (both speak it)."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
