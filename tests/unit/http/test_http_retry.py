"""Retry rules and the retry loop, against an in-process server on a FakeClock.

servicetitan-api.md §9 (429 with Retry-After and "Try again in N seconds." title; HTML 503s),
§10 (ProblemDetails); oracle-fusion-api.md §6 (429/503/504 with Retry-After, no idempotency key);
lessons-from-peers.md §2.4 (Retry-After ignored), §2.5 (duplicates after retries); DESIGN §3.2
rule 2 (POSTs never blindly).
"""

from __future__ import annotations

import email.utils
import random
from datetime import timedelta

import httpx
import pytest
from http_fakes import LoseResponseTransport, RefuseConnectTransport, Scripted, ScriptedServer

from ml_connector.clock import FakeClock
from ml_connector.errors import FatalError, MaybeCommittedError, RetriableError
from ml_connector.http import (
    Decision,
    HttpStatusError,
    RetriesExhausted,
    RetryPolicy,
    TransportFailure,
    WriteMaybeCommitted,
    classify,
    create_client,
    delay,
    request_was_sent,
    retry_after_seconds,
    send_with_retry,
)

BASE = "https://api.test"
HTML_503 = (
    "<!DOCTYPE html><html><head><title>503</title><style>body{color:red}</style></head>"
    "<body><h1>Service Unavailable</h1><p>The server is temporarily&nbsp;busy.</p></body></html>"
)


def problem(status: int, title: str) -> str:
    return (
        f'{{"type": "https://tools.ietf.org/html/rfc6585#section-4", "title": "{title}", '
        f'"status": {status}, "traceId": "00-abc-def-00"}}'
    )


def response(status: int, headers: dict[str, str] | None = None, text: str = "") -> httpx.Response:
    return httpx.Response(
        status,
        headers=headers,
        text=text,
        request=httpx.Request("GET", f"{BASE}/x"),
    )


# --- classify -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "outcome", "expected"),
    [
        ("GET", 200, Decision.OK),
        ("POST", 201, Decision.OK),
        ("GET", 304, Decision.OK),
        ("GET", 401, Decision.AUTH),
        ("POST", 401, Decision.AUTH),
        ("GET", 429, Decision.RETRY),
        ("POST", 429, Decision.RETRY),
        ("GET", 502, Decision.RETRY),
        ("GET", 503, Decision.RETRY),
        ("GET", 504, Decision.RETRY),
        ("POST", 502, Decision.MAYBE_COMMITTED),
        ("POST", 503, Decision.MAYBE_COMMITTED),
        ("PATCH", 504, Decision.MAYBE_COMMITTED),
        ("GET", 400, Decision.FATAL),
        ("GET", 403, Decision.FATAL),
        ("GET", 404, Decision.FATAL),
        ("POST", 409, Decision.FATAL),
        ("POST", 422, Decision.FATAL),
        ("GET", 501, Decision.FATAL),
    ],
)
def test_classify_status(method: str, outcome: int, expected: Decision) -> None:
    assert classify(method, outcome, True) is expected


def test_classify_exceptions() -> None:
    req = httpx.Request("POST", f"{BASE}/x")
    connect = httpx.ConnectError("refused", request=req)
    read = httpx.ReadTimeout("slow", request=req)
    assert not request_was_sent(connect)
    assert request_was_sent(read)
    assert classify("GET", httpx.ConnectTimeout("t", request=req), False) is Decision.RETRY
    assert classify("GET", read, True) is Decision.RETRY
    assert classify("POST", connect, False) is Decision.RETRY  # never left: safe to retry
    assert classify("POST", read, True) is Decision.MAYBE_COMMITTED
    assert classify("PATCH", httpx.RemoteProtocolError("x", request=req), True) is (
        Decision.MAYBE_COMMITTED
    )
    assert classify("POST", read, True, idempotent=True) is Decision.RETRY
    assert classify("GET", httpx.UnsupportedProtocol("ftp", request=req), True) is Decision.FATAL
    assert classify("GET", ValueError("bug"), True) is Decision.FATAL


# --- Retry-After ------------------------------------------------------------------------------


