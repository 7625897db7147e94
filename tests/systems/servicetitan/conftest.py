"""Fixtures for the STClient tests (the helpers live in ``st_client_kit``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from st_client_kit import Sandbox, build_sandbox

from ml_connector.clock import FakeClock
from ml_connector.http import SECRETS


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """The redaction registry is process-wide; leave it empty for other tests."""
    yield
    SECRETS.clear()


@pytest.fixture
async def box(clock: FakeClock) -> AsyncIterator[Sandbox]:
    sandbox = build_sandbox(clock)
    yield sandbox
    await sandbox.close()


@pytest.fixture
async def make_box(clock: FakeClock) -> AsyncIterator[Callable[..., Sandbox]]:
    boxes: list[Sandbox] = []

    def make(*args: Any, **kw: Any) -> Sandbox:
        sandbox = build_sandbox(clock, *args, **kw)
        boxes.append(sandbox)
        return sandbox

    yield make
    for sandbox in boxes:
        await sandbox.close()
