"""STClient under faults: tokens, 401s, 429s, 5xx HTML, lost writes, caps, the rate limit, logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from st_client_kit import (
    APP_GUID,
    RecordingTransport,
    Sandbox,
    label,
    po_input,
    vendor_input,
)

from ml_connector.http import (
    RateLimiterRegistry,
    RetriesExhausted,
    RetryPolicy,
    WriteMaybeCommitted,
)
from ml_connector.sandbox import credentials
from ml_connector.sandbox.servicetitan import STSimConfig
from ml_connector.systems.instrumentation import CountingObserver
from ml_connector.systems.servicetitan.errors import STAuthError

VENDORS = label("GET", "inventory", "/vendors")
VENDOR = label("GET", "inventory", "/vendors/{id}")
POST_VENDORS = label("POST", "inventory", "/vendors")
POST_POS = label("POST", "inventory", "/purchase-orders")


def add_vendors(box: Sandbox, n: int) -> None:
    for i in range(n):
        box.state.add_vendor(f"Vendor {i:03d}")


async def test_token_expiring_mid_pagination_is_refreshed(box: Sandbox) -> None:
    """servicetitan-api.md §1.1 (900 s tokens), DESIGN §3.2 rule 5: renewed at 80 % (720 s) and
    after expiry without a single 401, while a list is being paged."""
    add_vendors(box, 12)
    observer = CountingObserver()
    client = box.client(page_size=5, observer=observer)
    seen: list[int] = []
    async for vendor in client.vendors_changed_since(None):
        seen.append(vendor.id)
        if len(seen) == 5:
            box.clock.advance(750)  # past the 720-s refresh age, token still valid
        if len(seen) == 10:
            box.clock.advance(1000)  # past expiry
    counts = await box.counts()
    assert len(seen) == 15
    assert counts["tokenRequests"] == 3
    assert "401" not in counts["errors"]
    assert client.token_stats.refresh_count == 3
    assert observer.refreshes["servicetitan"] == 3


async def test_revoked_token_one_refresh_one_resend(box: Sandbox) -> None:
    """§1.2: a 401 → exactly one token request and one resend, then success."""
    client = box.client()
    await client.get_vendor(box.seed.vendors[0])
    box.sim.revoke_tokens()
    before = await box.counts()
    vendor = await client.get_vendor(box.seed.vendors[1])
    after = await box.counts()
    assert vendor.id == box.seed.vendors[1]
    assert after["tokenRequests"] - before["tokenRequests"] == 1
    assert after["apiRequests"][VENDOR] - before["apiRequests"][VENDOR] == 2
    assert after["errors"]["401"] - before["errors"].get("401", 0) == 1
    assert client.resends_after_401 == 1


async def test_revocation_fault_during_a_run(box: Sandbox) -> None:
    """Fault ``revoke_tokens_every``: every revocation costs one token request and one resend."""
    client = box.client()
    box.set_faults(revoke_tokens_every=4)
    for vendor_id in box.seed.vendors * 5:
        await client.get_vendor(vendor_id)
    counts = await box.counts()
    revocations = box.faults.counts()["revocation"]
    assert revocations >= 2
    assert counts["tokenRequests"] == 1 + revocations
    assert client.resends_after_401 == revocations


async def test_bad_app_key_refreshes_once_then_says_check_app_key(box: Sandbox) -> None:
    """DESIGN §5: a bad app key is a 401 (not invalid_client); one refresh, then a typed error."""
    client = box.client(app_key="ak1.wrong-key")
    with pytest.raises(STAuthError) as info:
        await client.get_vendor(box.seed.vendors[0])
    assert info.value.app_key is True
    assert "check the app key" in str(info.value)
    counts = await box.counts()
    assert counts["tokenRequests"] == 2
    assert counts["apiRequests"][VENDOR] == 2
    assert "ak1.wrong-key" not in str(info.value)


def flip_after_first(box: Sandbox, status: int) -> Callable[[httpx.Response], None]:
    """Turn the faults off once the first response with ``status`` has gone by."""

    def after(response: httpx.Response) -> None:
        if response.status_code == status:
            box.set_faults()

    return after


async def test_429_waits_retry_after_on_the_clock(box: Sandbox) -> None:
    """§9: 429 with ``Retry-After: 7`` → 7 s of fake time, then the retry succeeds."""
    observer = CountingObserver()
    transport = RecordingTransport(box.transport, after=flip_after_first(box, 429))
    client = box.client(transport=transport, observer=observer)
    await client.get_vendor(box.seed.vendors[0])  # token in hand first
    box.set_faults(rate_429=1.0, retry_after_seconds=7)
    vendor = await client.get_vendor(box.seed.vendors[0])
    assert vendor.id == box.seed.vendors[0]
    assert 7.0 in box.clock.slept
    assert observer.throttled["servicetitan"] == 1
    assert observer.total_calls("servicetitan", resource="vendors/{id}") == 3
    assert observer.calls[("servicetitan", "vendors/{id}", "GET", 429)] == 1
    assert [e.status for e in transport.exchanges if "/vendors/" in e.path][-2:] == [429, 200]


async def test_429_on_a_post_is_retried(box: Sandbox) -> None:
    """A 429 means "not processed" (§9), so even a create may be sent again."""
    transport = RecordingTransport(box.transport, after=flip_after_first(box, 429))
    client = box.client(transport=transport)
    await client.get_vendor(box.seed.vendors[0])
    box.set_faults(rate_429=1.0, retry_after_seconds=3)
    vendor_id = await client.create_vendor(vendor_input())
    assert (await client.get_vendor(vendor_id)).name == "Acme Refrigerant Supply"
    assert await box.api_requests(POST_VENDORS) == 1
    assert 3.0 in box.clock.slept


async def test_5xx_html_is_retried_then_typed(box: Sandbox) -> None:
    """§9, §11.5: 5xx with HTML bodies → retried up to the attempt cap, then RetriesExhausted
    naming the system and resource, with the HTML stripped."""
    client = box.client(retry=RetryPolicy(max_attempts=3, max_total_seconds=600, base_delay=1))
    await client.get_vendor(box.seed.vendors[0])
    box.set_faults(rate_5xx=1.0, statuses_5xx=[502])
    with pytest.raises(RetriesExhausted) as info:
        await client.get_vendor(box.seed.vendors[0])
    err = info.value
    assert err.attempts == 3
    assert err.system == "servicetitan"
    assert err.resource == "vendors/{id}"
    assert "<" not in str(err)
    assert "HTTP 502" in str(err)
    assert box.faults.counts()["5xx"] == 3


async def test_time_cap_holds(box: Sandbox) -> None:
    """Timeouts cost 30 s each; a 60-s budget stops after two attempts, not ten."""
    client = box.client(retry=RetryPolicy(max_attempts=10, max_total_seconds=60, base_delay=1))
    await client.get_vendor(box.seed.vendors[0])
    box.set_faults(rate_timeout=1.0, timeout_seconds=30)
    start = box.clock.monotonic()
    with pytest.raises(RetriesExhausted) as info:
        await client.get_vendor(box.seed.vendors[0])
    assert info.value.attempts == 2
    assert box.clock.monotonic() - start <= 60 + 30


async def test_lost_vendor_create_is_maybe_committed_then_found(box: Sandbox) -> None:
    """DESIGN §3.2 rule 2: a POST whose answer is lost → WriteMaybeCommitted, no second POST,
    and the vendor is found by its externalData."""
    client = box.client()
    box.set_faults(rate_drop_after_commit=1.0)
    with pytest.raises(WriteMaybeCommitted) as info:
        await client.create_vendor(vendor_input(key_value="300000888"))
    assert info.value.system == "servicetitan"
    assert await box.api_requests(POST_VENDORS) == 1
    box.set_faults()
    found = await client.find_vendors_by_external_data(APP_GUID, "fusionSupplierId", ["300000888"])
    assert [v.name for v in found] == ["Acme Refrigerant Supply"]
    assert await box.api_requests(POST_VENDORS) == 1


async def test_lost_po_create_is_found_by_memo_and_window(box: Sandbox) -> None:
    """§3.2 rule 2: POs have no externalData; found by a createdOnOrAfter window + memo."""
    client = box.client()
    intent_at = box.clock.now()
    box.clock.advance(0.4)
    box.set_faults(rate_drop_after_commit=1.0)
    with pytest.raises(WriteMaybeCommitted):
        await client.create_purchase_order(po_input(box, memo="FUSION-PO-7"))
    box.set_faults()
    found = await client.find_purchase_orders(
        created_on_or_after=intent_at, memo="FUSION-PO-7", vendor_id=box.seed.vendors[0]
    )
    assert len(found) == 1
    assert found[0].shipping == Decimal("12.50")
    assert await box.api_requests(POST_POS) == 1


async def test_marking_exported_is_retried_after_a_lost_answer(box: Sandbox) -> None:
    """§7: setting a sync status twice changes nothing, so a lost answer is simply re-sent."""
    transport = RecordingTransport(box.transport, after=flip_after_first(box, 504))
    client = box.client(transport=transport)
    await client.get_vendor(box.seed.vendors[0])
    box.set_faults(rate_drop_after_commit=1.0)
    results = await client.mark_invoices_exported([box.seed.invoices[0]])
    assert [r.success for r in results] == [True]


async def test_rate_limit_50_per_second_shared_by_clients(make_box: Callable[..., Sandbox]) -> None:
    """DESIGN §3.2 rule 6: 50 req/s per app key + tenant, shared by every client of the pair;
    the simulator's 60 req/s limit is never hit."""
    box = make_box(STSimConfig())  # the real 60 req/s limit
    limiters = RateLimiterRegistry(clock=box.clock)
    cache = box.shared_cache()
    a = box.client(limiters=limiters, token_cache=cache)
    b = box.client(limiters=limiters, token_cache=cache)
    assert a.rate_bucket is b.rate_bucket
    await a.get_vendor(box.seed.vendors[0])
    start = box.clock.monotonic()

    async def burst(client_id: int) -> None:
        client = a if client_id % 2 else b
        for _ in range(60):
            await client.get_vendor(box.seed.vendors[0])

    await asyncio.gather(burst(0), burst(1))
    elapsed = box.clock.monotonic() - start
    counts = await box.counts()
    assert counts["rateLimited"] == 0
    assert elapsed >= (120 - a.rate_bucket.burst) / 50 - 1e-6
    assert a.rate_bucket.acquired == 121


