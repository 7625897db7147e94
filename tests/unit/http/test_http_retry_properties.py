"""Property tests for the pure retry functions."""

from __future__ import annotations

import random

import httpx
from hypothesis import given
from hypothesis import strategies as st

from ml_connector.http import Decision, RetryPolicy, classify, delay
from ml_connector.http.retry import backoff_cap

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 20),
    max_total_seconds=st.floats(0, 3600),
    base_delay=st.floats(0, 30),
    max_delay=st.floats(0, 600),
    jitter=st.floats(0, 1),
)
methods = st.sampled_from(["GET", "HEAD", "OPTIONS", "POST", "PATCH", "PUT", "DELETE", "get"])
_REQ = httpx.Request("GET", "https://api.test/x")
errors = st.sampled_from(
    [
        httpx.ConnectError("x", request=_REQ),
        httpx.ConnectTimeout("x", request=_REQ),
        httpx.PoolTimeout("x", request=_REQ),
        httpx.ReadTimeout("x", request=_REQ),
        httpx.WriteTimeout("x", request=_REQ),
        httpx.ReadError("x", request=_REQ),
        httpx.RemoteProtocolError("x", request=_REQ),
        httpx.UnsupportedProtocol("x", request=_REQ),
        ValueError("x"),
    ]
)


@given(policies, st.integers(1, 200), st.integers(0, 2**32))
def test_delay_is_bounded(policy: RetryPolicy, attempt: int, seed: int) -> None:
    value = delay(policy, attempt, None, random.Random(seed))
    assert 0.0 <= value <= policy.max_delay
    cap = backoff_cap(policy, attempt)
    assert value >= cap * (1 - policy.jitter) - 1e-9
    assert value <= cap * (1 + policy.jitter) + 1e-9


@given(policies, st.integers(1, 199), st.integers(0, 2**32))
def test_delay_cap_is_monotone(policy: RetryPolicy, attempt: int, seed: int) -> None:
    assert backoff_cap(policy, attempt) <= backoff_cap(policy, attempt + 1) <= policy.max_delay
    # with the same random draw, a later attempt never waits less
    first = delay(policy, attempt, None, random.Random(seed))
    second = delay(policy, attempt + 1, None, random.Random(seed))
    assert first <= second + 1e-9


@given(policies, st.integers(1, 50), st.floats(0, 10_000))
def test_delay_takes_server_hint_as_given(policy: RetryPolicy, attempt: int, hint: float) -> None:
    assert delay(policy, attempt, hint) == hint


@given(methods, st.integers(100, 599), st.booleans())
def test_classify_status_rules(method: str, status: int, sent: bool) -> None:
    decision = classify(method, status, sent)
    safe = method.upper() in {"GET", "HEAD", "OPTIONS"}
    if status < 400:
        assert decision is Decision.OK
    elif status == 401:
        assert decision is Decision.AUTH
    elif status in (408, 429):
        assert decision is Decision.RETRY
    elif status in (500, 502, 503, 504):
        assert decision is (Decision.RETRY if safe else Decision.MAYBE_COMMITTED)
    else:
        assert decision is Decision.FATAL
    # a write is never retried blindly after the server may have acted on it
    if not safe and decision is Decision.RETRY:
        assert status in (408, 429)


@given(methods, errors, st.booleans())
def test_classify_errors_never_retry_a_sent_write(
    method: str, error: Exception, sent: bool
) -> None:
    decision = classify(method, error, sent)
    safe = method.upper() in {"GET", "HEAD", "OPTIONS"}
    assert decision in {Decision.RETRY, Decision.FATAL, Decision.MAYBE_COMMITTED}
    if decision is Decision.MAYBE_COMMITTED:
        assert not safe
        assert sent
    if decision is Decision.RETRY and not safe and sent:
        assert isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        assert decision is Decision.RETRY
