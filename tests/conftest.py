from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ml_connector.clock import FakeClock
from ml_connector.store import Store
from ml_connector.store.migrate import upgrade

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shared_dir() -> Path:
    """``../shared`` beside the checkout; skipped with a reason when absent (failed under CI)."""
    if not SHARED.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"../shared is required under CI and is missing at {SHARED}")
        pytest.skip(f"../shared not found at {SHARED}")
    return SHARED


POSTGRES_ENV = "ML_CONNECTOR_TEST_POSTGRES_URL"


def _fresh_postgres(what: str) -> Iterator[str]:
    """An empty PostgreSQL database with a random name, dropped (FORCE) after; skipped when
    ML_CONNECTOR_TEST_POSTGRES_URL is unset, failed under CI."""
    if not os.environ.get(POSTGRES_ENV):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_ENV} must be set under CI: {what} cannot be skipped")
        pytest.skip(f"{POSTGRES_ENV} not set; {what} skipped")
    admin_url = make_url(os.environ[POSTGRES_ENV]).set(drivername="postgresql+psycopg")
    name = f"mlc_test_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a PostgreSQL database with a random name, dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    yield from _fresh_postgres("PostgreSQL store tests")


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty PostgreSQL database for tests that need PostgreSQL only (several processes, the
    distributed runner)."""
    yield from _fresh_postgres(request.node.name)


@pytest.fixture
def migrated_url(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
async def store(migrated_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    opened = Store.open(migrated_url, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    """A migrated SQLite store, for tests whose subject is not the store itself."""
    url = f"sqlite:///{tmp_path / 'sqlite-store.db'}"
    upgrade(url)
    opened = Store.open(url, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
