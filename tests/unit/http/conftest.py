"""Fixtures for the HTTP-layer tests; the fake servers live in ``http_fakes``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from http_fakes import TOKEN_URL, FakeServer

from ml_connector.clock import FakeClock
from ml_connector.http import SECRETS, ClientCredentials, TokenCache, TokenPolicy, create_client
from ml_connector.http.oauth import ClientAuthMethod
from ml_connector.http.retry import RetryPolicy
from ml_connector.sandbox import credentials as sandbox


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """The redaction registry is process-wide; leave it as we found it (empty)."""
    yield
    SECRETS.clear()


@pytest.fixture
def server(clock: FakeClock) -> FakeServer:
    return FakeServer(clock=clock)


@pytest.fixture
def transport(server: FakeServer) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=server.app())


@pytest.fixture
def st_credentials() -> ClientCredentials:
    return ClientCredentials(
        token_url=TOKEN_URL,
        client_id=sandbox.SERVICETITAN_CLIENT_ID,
        client_secret=sandbox.SERVICETITAN_CLIENT_SECRET,
        method=ClientAuthMethod.FORM,
    )


@pytest.fixture
async def token_http(transport: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    async with create_client(base_url="", transport=transport) as client:
        yield client


@pytest.fixture
def cache(token_http: httpx.AsyncClient, clock: FakeClock) -> TokenCache:
    policy = TokenPolicy(
        retry=RetryPolicy(max_attempts=4, max_total_seconds=60.0, base_delay=1.0, max_delay=8.0)
    )
    return TokenCache(http=token_http, clock=clock, policy=policy)
