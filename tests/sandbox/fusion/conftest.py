"""Fixtures for the Fusion simulator tests: a seeded state on the FakeClock and in-process clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fusion_kit import client_for
from starlette.applications import Starlette

from ml_connector.clock import FakeClock
from ml_connector.sandbox.fusion import FusionSimConfig, FusionState, create_app, seed_minimal


@pytest.fixture
def fusion_state(clock: FakeClock) -> FusionState:
    state = FusionState(clock)
    seed_minimal(state)
    return state


@pytest.fixture
def app(fusion_state: FusionState, clock: FakeClock) -> Starlette:
    return create_app(fusion_state, clock=clock)


@pytest.fixture
async def api(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


@pytest.fixture
def make_api(fusion_state: FusionState, clock: FakeClock) -> Callable[..., httpx.AsyncClient]:
    """``make_api(config=FusionSimConfig(...), framework=1)`` → a client on a new app over the same state."""

    def make(config: FusionSimConfig | None = None, **kw: Any) -> httpx.AsyncClient:
        return client_for(create_app(fusion_state, clock=clock, config=config), **kw)

    return make