def test_retry_after_seconds_header(clock: FakeClock) -> None:
    assert retry_after_seconds(response(429, {"Retry-After": "7"}), clock.now()) == 7.0


def test_retry_after_http_date(clock: FakeClock) -> None:
    when = email.utils.format_datetime(clock.now() + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(response(503, {"Retry-After": when}), clock.now()) == 30.0
    past = email.utils.format_datetime(clock.now() - timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(response(503, {"Retry-After": past}), clock.now()) == 0.0


def test_retry_after_servicetitan_title(clock: FakeClock) -> None:
    """servicetitan-api.md §9: no header, wait taken from the ProblemDetails title."""
    body = problem(429, "Rate limit is exceeded. Try again in 12 seconds.")
    assert retry_after_seconds(response(429, text=body), clock.now()) == 12.0


def test_retry_after_header_wins_over_title(clock: FakeClock) -> None:
    body = problem(429, "Rate limit is exceeded. Try again in 12 seconds.")
    assert retry_after_seconds(response(429, {"Retry-After": "3"}, body), clock.now()) == 3.0


def test_retry_after_absent_or_garbage(clock: FakeClock) -> None:
    assert retry_after_seconds(response(503, text=HTML_503), clock.now()) is None
    assert retry_after_seconds(response(503, {"Retry-After": "soon"}), clock.now()) is None
    assert retry_after_seconds(None, clock.now()) is None


# --- delay ------------------------------------------------------------------------------------


def test_delay_honours_hint_and_doubles_otherwise() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=0.0)
    assert delay(policy, 1, 7.0) == 7.0
    assert [delay(policy, n, None) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


# --- the loop ---------------------------------------------------------------------------------


async def run(
    server: ScriptedServer,
    clock: FakeClock,
    method: str = "GET",
    path: str = "/inventory/v2/tenant/1/vendors",
    *,
    policy: RetryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.Response:
    transport = transport or httpx.ASGITransport(app=server.app())
    async with create_client(base_url=BASE, transport=transport) as client:
        return await send_with_retry(
            client,
            lambda: client.build_request(method, path, json={"n": 1} if method != "GET" else None),
            policy or RetryPolicy(jitter=0.0),
            clock,
            system="servicetitan",
            resource="vendors",
            rng=random.Random(1),
        )


async def test_429_with_retry_after_waits_7_seconds(clock: FakeClock) -> None:
    server = ScriptedServer([Scripted(429, problem(429, "Too many"), {"Retry-After": "7"})])
    result = await run(server, clock)
    assert result.status_code == 200
    assert clock.slept == [7.0]
    assert len(server.requests) == 2


async def test_429_title_only_waits_12_seconds(clock: FakeClock) -> None:
    server = ScriptedServer([Scripted(429, problem(429, "Rate limit. Try again in 12 seconds."))])
    assert (await run(server, clock)).status_code == 200
    assert clock.slept == [12.0]


async def test_retry_after_http_date_in_loop(clock: FakeClock) -> None:
    when = email.utils.format_datetime(clock.now() + timedelta(seconds=20), usegmt=True)
    server = ScriptedServer([Scripted(503, "", {"Retry-After": when})])
    assert (await run(server, clock)).status_code == 200
    assert clock.slept == [20.0]


async def test_post_429_is_retried_because_it_was_not_processed(clock: FakeClock) -> None:
    server = ScriptedServer([Scripted(429, "{}", {"Retry-After": "1"})])
    assert (await run(server, clock, "POST", "/invoices")).status_code == 200
    assert server.count("POST", "/invoices") == 2


async def test_html_503_retried_then_typed_error_naming_system_and_resource(
    clock: FakeClock,
) -> None:
    server = ScriptedServer([Scripted(503, HTML_503, media_type="text/html")] * 3)
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, jitter=0.0)
    with pytest.raises(RetriesExhausted) as caught:
        await run(server, clock, policy=policy)
    err = caught.value
    assert isinstance(err, RetriableError)
    assert len(server.requests) == 3
    assert clock.slept == [1.0, 2.0]
    text = str(err)
    assert "servicetitan" in text
    assert "vendors" in text
    assert "HTTP 503" in text
    assert "Service Unavailable" in text
    assert "<" not in text
    assert "color:red" not in text
    assert err.status == 503
    assert err.attempts == 3


async def test_fatal_4xx_is_not_retried(clock: FakeClock) -> None:
    body = problem(400, "The request is invalid.")
    server = ScriptedServer([Scripted(400, body)])
    with pytest.raises(HttpStatusError) as caught:
        await run(server, clock)
    assert isinstance(caught.value, FatalError)
    assert caught.value.status == 400
    assert caught.value.system == "servicetitan"
    assert "The request is invalid." in caught.value.excerpt
    assert len(server.requests) == 1
    assert clock.slept == []


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_post_with_5xx_is_maybe_committed_and_not_resent(
    clock: FakeClock, status: int
) -> None:
    server = ScriptedServer(
        [Scripted(status, "<html>Gateway Timeout</html>", media_type="text/html")]
    )
    with pytest.raises(WriteMaybeCommitted) as caught:
        await run(server, clock, "POST", "/accounting/v2/tenant/1/invoices")
    assert isinstance(caught.value, MaybeCommittedError)
    assert caught.value.status == status
    assert server.count("POST", "/accounting/v2/tenant/1/invoices") == 1
    assert clock.slept == []


async def test_post_read_timeout_is_maybe_committed_and_not_resent(clock: FakeClock) -> None:
    """The response is lost after the server acted on the POST (DESIGN §3.4 fault)."""
    server = ScriptedServer()
    transport = LoseResponseTransport(httpx.ASGITransport(app=server.app()))
    with pytest.raises(WriteMaybeCommitted, match="ReadTimeout"):
        await run(server, clock, "POST", "/receivablesInvoices", transport=transport)
    assert server.count("POST", "/receivablesInvoices") == 1


async def test_get_read_timeout_is_retried(clock: FakeClock) -> None:
    server = ScriptedServer()
    transport = LoseResponseTransport(httpx.ASGITransport(app=server.app()), lose=2)
    assert (await run(server, clock, transport=transport)).status_code == 200
    assert len(server.requests) == 3


async def test_post_connect_error_before_sending_is_retried(clock: FakeClock) -> None:
    server = ScriptedServer()
    transport = RefuseConnectTransport(httpx.ASGITransport(app=server.app()))
    assert (await run(server, clock, "POST", "/invoices", transport=transport)).status_code == 200
    assert server.count("POST", "/invoices") == 1  # the refused attempt never reached it


async def test_attempt_cap_holds(clock: FakeClock) -> None:
    server = ScriptedServer([Scripted(502, "bad gateway")] * 50)
    policy = RetryPolicy(max_attempts=4, max_total_seconds=10_000, base_delay=0.5, jitter=0.0)
    with pytest.raises(RetriesExhausted) as caught:
        await run(server, clock, policy=policy)
    assert len(server.requests) == 4
    assert caught.value.attempts == 4
    assert len(clock.slept) == 3


async def test_time_cap_holds(clock: FakeClock) -> None:
    """A long Retry-After that would overrun the total-time cap stops the loop instead."""
    server = ScriptedServer([Scripted(429, "{}", {"Retry-After": "20"})] * 50)
    policy = RetryPolicy(max_attempts=100, max_total_seconds=45.0)
    start = clock.monotonic()
    with pytest.raises(RetriesExhausted) as caught:
        await run(server, clock, policy=policy)
    assert clock.monotonic() - start <= 45.0
    assert clock.slept == [20.0, 20.0]
    assert len(server.requests) == 3
    assert caught.value.retry_after == 20.0


async def test_unusable_url_is_a_fatal_transport_failure(clock: FakeClock) -> None:
    """The default transport refuses the scheme before opening any connection."""
    async with create_client(base_url=BASE) as c:
        with pytest.raises(TransportFailure, match="could not be sent") as caught:
            await send_with_retry(
                c,
                lambda: c.build_request("GET", "ftp://files.test/x"),
                RetryPolicy(),
                clock,
                system="fusion",
                resource="suppliers",
            )
    assert isinstance(caught.value, FatalError)
    assert clock.slept == []
