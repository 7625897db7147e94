"""The SQLite engine's aiosqlite adapter (issue 9): one trip to the driver's thread per
statement, and no rollback sent when nothing ran since the last commit or rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text

from ml_connector.clock import FakeClock
from ml_connector.store import Store
from ml_connector.store.migrate import upgrade
from ml_connector.store.sqlite_driver import OneHopDbapi


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls made on aiosqlite's worker thread, by name."""
    made: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kw: Any) -> Any:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kw)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


async def test_one_trip_per_statement_and_no_idle_rollback(
    tmp_path: Path, clock: FakeClock, trips: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'trips.db'}"
    upgrade(url)
    store = Store.open(url, clock=clock)
    try:
        assert isinstance(store.engine.dialect.dbapi, OneHopDbapi)
        async with store.transaction() as tx:  # the pool's first connection: set-up trips
            await tx.connection.execute(text("SELECT 1"))
        trips.clear()
        async with store.transaction() as tx:
            assert await tx.links.get("default", "supplier", "1") is None
            assert (await tx.connection.execute(text("SELECT 2"))).scalar_one() == 2
        # BEGIN IMMEDIATE, two statements, COMMIT; the pool's reset-on-return sends nothing
        assert trips == ["_execute", "_execute", "_execute", "commit"]
        trips.clear()
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                await tx.connection.execute(text("SELECT 3"))
                raise RuntimeError("the block fails")
        assert trips == ["_execute", "_execute", "rollback"]  # a real rollback, once
    finally:
        await store.close()
