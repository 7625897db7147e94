"""Fixtures for contract tests: a seeded simulator with faults off and the limiter out of the way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ml_connector.clock import FakeClock
from ml_connector.sandbox import credentials
from ml_connector.sandbox.servicetitan import (
    MinimalSeed,
    STSimConfig,
    STState,
    create_app,
    seed_minimal,
)

from .specs import NAMESPACES, load_spec


@dataclass
class SimClient:
    client: httpx.AsyncClient
    state: STState
    seed: MinimalSeed
    headers: dict[str, str]
    tenant: int

    def url(self, namespace: str, template: str, **ids: int) -> str:
        path = template.format(**ids)
        return f"/{namespace}/v2/tenant/{self.tenant}{path}"


@pytest.fixture
def specs(shared_dir: Path) -> dict[str, dict[str, Any]]:
    return {ns: load_spec(shared_dir, ns) for ns in NAMESPACES}


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[SimClient]:
    state = STState(clock=clock)
    seed = seed_minimal(state)
    app = create_app(state, clock=clock, config=STSimConfig(requests_per_second=100_000))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://st.test") as client:
        token = await client.post(
            "/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": credentials.SERVICETITAN_CLIENT_ID,
                "client_secret": credentials.SERVICETITAN_CLIENT_SECRET,
            },
        )
        token.raise_for_status()
        headers = {
            "Authorization": f"Bearer {token.json()['access_token']}",
            "ST-App-Key": credentials.SERVICETITAN_APP_KEY,
        }
        yield SimClient(client, state, seed, headers, credentials.SERVICETITAN_TENANT_ID)
