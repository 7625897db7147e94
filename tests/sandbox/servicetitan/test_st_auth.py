"""Token endpoint and API authentication: servicetitan-api.md §1.1, §1.2 (and DESIGN §5 auth errors)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from st_helpers import ST, TOKEN_FORM, api

from ml_connector.sandbox import credentials
from ml_connector.sandbox.servicetitan import STSimConfig, STState, create_app


@pytest.fixture
def st_config() -> STSimConfig:
    """A low token-request limit so the throttle is reached in a few requests."""
    return STSimConfig(requests_per_second=100_000, token_requests_per_minute=5)


async def test_token_response_shape_and_claims(st: ST) -> None:
    """§1.1: 900 s Bearer token, JWT-shaped, with the tenant as a string claim and no scope sent."""
    response = await st.client.post("/connect/token", data=TOKEN_FORM)
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 900
    assert body["token_type"] == "Bearer"
    assert "tn.inv.vendors:r" in body["scope"].split()
    _header, claims, _sig = body["access_token"].split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["tenant"] == str(credentials.SERVICETITAN_TENANT_ID)
    assert decoded["exp"] - decoded["iat"] == 900
    assert isinstance(decoded["scope"], list)


@pytest.mark.parametrize(
    ("field", "value"),
    [("client_secret", "cs1.wrong"), ("client_id", "cid.someone-else")],
)
async def test_wrong_client_credentials_are_400_invalid_client(
    st: ST, field: str, value: str
) -> None:
    """§1.1 / DESIGN §5: wrong client credentials → 400 ``{"error": "invalid_client"}``."""
    response = await st.client.post("/connect/token", data={**TOKEN_FORM, field: value})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_client"}


async def test_other_grant_types_are_refused(st: ST) -> None:
    """§1.1: only client credentials exist."""
    response = await st.client.post("/connect/token", data={**TOKEN_FORM, "grant_type": "password"})
    assert response.status_code == 400
    assert response.json() == {"error": "unsupported_grant_type"}


async def test_token_expires_after_900_seconds_on_the_clock(st: ST) -> None:
    """§1.1: lifetime 900 s; §1.2: expired token → 401 ProblemDetails."""
    st.clock.advance(899)
    assert (await st.get("settings", "/business-units")).status_code == 200
    st.clock.advance(1)
    expired = await st.get("settings", "/business-units")
    assert expired.status_code == 401
    assert expired.json()["status"] == 401


async def test_raw_and_bearer_tokens_are_both_accepted(st: ST) -> None:
    """§1.2: the official example sends the raw token, singer-sdk sends ``Bearer``."""
    raw = st.headers["Authorization"]
    for value in (raw, f"Bearer {raw}", f"bearer {raw}"):
        response = await st.client.get(
            api("jpm", "/jobs"), headers={**st.headers, "Authorization": value}
        )
        assert response.status_code == 200, value


async def test_missing_or_wrong_app_key_is_401(st: ST) -> None:
    """§1.2: every call needs ``ST-App-Key``; DESIGN §5: a bad app key → 401."""
    no_key = {"Authorization": st.headers["Authorization"]}
    missing = await st.client.get(api("jpm", "/jobs"), headers=no_key)
    wrong = await st.client.get(api("jpm", "/jobs"), headers={**no_key, "ST-App-Key": "ak1.nope"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert set(response.json()) == {"type", "title", "status", "traceId", "errors", "data"}


async def test_missing_token_is_401(st: ST) -> None:
    """§1.2: missing token → 401."""
    headers = {"ST-App-Key": credentials.SERVICETITAN_APP_KEY}
    response = await st.client.get(api("jpm", "/jobs"), headers=headers)
    assert response.status_code == 401


async def test_tenant_in_path_must_match_the_token(st: ST) -> None:
    """§1.2 / §13: path tenant ≠ token ``tenant`` claim → 403."""
    response = await st.client.get(api("jpm", "/jobs", tenant=999), headers=st.headers)
    assert response.status_code == 403
    assert response.json()["status"] == 403


async def test_token_requests_are_throttled_per_client(st: ST, st_config: STSimConfig) -> None:
    """§1.1: token requests are throttled (limit configurable) → 429 with Retry-After."""
    limit = st_config.token_requests_per_minute
    statuses = [
        (await st.client.post("/connect/token", data=TOKEN_FORM)).status_code for _ in range(limit)
    ]
    # The fixture already took one token, so the limit is reached one request early.
    assert statuses[:-1] == [200] * (limit - 1)
    throttled = await st.client.post("/connect/token", data=TOKEN_FORM)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    st.clock.advance(60)
    assert (await st.client.post("/connect/token", data=TOKEN_FORM)).status_code == 200
    counts = (await st.client.get("/__admin/counts")).json()
    assert counts["tokenRequests"] == limit + 3


async def test_revoked_tokens_stop_working(st: ST) -> None:
    """Fault injection (DESIGN §3.4 "token revocation"): every issued token fails with 401."""
    assert (await st.get("jpm", "/jobs")).status_code == 200
    revoked = await st.client.post("/__admin/revoke-tokens")
    assert revoked.json() == {"revoked": 1}
    assert (await st.get("jpm", "/jobs")).status_code == 401
    fresh = await st.client.post("/connect/token", data=TOKEN_FORM)
    headers = {**st.headers, "Authorization": fresh.json()["access_token"]}
    assert (await st.client.get(api("jpm", "/jobs"), headers=headers)).status_code == 200
    st.app.state.servicetitan_sim.revoke_tokens()
    assert (await st.client.get(api("jpm", "/jobs"), headers=headers)).status_code == 401


async def test_a_token_without_the_scope_is_403(st: ST) -> None:
    """§13: token lacking the operation's scope → 403 (scopes come from the app registration)."""
    config = STSimConfig(scopes=("tn.jpm.jobs:r",))
    app = create_app(STState(clock=st.clock), clock=st.clock, config=config)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        token = (await c.post("/connect/token", data=TOKEN_FORM)).json()["access_token"]
        headers = {"Authorization": token, "ST-App-Key": credentials.SERVICETITAN_APP_KEY}
        assert (await c.get(api("jpm", "/jobs"), headers=headers)).status_code == 200
        denied = await c.get(api("crm", "/customers"), headers=headers)
        assert denied.status_code == 403
