"""Helpers shared by the ServiceTitan simulator tests (imported by ``conftest.py`` and the tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette

from ml_connector.clock import FakeClock
from ml_connector.sandbox import credentials
from ml_connector.sandbox.servicetitan import (
    MinimalSeed,
    STState,
)

TENANT = credentials.SERVICETITAN_TENANT_ID
TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_id": credentials.SERVICETITAN_CLIENT_ID,
    "client_secret": credentials.SERVICETITAN_CLIENT_SECRET,
}


def api(namespace: str, path: str, tenant: int = TENANT) -> str:
    return f"/{namespace}/v2/tenant/{tenant}{path}"


@dataclass
class ST:
    """A running simulator: its state, seed ids, clock, app and an authenticated client."""

    state: STState
    seed: MinimalSeed
    clock: FakeClock
    app: Starlette
    client: httpx.AsyncClient
    headers: dict[str, str]

    async def get(self, namespace: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(api(namespace, path), params=params, headers=self.headers)

    async def refresh(self) -> None:
        """A new token: tests that move the clock past 900 s need one (servicetitan-api.md §1.1)."""
        token = await self.client.post("/connect/token", data=TOKEN_FORM)
        assert token.status_code == 200, token.text
        self.headers["Authorization"] = token.json()["access_token"]

    async def send(self, method: str, namespace: str, path: str, body: Any) -> httpx.Response:
        return await self.client.request(
            method, api(namespace, path), json=body, headers=self.headers
        )
