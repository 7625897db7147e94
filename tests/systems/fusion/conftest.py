"""Fixtures for the Fusion client tests (the helpers live in ``fusion_client_kit``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from fusion_client_kit import Pod, build_pod

from ml_connector.clock import FakeClock
from ml_connector.http import SECRETS
from ml_connector.sandbox.fusion import FusionSimConfig


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """The redaction registry is process-wide; leave it empty for other tests."""
    yield
    SECRETS.clear()


@pytest.fixture
async def pod(clock: FakeClock) -> AsyncIterator[Pod]:
    p = build_pod(clock)
    yield p
    for client in p.clients:
        await client.aclose()


@pytest.fixture
async def make_pod(clock: FakeClock) -> AsyncIterator[Callable[..., Pod]]:
    pods: list[Pod] = []

    def make(config: FusionSimConfig | None = None, **kw: Any) -> Pod:
        p = build_pod(clock, config, **kw)
        pods.append(p)
        return p

    yield make
    for p in pods:
        for client in p.clients:
            await client.aclose()
