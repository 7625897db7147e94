"""Token endpoint and API authentication — oracle-fusion-api.md §2 (and §10 "Hosts, versions, auth")."""

from __future__ import annotations

import httpx
import pytest
from fusion_kit import ROOT
from starlette.applications import Starlette

from ml_connector.clock import FakeClock
from ml_connector.sandbox import credentials as c
from ml_connector.sandbox.fusion import FusionSimConfig, FusionState, create_app

CLIENT = (c.FUSION_CLIENT_ID, c.FUSION_CLIENT_SECRET)


def raw_client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fusion.test")


async def get_token(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    data = {"grant_type": "client_credentials", "scope": c.FUSION_SCOPE, **form}
    return await client.post("/oauth2/v1/token", data=data, auth=CLIENT)


async def test_token_good_basic_client_auth(app: Starlette) -> None:
    """§2.2: form-encoded client_credentials, Basic client auth, expires_in 3600."""
    async with raw_client(app) as client:
        resp = await get_token(client)
        assert resp.status_code == 200
        body = resp.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        api = await client.get(
            ROOT + "suppliers", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert api.status_code == 200


async def test_token_client_auth_by_form_fields(app: Starlette) -> None:
    """§2.2: client authentication by form fields instead of a Basic header."""
    async with raw_client(app) as client:
        resp = await client.post(
            "/oauth2/v1/token",
            data={
                "grant_type": "client_credentials",
                "scope": c.FUSION_SCOPE,
                "client_id": c.FUSION_CLIENT_ID,
                "client_secret": c.FUSION_CLIENT_SECRET,
            },
        )
        assert resp.status_code == 200


async def test_token_bad_secret_is_invalid_client(app: Starlette) -> None:
    """§2.2: bad client credentials → 401 invalid_client."""
    async with raw_client(app) as client:
        resp = await client.post(
            "/oauth2/v1/token",
            data={"grant_type": "client_credentials", "scope": c.FUSION_SCOPE},
            auth=(c.FUSION_CLIENT_ID, "wrong"),
        )
        assert resp.status_code == 401
        assert resp.json()["error"] == "invalid_client"
        assert resp.json()["error_description"]


@pytest.mark.parametrize(
    ("scope", "status", "error"),
    [
        ("urn:opc:resource:consumer::all", 200, None),
        (f"urn:opc:resource:consumer::all {c.FUSION_SCOPE}", 400, "invalid_scope"),
        ("urn:opc:resource:consumer::all offline_access", 400, "invalid_scope"),
        ("something:else", 400, "invalid_scope"),
    ],
)
async def test_scope_rules(app: Starlette, scope: str, status: int, error: str | None) -> None:
    """§2.2 [S17]: consumer::all must be requested alone; unknown scopes are invalid_scope."""
    async with raw_client(app) as client:
        resp = await get_token(client, scope=scope)
        assert resp.status_code == status
        if error:
            assert resp.json()["error"] == error


async def test_token_expires_on_the_clock(fusion_state: FusionState, clock: FakeClock) -> None:
    """§2.2: tokens live expires_in seconds (configurable); an expired one gets 401 with an empty body."""
    app = create_app(fusion_state, clock=clock, config=FusionSimConfig(token_lifetime_seconds=600))
    async with raw_client(app) as client:
        token = (await get_token(client)).json()
        assert token["expires_in"] == 600
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        clock.advance(599)
        assert (await client.get(ROOT + "suppliers", headers=headers)).status_code == 200
        clock.advance(1)
        resp = await client.get(ROOT + "suppliers", headers=headers)
        assert resp.status_code == 401
        assert resp.content == b""
        await get_token(client)
        assert len(fusion_state.meta.tokens) == 1  # the expired token was pruned


async def test_revoked_token_gets_401(app: Starlette, fusion_state: FusionState) -> None:
    """§2.2 + fault seam: revoke_tokens() and POST /__admin/revoke-tokens invalidate live tokens."""
    async with raw_client(app) as client:
        token = (await get_token(client)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        fusion_state.revoke_tokens()
        assert (await client.get(ROOT + "suppliers", headers=headers)).status_code == 401
        token = (await get_token(client)).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get(ROOT + "suppliers", headers=headers)).status_code == 200
        revoked = await client.post("/__admin/revoke-tokens")
        assert revoked.json() == {"revoked": 1}
        assert (await client.get(ROOT + "suppliers", headers=headers)).status_code == 401


async def test_basic_auth_good_and_bad(app: Starlette) -> None:
    """§2.1: Basic with the sandbox user works; a wrong password or no credentials → 401."""
    async with raw_client(app) as client:
        good = await client.get(ROOT + "suppliers", auth=(c.FUSION_USERNAME, c.FUSION_PASSWORD))
        assert good.status_code == 200
        bad = await client.get(ROOT + "suppliers", auth=(c.FUSION_USERNAME, "nope"))
        assert bad.status_code == 401
        assert (await client.get(ROOT + "suppliers")).status_code == 401


async def test_token_requests_are_counted(app: Starlette) -> None:
    """Admin counts: token requests (good and bad) are counted."""
    async with raw_client(app) as client:
        await get_token(client)
        await client.post("/oauth2/v1/token", data={}, auth=("x", "y"))
        counts = (await client.get("/__admin/counts")).json()
        assert counts["token_requests"] == 2
