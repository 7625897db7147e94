"""Client-side rate limits, so limits are respected rather than discovered (DESIGN §3.2 rule 6).

* :class:`TokenBucket` — ``rate`` requests per second with bursts up to ``burst``, on the injected
  Clock. ServiceTitan allows about 60 requests/s per app and tenant (servicetitan-api.md §9); the
  default here is 50. Buckets are shared per key through :class:`RateLimiterRegistry` so every
  client and flow of one (app key, tenant) draws from the same budget.
* :class:`ConcurrencyCap` — at most N requests in flight, per Fusion pod (default 4; DESIGN §4):
  Fusion publishes no quota, its limit is pod capacity.
* :class:`ThrottledTransport` — wraps any transport and applies both around every attempt, so
  retries and resends after a 401 count too.

Waiters take the bucket's lock in turn and the one at the head sleeps until its token is due.
Serialising the wait keeps the arithmetic exact under a FakeClock (whose sleeps add up) as well
as under the real clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import TracebackType

import httpx

from ml_connector.clock import Clock

DEFAULT_RATE = 50.0
DEFAULT_BURST = 10.0
DEFAULT_CONCURRENCY = 4


class TokenBucket:
    """An async token bucket: ``rate`` tokens per second, holding at most ``burst``."""

    def __init__(self, *, rate: float = DEFAULT_RATE, burst: float = DEFAULT_BURST, clock: Clock):
        if rate <= 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock.monotonic()
        self._lock = asyncio.Lock()
        self.acquired = 0
        self.waited_seconds = 0.0

    def _refill(self) -> None:
        now = self._clock.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, tokens: float = 1.0) -> None:
        """Wait until ``tokens`` are available and take them."""
        if tokens > self.burst:
            raise ValueError("cannot take more tokens than the burst size at once")
        async with self._lock:
            self._refill()
            if self._tokens < tokens:
                wait = (tokens - self._tokens) / self.rate
                self.waited_seconds += wait
                await self._clock.sleep(wait)
                self._refill()
                # The wait was computed to earn exactly what is missing; absorb float rounding
                # (and a timer firing a hair early) instead of sleeping again for 1e-15 s.
                self._tokens = max(self._tokens, tokens)
            self._tokens -= tokens
            self.acquired += 1


class RateLimiterRegistry:
    """One :class:`TokenBucket` per key (e.g. ``(app_key_id, tenant)``), created on first use."""

    def __init__(
        self, *, clock: Clock, rate: float = DEFAULT_RATE, burst: float = DEFAULT_BURST
    ) -> None:
        self._clock = clock
        self._rate = rate
        self._burst = burst
        self._buckets: dict[Hashable, TokenBucket] = {}

    def get(
        self, key: Hashable, *, rate: float | None = None, burst: float | None = None
    ) -> TokenBucket:
        """The bucket for ``key``; ``rate``/``burst`` apply only when it is created."""
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(
                rate=rate if rate is not None else self._rate,
                burst=burst if burst is not None else self._burst,
                clock=self._clock,
            )
            self._buckets[key] = bucket
        return bucket


class ConcurrencyCap:
    """At most ``limit`` holders at once; counts the peak so tests and metrics can see it."""

    def __init__(self, limit: int = DEFAULT_CONCURRENCY) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._semaphore = asyncio.Semaphore(limit)
        self.in_flight = 0
        self.peak = 0

    async def __aenter__(self) -> ConcurrencyCap:
        await self._semaphore.acquire()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.in_flight -= 1
        self._semaphore.release()


class ConcurrencyRegistry:
    """One :class:`ConcurrencyCap` per key (e.g. the Fusion pod host)."""

    def __init__(self, *, limit: int = DEFAULT_CONCURRENCY) -> None:
        self._limit = limit
        self._caps: dict[Hashable, ConcurrencyCap] = {}

    def get(self, key: Hashable, *, limit: int | None = None) -> ConcurrencyCap:
        cap = self._caps.get(key)
        if cap is None:
            cap = ConcurrencyCap(limit if limit is not None else self._limit)
            self._caps[key] = cap
        return cap


class ThrottledTransport(httpx.AsyncBaseTransport):
    """Applies a rate limit and/or a concurrency cap around another transport.

    The cap is held until the response body has been read (the client reads it right after the
    transport returns unless streaming), so "in flight" means what the server sees.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        bucket: TokenBucket | None = None,
        cap: ConcurrencyCap | None = None,
    ) -> None:
        self._inner = inner
        self._bucket = bucket
        self._cap = cap

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._bucket is not None:
            await self._bucket.acquire()
        if self._cap is None:
            return await self._inner.handle_async_request(request)
        async with self._cap:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            return response

    async def aclose(self) -> None:
        await self._inner.aclose()
