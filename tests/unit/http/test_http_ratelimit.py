"""Client-side rate limits on fake time (DESIGN §3.2 rule 6, §4; servicetitan-api.md §9)."""

from __future__ import annotations

import asyncio
from bisect import bisect_left

import httpx
import pytest
from http_fakes import ScriptedServer
from starlette.types import Receive, Scope, Send

from ml_connector.clock import FakeClock
from ml_connector.http import (
    ConcurrencyCap,
    ConcurrencyRegistry,
    RateLimiterRegistry,
    ThrottledTransport,
    TokenBucket,
    create_client,
)


def max_in_window(times: list[float], window: float) -> int:
    """The most events in any half-open window [t, t + window) starting at an event."""
    ordered = sorted(times)
    return max(bisect_left(ordered, t + window - 1e-9) - i for i, t in enumerate(ordered))


async def test_bucket_holds_50_per_second_over_fake_time(clock: FakeClock) -> None:
    bucket = TokenBucket(rate=50, burst=10, clock=clock)
    times: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            await bucket.acquire()
            times.append(clock.monotonic())

    start = clock.monotonic()
    await asyncio.gather(*(worker(100) for _ in range(5)))  # 500 acquisitions, 5 at a time
    elapsed = clock.monotonic() - start
    assert len(times) == 500
    # 10 at once, then 50/s: the 490 others need 9.8 s of fake time
    assert elapsed == pytest.approx(9.8, abs=1e-6)
    assert max_in_window(times, 1.0) <= 50 + 10
    steady = [t for t in times if t - start >= 1.0]
    assert max_in_window(steady, 1.0) <= 50


async def test_bucket_refills_while_idle(clock: FakeClock) -> None:
    bucket = TokenBucket(rate=5, burst=5, clock=clock)
    for _ in range(5):
        await bucket.acquire()
    assert clock.slept == []
    clock.advance(1.0)
    for _ in range(5):
        await bucket.acquire()
    assert clock.slept == []  # a full second refilled the whole burst
    await bucket.acquire()
    assert clock.slept == [pytest.approx(0.2)]


def test_bucket_rejects_bad_settings(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0, clock=clock)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(rate=1, burst=0, clock=clock)


def test_registry_shares_one_bucket_per_key(clock: FakeClock) -> None:
    registry = RateLimiterRegistry(clock=clock)
    one = registry.get(("ak1.app", 1234567))
    assert registry.get(("ak1.app", 1234567)) is one
    assert registry.get(("ak1.app", 7654321)) is not one
    assert one.rate == 50  # the default per app + tenant
    assert registry.get("bench", rate=60).rate == 60


async def test_concurrency_cap_holds(clock: FakeClock) -> None:
    cap = ConcurrencyRegistry().get("pod-1.fa.us2.oraclecloud.com")
    assert cap.limit == 4
    release = asyncio.Event()
    started = 0

    async def job() -> None:
        nonlocal started
        async with cap:
            started += 1
            await release.wait()

    tasks = [asyncio.create_task(job()) for _ in range(10)]
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == 4
    assert cap.in_flight == 4
    release.set()
    await asyncio.gather(*tasks)
    assert started == 10
    assert cap.peak == 4
    assert cap.in_flight == 0


async def test_throttled_transport_caps_requests_in_flight(clock: FakeClock) -> None:
    """Requests through the client itself never exceed the pod's cap (the server counts)."""
    in_server = 0
    peak = 0
    server = ScriptedServer()
    inner_app = server.app()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal in_server, peak
        in_server += 1
        peak = max(peak, in_server)
        for _ in range(3):
            await asyncio.sleep(0)  # let other requests try to get in
        await inner_app(scope, receive, send)
        in_server -= 1

    cap = ConcurrencyCap(3)
    bucket = TokenBucket(rate=50, burst=50, clock=clock)
    transport = ThrottledTransport(httpx.ASGITransport(app=app), bucket=bucket, cap=cap)
    async with create_client(base_url="https://pod.test", transport=transport) as client:
        responses = await asyncio.gather(*(client.get(f"/r/{i}") for i in range(12)))
    assert {r.status_code for r in responses} == {200}
    assert [r.json() for r in responses] == [{"ok": True}] * 12
    assert peak == 3
    assert cap.peak == 3
    assert bucket.acquired == 12
