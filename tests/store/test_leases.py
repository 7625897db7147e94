"""Leases: one holder per connection + flow, taken over only after expiry (issue 7)."""

from __future__ import annotations

import asyncio

from ml_connector.clock import FakeClock
from ml_connector.store import Store


async def test_one_holder_at_a_time_and_takeover_after_expiry(
    store: Store, clock: FakeClock
) -> None:
    async with store.transaction() as tx:
        assert await tx.leases.acquire("default/suppliers", holder="a", seconds=60)
    async with store.transaction() as tx:
        assert not await tx.leases.acquire("default/suppliers", holder="b", seconds=60)
        assert await tx.leases.acquire("default/suppliers", holder="a", seconds=60), "renewal"
        assert await tx.leases.holder("default/suppliers") == "a"
    clock.advance(61)
    async with store.transaction() as tx:
        assert await tx.leases.holder("default/suppliers") is None
        assert await tx.leases.acquire("default/suppliers", holder="b", seconds=60)
    async with store.transaction() as tx:
        assert not await tx.leases.release("default/suppliers", holder="a")
        assert await tx.leases.release("default/suppliers", holder="b")
        assert await tx.leases.acquire("default/suppliers", holder="a", seconds=60)


async def test_concurrent_acquirers_get_exactly_one_lease(store: Store) -> None:
    async def take(holder: str) -> bool:
        async with store.transaction() as tx:
            return await tx.leases.acquire("default/invoices", holder=holder, seconds=60)

    results = await asyncio.gather(*(take(f"w{i}") for i in range(8)))
    assert results.count(True) == 1
