"""The state store (DESIGN §3.1): cursors, links, inbox, writes, audit, attention, secrets.

Open it with :meth:`Store.open` (checks the schema first) and work inside one transaction::

    async with store.transaction() as tx:
        link = await tx.links.upsert(...)
        await tx.audit.append(entry)
        await tx.cursors.advance(connection, flow, watermark=last_seen)

Everything in the block commits together or not at all, which is how a cursor can only move once
the page's writes are durable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ml_connector.clock import Clock, SystemClock
from ml_connector.errors import StoreError
from ml_connector.store.engine import create_store_engine, redact_db_url
from ml_connector.store.migrate import check_schema
from ml_connector.store.repos.attention import AttentionRepo
from ml_connector.store.repos.audit import AuditRepo
from ml_connector.store.repos.cursors import CursorRepo
from ml_connector.store.repos.inbox import InboxRepo
from ml_connector.store.repos.leases import LeaseRepo
from ml_connector.store.repos.links import LinkRepo
from ml_connector.store.repos.matches import MatchRepo
from ml_connector.store.repos.secrets import SecretRepo
from ml_connector.store.repos.writes import WriteRepo


class Tx:
    """One open transaction and the repositories bound to it."""

    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self.connection = conn
        self.cursors = CursorRepo(conn, clock)
        self.links = LinkRepo(conn, clock)
        self.inbox = InboxRepo(conn, clock)
        self.writes = WriteRepo(conn, clock)
        self.audit = AuditRepo(conn, clock)
        self.attention = AttentionRepo(conn, clock)
        self.secrets = SecretRepo(conn, clock)
        self.leases = LeaseRepo(conn, clock)
        self.matches = MatchRepo(conn, clock)


class Store:
    def __init__(self, engine: AsyncEngine, *, url: str, clock: Clock | None = None) -> None:
        self.engine = engine
        self.url = url
        self.clock: Clock = clock or SystemClock()

    @classmethod
    def open(cls, url: str, *, clock: Clock | None = None, check: bool = True) -> Store:
        """Open the store at ``url``; with ``check`` refuse a schema that is not the code's."""
        if check:
            check_schema(url)
        return cls(create_store_engine(url), url=url, clock=clock)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        try:
            async with self.engine.begin() as conn:
                yield Tx(conn, self.clock)
        except OperationalError as exc:
            if "database is locked" in str(exc) or "could not connect" in str(exc):
                raise StoreError(
                    f"the store at {redact_db_url(self.url)} is unavailable: {exc.orig}"
                ) from exc
            raise
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise StoreError(
                    f"lost the connection to the store at {redact_db_url(self.url)}"
                ) from exc
            raise

    async def close(self) -> None:
        await self.engine.dispose()


__all__ = ["Store", "Tx"]