async def test_no_secret_in_any_log_line(box: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    """Secrets, tokens and the app key never reach a log line, across refreshes, 401s and 429s."""
    caplog.set_level(logging.DEBUG)
    transport = RecordingTransport(box.transport, after=flip_after_first(box, 429))
    client = box.client(transport=transport)
    await client.get_vendor(box.seed.vendors[0])
    box.sim.revoke_tokens()
    await client.get_vendor(box.seed.vendors[0])
    box.set_faults(rate_429=1.0, retry_after_seconds=1)
    await client.get_vendor(box.seed.vendors[0])
    box.clock.advance(2000)
    async for _ in client.vendors_changed_since(None):
        pass
    with pytest.raises(STAuthError):
        await box.client(app_key="ak1.other-wrong").get_vendor(box.seed.vendors[0])
    tokens = [
        json.loads(e.response)["access_token"]
        for e in transport.exchanges
        if e.path.endswith("/connect/token") and e.status == 200
    ]
    assert len(tokens) == 3
    text = caplog.text
    assert caplog.records  # something was logged, so the check means something
    for secret in (
        credentials.SERVICETITAN_CLIENT_SECRET,
        credentials.SERVICETITAN_APP_KEY,
        "ak1.other-wrong",
        *tokens,
    ):
        assert secret not in text


async def test_concurrent_requests_share_one_token_request(box: Sandbox) -> None:
    """DESIGN §3.2 rule 5 (one refresh at a time): ten requests at once → one token request,
    reported once to the observer; the same after a revocation."""
    observer = CountingObserver()
    client = box.client(observer=observer)
    await asyncio.gather(*(client.get_vendor(box.seed.vendors[0]) for _ in range(10)))
    assert (await box.counts())["tokenRequests"] == 1
    assert observer.refreshes["servicetitan"] == 1
    box.sim.revoke_tokens()
    await asyncio.gather(*(client.get_vendor(box.seed.vendors[1]) for _ in range(10)))
    assert (await box.counts())["tokenRequests"] == 2
    assert observer.refreshes["servicetitan"] == 2


class StripRetryAfter(httpx.AsyncBaseTransport):
    """A gateway that drops ``Retry-After`` and leaves only the ProblemDetails title."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "retry-after"]
        return httpx.Response(response.status_code, headers=headers, content=content)


async def test_429_title_only_is_honoured(box: Sandbox) -> None:
    """§9: without ``Retry-After`` the wait comes from "… Try again in N seconds."."""
    transport = RecordingTransport(StripRetryAfter(box.transport), after=flip_after_first(box, 429))
    client = box.client(transport=transport)
    await client.get_vendor(box.seed.vendors[0])
    box.set_faults(rate_429=1.0, retry_after_seconds=5)
    await client.get_vendor(box.seed.vendors[0])
    assert 5.0 in box.clock.slept


async def test_server_rate_limit_is_waited_out(make_box: Callable[..., Sandbox]) -> None:
    """If the client's budget is set above the server's (a misconfiguration), the server's 429s
    are waited out with their ``Retry-After`` and every call still completes."""
    box = make_box(STSimConfig(requests_per_second=5))
    observer = CountingObserver()
    client = box.client(
        observer=observer, retry=RetryPolicy(max_attempts=10, max_total_seconds=300)
    )
    for _ in range(12):
        await client.get_vendor(box.seed.vendors[0])
    counts = await box.counts()
    assert counts["rateLimited"] >= 1
    assert observer.throttled["servicetitan"] == counts["rateLimited"]
    assert observer.calls[("servicetitan", "vendors/{id}", "GET", 200)] == 12
