"""OAuth client credentials: caching, proactive refresh, 401 handling, throttled and bad tokens.

DESIGN §3.2 rule 5; servicetitan-api.md §1.1–§1.2 (900-s tokens, form credentials, no scope,
ST-App-Key on every call, invalid_client as 400); oracle-fusion-api.md §2.2 (Basic client
authentication, scope, ~1 h tokens); lessons-from-peers.md §2.3.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import timedelta

import httpx
import pytest
from http_fakes import (
    API_BASE,
    API_HOST,
    TOKEN_HOST,
    TOKEN_URL,
    FakeServer,
    RefuseConnectTransport,
    Scripted,
)
from starlette.types import Receive, Scope, Send

from ml_connector.clock import FakeClock
from ml_connector.errors import FatalError, RetriableError
from ml_connector.http import (
    AuthError,
    ClientAuthMethod,
    ClientCredentials,
    InvalidClientError,
    OAuth2ClientCredentials,
    RetryPolicy,
    StaticBasicAuth,
    TokenCache,
    TokenEndpointError,
    TokenPolicy,
    TokenUnavailable,
    create_client,
    send_with_retry,
)
from ml_connector.sandbox import credentials as sandbox


def api_client(
    transport: httpx.ASGITransport,
    cache: TokenCache,
    creds: ClientCredentials,
    extra_headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    auth = OAuth2ClientCredentials(cache=cache, credentials=creds, extra_headers=extra_headers)
    return create_client(base_url=API_BASE, transport=transport, auth=auth)


async def test_token_cached_and_reused(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    st_credentials: ClientCredentials,
) -> None:
    async with api_client(transport, cache, st_credentials) as client:
        for _ in range(5):
            assert (await client.get("/v2/tenant/1/vendors")).status_code == 200
    assert server.token_requests == 1
    assert len(server.api_requests) == 5
    assert server.token_hosts == [TOKEN_HOST]  # token URL on its own host, not the API's


async def test_cache_shared_by_two_clients(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    st_credentials: ClientCredentials,
) -> None:
    async with (
        api_client(transport, cache, st_credentials) as one,
        api_client(transport, cache, st_credentials) as two,
    ):
        await one.get("/a")
        await two.get("/b")
    assert server.token_requests == 1


async def test_form_credentials_no_scope_and_app_key_on_every_call(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    st_credentials: ClientCredentials,
) -> None:
    """servicetitan-api.md §1.1: form fields, no scope; §1.2: ST-App-Key on every call."""
    server.app_key = sandbox.SERVICETITAN_APP_KEY
    async with api_client(
        transport, cache, st_credentials, extra_headers={"ST-App-Key": sandbox.SERVICETITAN_APP_KEY}
    ) as client:
        assert (await client.get("/x")).status_code == 200
        assert (await client.post("/y", json={"a": 1})).status_code == 200
    form = server.token_forms[0]
    assert form == {
        "grant_type": "client_credentials",
        "client_id": sandbox.SERVICETITAN_CLIENT_ID,
        "client_secret": sandbox.SERVICETITAN_CLIENT_SECRET,
    }
    assert server.token_auth_headers == [None]


async def test_basic_client_auth_with_scope(
    server: FakeServer,
    transport: httpx.ASGITransport,
    clock: FakeClock,
    token_http: httpx.AsyncClient,
) -> None:
    """oracle-fusion-api.md §2.2: Basic client authentication at the identity domain, with scope."""
    server.client_id, server.client_secret = sandbox.FUSION_CLIENT_ID, sandbox.FUSION_CLIENT_SECRET
    server.expires_in = 3600
    creds = ClientCredentials(
        token_url=TOKEN_URL,
        client_id=sandbox.FUSION_CLIENT_ID,
        client_secret=sandbox.FUSION_CLIENT_SECRET,
        scope=sandbox.FUSION_SCOPE,
        method=ClientAuthMethod.BASIC,
    )
    cache = TokenCache(http=token_http, clock=clock)
    async with api_client(transport, cache, creds) as client:
        assert (await client.get("/fscmRestApi/resources/11.13.18.05/suppliers")).status_code == 200
    assert server.token_forms[0] == {
        "grant_type": "client_credentials",
        "scope": sandbox.FUSION_SCOPE,
    }
    header = server.token_auth_headers[0]
    assert header is not None
    decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
    assert decoded == f"{sandbox.FUSION_CLIENT_ID}:{sandbox.FUSION_CLIENT_SECRET}"


async def test_servicetitan_token_renewed_at_80_percent(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    clock: FakeClock,
    st_credentials: ClientCredentials,
) -> None:
    """900-s tokens are renewed at 720 s (80 %), before the 13-min age rule would."""
    async with api_client(transport, cache, st_credentials) as client:
        await client.get("/a")
        clock.advance(719)
        await client.get("/b")
        assert server.token_requests == 1
        clock.advance(1)
        await client.get("/c")
        assert server.token_requests == 2
    # no request was ever refused: the refresh was proactive
    assert all(h is not None for _, _, h in server.api_requests)
    assert len(server.api_requests) == 3


async def test_hour_token_renewed_at_13_minutes(
    server: FakeServer, transport: httpx.ASGITransport, cache: TokenCache, clock: FakeClock
) -> None:
    server.expires_in = 3600
    creds = ClientCredentials(
        token_url=TOKEN_URL, client_id=server.client_id, client_secret=server.client_secret
    )
    async with api_client(transport, cache, creds) as client:
        await client.get("/a")
        clock.advance(13 * 60 - 1)
        await client.get("/b")
        assert server.token_requests == 1
        clock.advance(1)
        await client.get("/c")
        assert server.token_requests == 2


def test_refresh_age_policy() -> None:
    policy = TokenPolicy()
    assert policy.refresh_age(900) == 720
    assert policy.refresh_age(3600) == 780
    assert TokenPolicy(refresh_after=60).refresh_age(900) == 60


async def test_token_expiring_mid_sequence_is_refreshed_transparently(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    clock: FakeClock,
    st_credentials: ClientCredentials,
) -> None:
    """A long run of requests over 40 fake minutes never sees an error (lessons §2.3)."""
    async with api_client(transport, cache, st_credentials) as client:
        for _ in range(40):
            response = await client.get("/page")
            assert response.status_code == 200
            clock.advance(60)
    assert server.token_requests == 4  # at 0, 12, 24 and 36 minutes
    assert cache.stats(st_credentials).refresh_count == 4
    assert cache.stats(st_credentials).last_success_at == clock.now() - timedelta(minutes=4)


async def test_concurrent_requests_during_refresh_make_one_token_request(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    clock: FakeClock,
    st_credentials: ClientCredentials,
) -> None:
    # The token endpoint is throttled once, so the refresh spans a (fake) wait and every other
    # request piles up behind the lock while it is in progress.
    server.token_script.append(Scripted(429, "{}", {"Retry-After": "2"}))
    async with api_client(transport, cache, st_credentials) as client:
        responses = await asyncio.gather(*(client.get(f"/r/{i}") for i in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert server.token_requests == 2  # the throttled one and the one success
    assert clock.slept == [2.0]


async def test_forced_401_refreshes_once_and_resends_once(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    st_credentials: ClientCredentials,
) -> None:
    async with api_client(transport, cache, st_credentials) as client:
        await client.get("/warm")
        server.revoked.add(next(iter(server.issued)))  # token revoked server-side
        response = await client.get("/after-revoke")
    assert response.status_code == 200
    assert server.token_requests == 2
    assert server.count("GET", "/after-revoke") == 2  # the refused one and one resend


async def test_concurrent_401s_for_the_same_token_cause_one_refresh(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    st_credentials: ClientCredentials,
) -> None:
    async with api_client(transport, cache, st_credentials) as client:
        await client.get("/warm")
        server.revoked.add(next(iter(server.issued)))
        responses = await asyncio.gather(*(client.get(f"/c/{i}") for i in range(8)))
    assert {r.status_code for r in responses} == {200}
    assert server.token_requests == 2


async def test_second_401_is_returned_and_raised_as_auth_error(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    clock: FakeClock,
    st_credentials: ClientCredentials,
) -> None:
    server.reject_all_tokens = True
    async with api_client(transport, cache, st_credentials) as client:
        response = await client.get("/x")
        assert response.status_code == 401
        assert server.count("GET", "/x") == 2
        with pytest.raises(AuthError) as caught:
            await send_with_retry(
                client,
                lambda: client.build_request("GET", "/vendors"),
                RetryPolicy(),
                clock,
                system="servicetitan",
                resource="vendors",
            )
    assert isinstance(caught.value, FatalError)
    assert "servicetitan" in str(caught.value)
    assert server.count("GET", "/vendors") == 2  # one refresh + resend, then no more


async def test_post_body_is_resent_after_401(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    st_credentials: ClientCredentials,
) -> None:
    async with api_client(transport, cache, st_credentials) as client:
        await client.get("/warm")
        server.revoked.add(next(iter(server.issued)))
        response = await client.post("/invoices", json={"number": "INV-1"})
    assert response.status_code == 200
    assert server.count("POST", "/invoices") == 2  # refused unprocessed, then accepted


async def test_token_endpoint_429_backs_off_then_succeeds(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    clock: FakeClock,
    st_credentials: ClientCredentials,
) -> None:
    server.token_script += [
        Scripted(429, '{"title": "Rate limit is exceeded."}', {"Retry-After": "5"}),
        Scripted(429, "{}", {"Retry-After": "3"}),
    ]
    token = await cache.get(st_credentials)
    assert token.value.startswith("tok-")
    assert clock.slept == [5.0, 3.0]
    assert server.token_requests == 3
    assert cache.stats(st_credentials).refresh_count == 1


async def test_token_endpoint_backoff_is_bounded(
    server: FakeServer, cache: TokenCache, clock: FakeClock, st_credentials: ClientCredentials
) -> None:
    server.token_script += [Scripted(503, "<html>down</html>", media_type="text/html")] * 10
    with pytest.raises(TokenUnavailable) as caught:
        await cache.get(st_credentials)
    assert isinstance(caught.value, RetriableError)
    assert server.token_requests == 4  # the policy's attempt cap
    assert sum(clock.slept) <= 60.0
    assert cache.stats(st_credentials).last_error is not None


async def test_invalid_client_raises_clear_error_without_secret(
    server: FakeServer,
    cache: TokenCache,
    st_credentials: ClientCredentials,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server.client_secret = "the-rotated-secret"
    with pytest.raises(InvalidClientError) as caught:
        await cache.get(st_credentials)
    message = str(caught.value)
    assert "check client id/secret" in message
    assert st_credentials.client_id in message
    assert "invalid_client" in message
    assert st_credentials.client_secret not in message
    assert st_credentials.client_secret not in repr(st_credentials)
    assert st_credentials.client_secret not in caplog.text
    assert server.token_requests == 1  # not retried: retrying cannot fix a wrong secret


async def test_invalid_client_as_401_too(
    server: FakeServer, cache: TokenCache, st_credentials: ClientCredentials
) -> None:
    server.token_script.append(Scripted(401, '{"error": "invalid_client"}'))
    with pytest.raises(InvalidClientError, match="check client id/secret"):
        await cache.get(st_credentials)


async def test_other_token_error_is_typed(
    server: FakeServer, cache: TokenCache, st_credentials: ClientCredentials
) -> None:
    server.token_script.append(Scripted(400, '{"error": "invalid_scope"}'))
    with pytest.raises(TokenEndpointError, match="invalid_scope") as caught:
        await cache.get(st_credentials)
    assert not isinstance(caught.value, InvalidClientError)


async def test_tokens_never_logged(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    clock: FakeClock,
    st_credentials: ClientCredentials,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with api_client(transport, cache, st_credentials) as client:
        await client.get("/a")
        server.revoked.add(next(iter(server.issued)))
        await client.get("/b")
    assert caplog.records  # the refresh and the 401 were logged...
    for token in server.issued:
        assert token not in caplog.text  # ...without the tokens
    assert st_credentials.client_secret not in caplog.text


async def test_static_basic_auth_for_fusion(clock: FakeClock) -> None:
    seen: list[str | None] = []

    async def app(
        scope: Scope, receive: Receive, send: Send
    ) -> None:  # a bare ASGI app: echo nothing, record the header
        headers = dict(scope["headers"])
        seen.append(headers.get(b"authorization", b"").decode() or None)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    auth = StaticBasicAuth(username=sandbox.FUSION_USERNAME, password=sandbox.FUSION_PASSWORD)
    async with create_client(
        base_url=f"https://{API_HOST}", transport=httpx.ASGITransport(app=app), auth=auth
    ) as client:
        await client.get("/fscmRestApi/resources/11.13.18.05/suppliers")
    expected = base64.b64encode(
        f"{sandbox.FUSION_USERNAME}:{sandbox.FUSION_PASSWORD}".encode()
    ).decode()
    assert seen == [f"Basic {expected}"]
    assert sandbox.FUSION_PASSWORD not in repr(auth)


async def test_retry_after_a_long_backoff_is_signed_with_a_fresh_token(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    clock: FakeClock,
    st_credentials: ClientCredentials,
) -> None:
    """servicetitan-api.md §1.2 / lessons-from-peers.md §2.3: backoffs must be re-authenticated."""
    server.api_script.append(Scripted(429, "{}", {"Retry-After": "800"}))
    async with api_client(transport, cache, st_credentials) as client:
        response = await send_with_retry(
            client,
            lambda: client.build_request("GET", "/export/invoices"),
            RetryPolicy(max_total_seconds=1000),
            clock,
            system="servicetitan",
            resource="export/invoices",
        )
    assert response.status_code == 200
    assert clock.slept == [800.0]
    assert server.token_requests == 2
    first, second = (h for _, _, h in server.api_requests)
    assert first != second  # the retry carried the new token, and was not refused
    assert len(server.api_requests) == 2


async def test_failed_proactive_refresh_keeps_the_valid_token(
    server: FakeServer,
    transport: httpx.ASGITransport,
    cache: TokenCache,
    clock: FakeClock,
    st_credentials: ClientCredentials,
) -> None:
    """DESIGN §3.2 rule 5: auth never causes an outage while the current token still works."""
    async with api_client(transport, cache, st_credentials) as client:
        await client.get("/a")
        clock.advance(720)  # refresh due
        server.token_script += [Scripted(503, "down")] * 4  # the cache's attempt cap
        response = await client.get("/b")
        assert response.status_code == 200
        assert server.token_requests == 5
        assert cache.stats(st_credentials).last_error == "HTTP 503 from the token endpoint"
        # the refresh is tried again 30 s later, and succeeds
        clock.advance(30)
        await client.get("/c")
        assert server.token_requests == 6
        assert cache.stats(st_credentials).last_error is None
        assert cache.stats(st_credentials).refresh_count == 2
    assert [p for _, p, _ in server.api_requests] == ["/a", "/b", "/c"]


async def test_failed_refresh_of_an_expiring_token_raises(
    server: FakeServer,
    cache: TokenCache,
    clock: FakeClock,
    st_credentials: ClientCredentials,
) -> None:
    await cache.get(st_credentials)
    clock.advance(880)  # inside the 30-s expiry margin
    server.token_script += [Scripted(503, "down")] * 4
    with pytest.raises(TokenUnavailable):
        await cache.get(st_credentials)


async def test_unreachable_token_endpoint_is_retried(
    server: FakeServer, clock: FakeClock, st_credentials: ClientCredentials
) -> None:
    transport = RefuseConnectTransport(httpx.ASGITransport(app=server.app()), refuse=2)
    async with create_client(base_url="", transport=transport) as http:
        cache = TokenCache(http=http, clock=clock)
        token = await cache.get(st_credentials)
    assert token.value in server.issued
    assert server.token_requests == 1  # the two refused attempts never arrived
    assert len(clock.slept) == 2


async def test_token_response_without_access_token_is_an_error(
    server: FakeServer, cache: TokenCache, st_credentials: ClientCredentials
) -> None:
    server.token_script.append(Scripted(200, '{"token_type": "Bearer"}'))
    with pytest.raises(TokenEndpointError, match="without an access_token"):
        await cache.get(st_credentials)


async def test_missing_expires_in_uses_the_default(
    server: FakeServer, cache: TokenCache, clock: FakeClock, st_credentials: ClientCredentials
) -> None:
    server.token_script.append(Scripted(200, '{"access_token": "tok-without-expiry-000"}'))
    token = await cache.get(st_credentials)
    assert token.expires_in == 3600
    assert token.refresh_at == clock.monotonic() + 780


def test_sync_clients_are_refused(cache: TokenCache, st_credentials: ClientCredentials) -> None:
    auth = OAuth2ClientCredentials(cache=cache, credentials=st_credentials)
    with (
        httpx.Client(auth=auth, base_url="https://api.test") as client,
        pytest.raises(RuntimeError, match="AsyncClient only"),
    ):
        client.get("/x")
