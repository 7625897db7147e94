"""Fixtures for the matching tests (helpers in ``match_kit``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from match_kit import Tenant, connection_settings

from ml_connector.clock import FakeClock
from ml_connector.http import SECRETS
from ml_connector.sandbox.server import build_sandbox
from ml_connector.store import Store


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    SECRETS.clear()


@pytest.fixture
async def tenant(clock: FakeClock, store: Store) -> AsyncIterator[Tenant]:
    """The existing-tenant sandbox over a migrated store (SQLite, and PostgreSQL when set)."""
    sandbox = build_sandbox(clock=clock, existing_tenant=True)
    t = Tenant(
        sandbox=sandbox, clock=clock, store=store, settings=connection_settings(sandbox.dataset)
    )
    clock.advance(1)
    try:
        yield t
    finally:
        await t.aclose()
