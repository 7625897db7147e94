"""The client factory: timeouts, limits, User-Agent, injectable transport, logging hooks."""

from __future__ import annotations

import logging

import httpx
import pytest
from http_fakes import ScriptedServer
from starlette.types import Receive, Scope, Send

from ml_connector import __version__
from ml_connector.clock import FakeClock
from ml_connector.http import (
    SECRETS,
    USER_AGENT,
    HttpLimits,
    HttpTimeouts,
    create_client,
    logging_hooks,
    register_secret,
)


async def test_client_has_explicit_settings() -> None:
    timeouts = HttpTimeouts(connect=3, read=90, write=20, pool=4)
    limits = HttpLimits(max_connections=7, max_keepalive_connections=3)
    async with create_client(base_url="https://api.test", timeout=timeouts, limits=limits) as c:
        assert c.timeout == httpx.Timeout(connect=3, read=90, write=20, pool=4)
        assert c.headers["User-Agent"] == f"ml-connector/{__version__}"
        assert str(c.base_url) == "https://api.test"
        assert c.follow_redirects is False
    assert f"ml-connector/{__version__}" == USER_AGENT


def test_timeout_defaults_and_bounds() -> None:
    default = HttpTimeouts()
    assert 0 < default.read <= 100
    with pytest.raises(ValueError, match="at most 100"):
        HttpTimeouts(read=101)  # servicetitan-api.md §4: requests time out at 100 s
    with pytest.raises(ValueError, match="positive"):
        HttpTimeouts(connect=0)


async def test_injected_transport_and_user_agent_reach_the_server() -> None:
    seen: list[str] = []
    server = ScriptedServer()
    inner = server.app()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope["headers"])[b"user-agent"].decode())
        await inner(scope, receive, send)

    async with create_client(
        base_url="https://api.test", transport=httpx.ASGITransport(app=app), user_agent="ua/1"
    ) as client:
        assert (await client.get("/ping")).json() == {"ok": True}
    assert seen == ["ua/1"]
    assert server.requests == [("GET", "/ping")]


async def test_logging_hooks_log_redacted_summaries(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    register_secret("ak1.hook-app-key-0000")
    summaries: list[dict[str, str | int | float | None]] = []
    server = ScriptedServer()
    hooks = logging_hooks(clock=clock, on_response=summaries.append)
    caplog.set_level(logging.DEBUG, logger="ml_connector.http")
    async with create_client(
        base_url="https://api.test",
        transport=httpx.ASGITransport(app=server.app()),
        event_hooks=hooks,
        headers={"ST-App-Key": "ak1.hook-app-key-0000"},
    ) as client:
        await client.get("/jobs", params={"servicetitanapplicationkey": "ak1.hook-app-key-0000"})
    assert len(summaries) == 1
    summary = summaries[0]
    assert summary["status"] == 200
    assert summary["method"] == "GET"
    assert summary["elapsed_s"] == 0.0  # fake time did not move
    assert "ak1.hook-app-key-0000" not in str(summary)
    assert "ak1.hook-app-key-0000" not in caplog.text
    assert "/jobs" in caplog.text
    assert "ak1.hook-app-key-0000" in SECRETS
