"""Engines for the state store: one URL, an async engine for the code, a sync one for Alembic.

SQLite (the embedded default) runs in WAL mode with a busy timeout, and every transaction starts
with ``BEGIN IMMEDIATE``: a writer takes the write lock up front instead of upgrading a read lock
later, which is what lets several processes claim inbox items safely (DESIGN §5). The async engine
runs each statement in one trip to aiosqlite's thread (:mod:`.sqlite_driver`). PostgreSQL uses
psycopg 3 for both engines.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ml_connector.errors import StoreError
from ml_connector.store import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 30_000


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"database_url {redact_db_url(url)!r} is not a database URL "
            "(use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db)"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"database_url uses {backend!r}; ml-connector supports sqlite and postgresql"
        )
    return parsed


def redact_db_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def sync_url(url: str) -> URL:
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite")
    return parsed.set(drivername="postgresql+psycopg")


def async_url(url: str) -> URL:
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    return parsed.set(drivername="postgresql+psycopg")


def is_sqlite(url: str) -> bool:
    return parse_url(url).get_backend_name() == "sqlite"


def _sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sync_engine(url: str) -> Engine:
    target = sync_url(url)
    if target.get_backend_name() == "sqlite":
        engine = create_engine(target, poolclass=NullPool)
        _sqlite_hooks(engine)
        return engine
    return create_engine(target, pool_pre_ping=True)


def create_store_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        one_hop = sqlite_driver.dbapi()
        engine = create_async_engine(target, **({"module": one_hop} if one_hop else {}))
        _sqlite_hooks(engine.sync_engine)
        return engine
    return create_async_engine(
        target, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )
