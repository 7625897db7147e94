"""Tokens, throttling, gateway errors and lost write responses (DESIGN §3.2 rules 2, 4, 5, 6).

Faults come from the sandbox fault middleware (reference §6: 429 with Retry-After, HTML 5xx from a
gateway; §2.2: 401 with an empty body for a bad token; §8: duplicate posting after timeouts).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fusion_client_kit import Pod
from fusion_payloads import invoice_payload

from ml_connector.http import RetriesExhausted, RetryPolicy, WriteMaybeCommitted
from ml_connector.sandbox import credentials
from ml_connector.sandbox.fusion import SEED
from ml_connector.systems.fusion.errors import FusionAuthError
from ml_connector.systems.instrumentation import CountingObserver

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def add_suppliers(pod: Pod, n: int) -> None:
    for i in range(n):
        pod.clock.advance(1)
        pod.state.add_supplier(f"Bulk {i:03d}", number=f"B{i:03d}")
    pod.clock.advance(1)


async def test_token_expiring_mid_pagination_is_refreshed_transparently(
    make_pod: Callable[..., Pod],
) -> None:
    """§3.2 rule 5: an hour passes between two pages (the token expires on the pod); the cache
    renews it before the next page, so the read goes on with no 401 and no error."""
    pod = make_pod()
    add_suppliers(pod, 12)

    def an_hour_passes(path: str, query: str) -> None:
        pod.clock.advance(3700)

    pod.faults.on_page_served = an_hour_passes
    pod.set_faults(insert_while_paging_every=2, paging_paths=["*/suppliers"])
    client = pod.client()
    until = pod.clock.now()
    read = [s async for s in client.suppliers_changed_since(EPOCH, until=until)]
    assert len(read) == len(pod.state.suppliers)
    assert pod.state.meta.token_requests >= 2
    assert pod.state.meta.errors["401"] == 0


async def test_revoked_token_costs_one_token_request_and_one_resend(pod: Pod) -> None:
    """§3.2 rule 5, reference §2.2: a 401 for a revoked token → exactly one token request and one
    resend of the same call, invisible to the caller."""
    client = pod.client()
    assert await client.purchase_order(SEED.po_number) is not None
    assert pod.state.meta.token_requests == 1
    gets_before = len(pod.recorder.calls("GET", "/purchaseOrders"))
    pod.set_faults(revoke_tokens_every=2)  # the next API call finds its token revoked
    order = await client.purchase_order(SEED.po_number)
    assert order is not None
    assert order.OrderNumber == SEED.po_number
    assert pod.state.meta.token_requests == 2
    assert len(pod.recorder.calls("GET", "/purchaseOrders")) - gets_before == 2
    assert pod.state.meta.errors["401"] == 1


class SwitchOffOn429(CountingObserver):
    """Turns the 429 fault off once the client has seen one, so the retry succeeds."""

    pod: Pod | None = None

    def rate_limited(self, *, system: str, resource: str, retry_after: float | None) -> None:
        super().rate_limited(system=system, resource=resource, retry_after=retry_after)
        assert self.pod is not None
        self.pod.set_faults()


async def test_429_with_retry_after_waits_exactly_that_long(pod: Pod) -> None:
    """§3.2 rule 6, reference §6: 429 with ``Retry-After: 7`` → wait 7 s of (fake) time, then retry."""
    observer = SwitchOffOn429()
    observer.pod = pod
    pod.observer = observer
    client = pod.client()
    await client.purchase_order(SEED.po_number)  # token obtained first
    pod.set_faults(rate_429=1.0, retry_after_seconds=7, rate_429_style="fusion-empty")
    started = pod.clock.monotonic()
    order = await client.purchase_order("1002")
    assert order is not None
    assert pod.clock.slept == [7.0]
    assert pod.clock.monotonic() - started == pytest.approx(7.0)
    assert observer.throttled["fusion"] == 1
    assert len(pod.recorder.calls("GET", "/purchaseOrders")) == 3


async def test_5xx_html_is_retried_then_a_typed_error_names_system_and_resource(pod: Pod) -> None:
    """Gateway 502 pages (HTML) are retried for a GET up to the attempt cap; the error names the
    system and the resource and carries the page's words, not its markup."""
    client = pod.client()
    await client.purchase_order(SEED.po_number)
    calls_before = len(pod.recorder.calls("GET", "/purchaseOrders"))
    pod.set_faults(rate_5xx=1.0, statuses_5xx=[502])
    with pytest.raises(RetriesExhausted) as info:
        await client.purchase_order("1002")
    message = str(info.value)
    assert "fusion" in message
    assert "purchaseOrders" in message
    assert "Bad Gateway" in message
    assert "<" not in message
    assert info.value.status == 502
    assert len(pod.recorder.calls("GET", "/purchaseOrders")) - calls_before == 4  # FAST_RETRY cap


async def test_attempt_cap_holds(pod: Pod) -> None:
    """RetryPolicy.max_attempts: 3 attempts, never a 4th."""
    client = pod.client(retry=RetryPolicy(max_attempts=3, max_total_seconds=1000.0, jitter=0.0))
    await client.purchase_order(SEED.po_number)
    before = len(pod.recorder.calls("GET", "/purchaseOrders"))
    pod.set_faults(rate_5xx=1.0, statuses_5xx=[503], retry_after_seconds=2)
    with pytest.raises(RetriesExhausted) as info:
        await client.purchase_order("1002")
    assert info.value.attempts == 3
    assert len(pod.recorder.calls("GET", "/purchaseOrders")) - before == 3
    assert pod.clock.slept == [2.0, 2.0]


async def test_time_cap_holds(pod: Pod) -> None:
    """RetryPolicy.max_total_seconds: with Retry-After 7 and a 20 s cap, the client gives up
    rather than wait past the cap."""
    client = pod.client(retry=RetryPolicy(max_attempts=100, max_total_seconds=20.0))
    await client.purchase_order(SEED.po_number)
    pod.set_faults(rate_429=1.0, retry_after_seconds=7, rate_429_style="fusion-text")
    started = pod.clock.monotonic()
    with pytest.raises(RetriesExhausted) as info:
        await client.purchase_order("1002")
    assert pod.clock.monotonic() - started <= 20.0
    assert info.value.attempts == 3
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize("style", ["504", "reset"])
async def test_lost_post_response_raises_maybe_committed_then_adopts(pod: Pod, style: str) -> None:
    """§3.2 rule 2, reference §8: the invoice is committed but its response is lost → the client
    raises WriteMaybeCommitted and sends no second POST; find_invoice then adopts the record."""
    client = pod.client()
    pod.set_faults(rate_drop_after_commit=1.0, drop_methods=["POST"], drop_style=style)
    with pytest.raises(WriteMaybeCommitted) as info:
        await client.create_invoice(invoice_payload("ST-90001"))
    assert "receivablesInvoices" in str(info.value)
    assert len(pod.recorder.calls("POST", "/receivablesInvoices")) == 1
    assert pod.state.meta.api_requests["POST receivablesInvoices"] == 1
    pod.set_faults()
    adopted = await client.find_invoice("ST-90001", SEED.transaction_source)
    assert adopted is not None
    (stored,) = [i for i in pod.state.invoices.values() if i.TransactionNumber == "ST-90001"]
    assert adopted.CustomerTransactionId == stored.CustomerTransactionId
    assert len(pod.recorder.calls("POST", "/receivablesInvoices")) == 1


async def test_post_5xx_is_not_retried(pod: Pod) -> None:
    """A 503 on a POST leaves the outcome unknown: WriteMaybeCommitted, one POST only."""
    client = pod.client()
    pod.set_faults(rate_5xx=1.0, statuses_5xx=[503])
    with pytest.raises(WriteMaybeCommitted):
        await client.create_invoice(invoice_payload("ST-90002"))
    assert len(pod.recorder.calls("POST", "/receivablesInvoices")) == 1


async def test_no_secret_or_token_in_any_log_line(
    pod: Pod, caplog: pytest.LogCaptureFixture
) -> None:
    """Logs never carry the client secret, the password, the Basic header or an issued token —
    across token fetch, a revoked-token resend, retries and errors (raw records, no filter)."""
    caplog.set_level(logging.DEBUG)
    client = pod.client()
    await client.purchase_order(SEED.po_number)
    pod.set_faults(revoke_tokens_every=2)
    await client.purchase_order(SEED.po_number)
    pod.set_faults(rate_5xx=1.0, statuses_5xx=[503])
    with pytest.raises(RetriesExhausted) as exhausted:
        await client.purchase_order("1002")
    pod.set_faults()
    basic = pod.client(auth="basic", secret="wrong-password-1234")
    with pytest.raises(FusionAuthError, match="check user/password") as refused:
        await basic.purchase_order(SEED.po_number)
    tokens = {
        c.headers["authorization"].split(" ", 1)[1]
        for c in pod.recorder.seen
        if c.headers.get("authorization", "").startswith(("Bearer ", "Basic "))
    }
    forbidden = {
        credentials.FUSION_CLIENT_SECRET,
        credentials.FUSION_PASSWORD,
        "wrong-password-1234",
        *tokens,
    }
    lines = [r.getMessage() for r in caplog.records] + [str(exhausted.value), str(refused.value)]
    assert len(caplog.records) > 3
    assert len(tokens) >= 3
    for line in lines:
        for secret in forbidden:
            assert secret not in line
