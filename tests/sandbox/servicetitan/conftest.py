"""Fixtures for the ServiceTitan simulator tests: a seeded state on the fake clock, the app, and an
httpx client speaking to it in-process (no sockets, no sleeps)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from st_helpers import ST, TOKEN_FORM

from ml_connector.clock import FakeClock
from ml_connector.sandbox import credentials
from ml_connector.sandbox.servicetitan import STSimConfig, STState, create_app, seed_minimal


@pytest.fixture
def st_config() -> STSimConfig:
    """Override in a test module to change knobs; the limiter is out of the way by default."""
    return STSimConfig(requests_per_second=100_000)


@pytest.fixture
async def st(clock: FakeClock, st_config: STSimConfig) -> AsyncIterator[ST]:
    state = STState(clock=clock)
    seed = seed_minimal(state)
    app = create_app(state, clock=clock, config=st_config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://st.test") as client:
        token = await client.post("/connect/token", data=TOKEN_FORM)
        assert token.status_code == 200, token.text
        headers = {
            "Authorization": token.json()["access_token"],
            "ST-App-Key": credentials.SERVICETITAN_APP_KEY,
        }
        yield ST(state, seed, clock, app, client, headers)
