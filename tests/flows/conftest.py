"""Fixtures for the flow tests (helpers in ``flow_kit``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from flow_kit import Harness, connection_settings
from ml_connector.clock import FakeClock
from ml_connector.http import SECRETS
from ml_connector.sandbox.server import build_sandbox
from ml_connector.store import Store


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    SECRETS.clear()


async def _harness(clock: FakeClock, store: Store, **kw: Any) -> AsyncIterator[Harness]:
    sandbox = build_sandbox(clock=clock, **kw)
    harness = Harness(
        sandbox=sandbox, clock=clock, store=store, settings=connection_settings(sandbox.dataset)
    )
    harness.later(1)
    try:
        yield harness
    finally:
        await harness.aclose()


@pytest.fixture
async def h(clock: FakeClock, sqlite_store: Store) -> AsyncIterator[Harness]:
    async for harness in _harness(clock, sqlite_store):
        yield harness


@pytest.fixture
async def h_any_store(clock: FakeClock, store: Store) -> AsyncIterator[Harness]:
    """The same on SQLite and (when configured) PostgreSQL."""
    async for harness in _harness(clock, store):
        yield harness
