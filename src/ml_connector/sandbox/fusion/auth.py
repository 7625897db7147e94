"""OCI IAM identity-domain style token endpoint and API authentication (reference §2).

``POST /oauth2/v1/token`` takes a form-encoded ``client_credentials`` grant with the client authenticated by
a Basic header or by ``client_id``/``client_secret`` form fields. ``urn:opc:resource:consumer::all`` must be
requested alone (``invalid_scope`` otherwise, VERIFIED [S17]). The REST API accepts a live Bearer token
(expiry on the injected clock) or Basic with the sandbox user; anything else is a 401 with an empty body,
as pods answer without a structured error (reference §2.2, body shape INFERRED).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import timedelta
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ml_connector.sandbox import credentials

from .config import FusionSimConfig
from .state import FusionState

CONSUMER_ALL = "urn:opc:resource:consumer::all"
ACCEPTED_SCOPES = frozenset({credentials.FUSION_SCOPE, CONSUMER_ALL})


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def token_endpoint(request: Request) -> Response:
    state: FusionState = request.app.state.fusion
    config: FusionSimConfig = request.app.state.fusion_config
    state.meta.token_requests += 1
    form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    client = _basic(request.headers.get("authorization", ""))
    if client is None:
        client = (form.get("client_id", ""), form.get("client_secret", ""))
    response = _token_response(state, config, form, client)
    if response.status_code >= 400:
        state.meta.errors[str(response.status_code)] += 1
    return response


def _token_response(
    state: FusionState, config: FusionSimConfig, form: dict[str, str], client: tuple[str, str]
) -> JSONResponse:
    if client != (credentials.FUSION_CLIENT_ID, credentials.FUSION_CLIENT_SECRET):
        return _oauth_error(401, "invalid_client", "Client authentication failed.")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported.")
    scopes = form.get("scope", "").split()
    if not scopes or any(s not in ACCEPTED_SCOPES for s in scopes):
        return _oauth_error(400, "invalid_scope", "The requested scope is invalid or unknown.")
    if CONSUMER_ALL in scopes and len(scopes) > 1:
        return _oauth_error(400, "invalid_scope", f"{CONSUMER_ALL} must be requested alone.")
    token = secrets.token_urlsafe(32)
    lifetime = config.token_lifetime_seconds
    now = state.clock.now()
    for old in [t for t, expiry in state.meta.tokens.items() if expiry <= now]:
        del state.meta.tokens[old]  # keep long soak runs from accumulating dead tokens
    state.meta.tokens[token] = now + timedelta(seconds=lifetime)
    return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": lifetime})


def authenticated(request: Request, state: FusionState) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        expiry = state.meta.tokens.get(value.strip())
        return expiry is not None and state.clock.now() < expiry
    return _basic(header) == (credentials.FUSION_USERNAME, credentials.FUSION_PASSWORD)


def unauthorized() -> Response:
    return Response(
        content=b"", status_code=401, headers={"WWW-Authenticate": 'Bearer realm="fusion"'}
    )
