"""Fixtures for the reconciliation tests (helpers in ``recon_kit``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from recon_kit import Rig

from ml_connector.clock import FakeClock
from ml_connector.http import SECRETS
from ml_connector.sandbox.server import build_sandbox
from ml_connector.store import Store


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    SECRETS.clear()


@pytest.fixture
async def rig(clock: FakeClock, sqlite_store: Store) -> AsyncIterator[Rig]:
    made = Rig(sandbox=build_sandbox(clock=clock), clock=clock, store=sqlite_store)
    clock.advance(1)
    try:
        yield made
    finally:
        for client in made.clients:
            await client.aclose()
