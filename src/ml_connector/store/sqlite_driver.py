"""aiosqlite for the async engine, one thread hop per statement instead of four (issue 9, B4).

SQLAlchemy's aiosqlite adapter makes four calls to aiosqlite's worker thread per statement:
open a cursor, execute, fetch all rows, close the cursor. Each call is a queue put, a thread
wake-up and a wake-up of the event loop, about 50-80 µs of CPU on this project's hosts, which
made these hops most of a synced record's store cost. Here the cursor runs the four steps as one
function on the worker thread and keeps the rows, description, row count and last row id it
returns. Transactions, isolation and error translation are SQLAlchemy's and aiosqlite's, as
before; only the number of trips changes (and a rollback that has nothing to undo is not sent).

It reaches into two of aiosqlite's internals, as SQLAlchemy's own adapter does for its isolation
level setter: ``Connection._execute(fn, …)`` (run ``fn`` on the worker thread) and
``Connection._conn`` (the ``sqlite3.Connection``, only ever used on that thread); both are in
aiosqlite 0.17 to 0.22. If a later aiosqlite drops them, :func:`dbapi` returns None and the engine
uses SQLAlchemy's adapter unchanged. ``tests/store`` run every statement through this one.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

_Outcome = tuple[Any, int, int | None, list[Any]]


def _execute(conn: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome:
    """On the worker thread: the whole statement, cursor opened and closed."""
    cursor = conn.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def _executemany(conn: sqlite3.Connection, operation: str, seq: Sequence[Any]) -> _Outcome:
    cursor = conn.cursor()
    try:
        cursor.executemany(operation, seq)
        return cursor.description, cursor.rowcount, cursor.lastrowid, []
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered DBAPI cursor whose ``execute`` is one trip to aiosqlite's thread."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")
    #: the driver-side cursor is closed by the trip itself
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # no driver cursor is kept open
        self._rows = collections.deque()
        self._soft_closed_memoized = EMPTY_DICT
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _trip(self, fn: Any, operation: str, parameters: Any) -> None:
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._adapt_connection._execute_mutex:
            outcome: _Outcome = await driver._execute(  # type: ignore[no-untyped-call]
                fn, driver._conn, operation, parameters
            )
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._trip(_execute, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._trip(_executemany, operation, seq_of_parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """Also skips the pool's rollback-on-return when nothing ran since the last commit or
    rollback (every ``engine.begin()`` block ends in one, then is returned to the pool): that
    rollback is a no-op, yet a trip. Any cursor opened since makes it a real rollback again."""

    __slots__ = ("_used",)
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._used = True  # state unknown: the first rollback is a real one

    def cursor(self, server_side: bool = False) -> Any:
        self._used = True
        return super().cursor(server_side)

    def commit(self) -> None:
        super().commit()
        self._used = False

    def rollback(self) -> None:
        if self._used:
            super().rollback()
        self._used = False


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    """Pass as ``module=`` to ``create_async_engine`` for a ``sqlite+aiosqlite`` URL."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def dbapi() -> OneHopDbapi | None:
    """The adapter for ``create_async_engine(module=…)``; None if aiosqlite lacks what it uses."""
    if not all(hasattr(aiosqlite.Connection, name) for name in ("_execute", "_conn")):
        return None
    return OneHopDbapi(aiosqlite, sqlite3)
