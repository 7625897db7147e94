"""Webhook endpoint limits (issue 8): a per-client rate limit and a body-size cap.

Both answer before the body is trusted or stored: 429 with ``Retry-After`` / 413, nothing in the
inbox. The bucket refills on the injected clock, per connection and client address.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "badinput"))

from hook_kit import URL, event, hook_client, inbox_rows, signed
from ml_connector.clock import FakeClock
from ml_connector.settings import WebhookSettings
from ml_connector.store import Store


def test_defaults_are_generous() -> None:
    settings = WebhookSettings()
    assert settings.rate_limit_per_second == 50
    assert settings.rate_limit_burst == 200


async def test_past_the_burst_a_client_gets_429_with_retry_after_and_nothing_is_stored(
    sqlite_store: Store, clock: FakeClock
) -> None:
    async with hook_client(
        sqlite_store, clock, rate_limit_per_second=2, rate_limit_burst=3
    ) as client:
        answers = []
        for i in range(5):
            body = event(f"e-{i}")
            answers.append(await client.post(URL, content=body, headers=signed(body)))
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert answers[3].json()["error"] == "rate limit exceeded"
        assert answers[3].headers["Retry-After"] == "1"
        assert len(await inbox_rows(sqlite_store)) == 3
        clock.advance(1)  # two more tokens at 2/s
        later = []
        for i in range(5, 8):
            body = event(f"e-{i}")
            later.append((await client.post(URL, content=body, headers=signed(body))).status_code)
    assert later == [200, 200, 429]
    assert [r.event_key for r in await inbox_rows(sqlite_store)] == [
        f"id:e-{i}" for i in (0, 1, 2, 5, 6)
    ]


async def test_the_limit_is_per_client_address(sqlite_store: Store, clock: FakeClock) -> None:
    limits = {"rate_limit_per_second": 1, "rate_limit_burst": 1}
    async with (
        hook_client(sqlite_store, clock, client=("10.0.0.1", 1), **limits) as one,
        hook_client(sqlite_store, clock, client=("10.0.0.2", 1), **limits) as two,
    ):
        a, b = event("a"), event("b")
        assert (await one.post(URL, content=a, headers=signed(a))).status_code == 200
        assert (await one.post(URL, content=b, headers=signed(b))).status_code == 429
        assert (await two.post(URL, content=b, headers=signed(b))).status_code == 200


async def test_a_slow_refill_says_how_long_to_wait(sqlite_store: Store, clock: FakeClock) -> None:
    async with hook_client(
        sqlite_store, clock, rate_limit_per_second=0.1, rate_limit_burst=1
    ) as client:
        a, b = event("a"), event("b")
        assert (await client.post(URL, content=a, headers=signed(a))).status_code == 200
        refused = await client.post(URL, content=b, headers=signed(b))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "10"


async def test_body_size_cap(sqlite_store: Store, clock: FakeClock) -> None:
    fits = event("fits") + b" " * (2048 - len(event("fits")))
    over = fits + b" "
    async with hook_client(sqlite_store, clock, max_body_bytes=2048) as client:
        ok = await client.post(URL, content=fits, headers=signed(fits))
        too_big = await client.post(URL, content=over, headers=signed(over))
    assert ok.status_code == 200
    assert (too_big.status_code, too_big.json()["error"]) == (413, "body too large")
    assert [r.event_key for r in await inbox_rows(sqlite_store)] == ["id:fits"]
