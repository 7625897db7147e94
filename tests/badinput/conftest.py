"""Fixtures for the bad-input tests: the flow harness of ``tests/flows`` (a seeded sandbox on the
FakeClock and clients built as production builds them), reused rather than copied."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "flows"))

from flow_kit import Harness, connection_settings
from ml_connector.clock import FakeClock
from ml_connector.http import SECRETS
from ml_connector.sandbox.server import build_sandbox
from ml_connector.store import Store


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    yield
    SECRETS.clear()


@pytest.fixture
async def h(clock: FakeClock, sqlite_store: Store) -> AsyncIterator[Harness]:
    sandbox = build_sandbox(clock=clock, scale=0.2)
    harness = Harness(
        sandbox=sandbox,
        clock=clock,
        store=sqlite_store,
        settings=connection_settings(sandbox.dataset),
    )
    harness.later(1)
    try:
        yield harness
    finally:
        for client in harness.clients:
            await client.aclose()
