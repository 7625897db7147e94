"""In-process fake token endpoint and API for the HTTP-layer tests.

A small Starlette app speaks real HTTP semantics through ``httpx.ASGITransport``: a token endpoint
on its own host (``auth.test``) with real expiry on the test's FakeClock, and an API host
(``api.test``) that checks the bearer token (and the app key when configured), counts requests and
plays scripted responses. Nothing in httpx is mocked.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector.clock import FakeClock
from ml_connector.sandbox import credentials as sandbox

TOKEN_HOST = "auth.test"
API_HOST = "api.test"
TOKEN_URL = f"https://{TOKEN_HOST}/connect/token"
API_BASE = f"https://{API_HOST}"


@dataclass
class Scripted:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


@dataclass
class FakeServer:
    """State of the fake token endpoint and API, inspected by the tests."""

    clock: FakeClock
    client_id: str = sandbox.SERVICETITAN_CLIENT_ID
    client_secret: str = sandbox.SERVICETITAN_CLIENT_SECRET
    expires_in: int = 900
    app_key: str | None = None
    token_script: list[Scripted] = field(default_factory=list)
    api_script: list[Scripted] = field(default_factory=list)
    token_requests: int = 0
    token_forms: list[dict[str, str]] = field(default_factory=list)
    token_auth_headers: list[str | None] = field(default_factory=list)
    token_hosts: list[str] = field(default_factory=list)
    api_requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    reject_all_tokens: bool = False
    issued: dict[str, float] = field(default_factory=dict)
    _seq: Iterator[int] = field(default_factory=itertools.count)

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p, _ in self.api_requests if m == method and p == path)

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        self.token_hosts.append(request.headers.get("host", ""))
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.token_forms.append(form)
        self.token_auth_headers.append(request.headers.get("authorization"))
        if self.token_script:
            s = self.token_script.pop(0)
            return Response(s.body, s.status, headers=s.headers, media_type=s.media_type)
        cid, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization")
        if header and header.startswith("Basic "):
            cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if cid != self.client_id or secret != self.client_secret:
            return JSONResponse({"error": "invalid_client"}, 400)
        value = f"tok-{next(self._seq)}-{'x' * 24}"
        self.issued[value] = self.clock.monotonic() + self.expires_in
        return JSONResponse(
            {"access_token": value, "expires_in": self.expires_in, "token_type": "Bearer"}
        )

    async def api(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        header = request.headers.get("authorization")
        self.api_requests.append((request.method, path, header))
        token = (header or "").removeprefix("Bearer ")
        expiry = self.issued.get(token)
        if (
            self.reject_all_tokens
            or expiry is None
            or token in self.revoked
            or self.clock.monotonic() >= expiry
        ):
            return JSONResponse(
                {"type": "about:blank", "title": "Unauthorized", "status": 401, "traceId": "t"},
                401,
            )
        if self.app_key is not None and request.headers.get("st-app-key") != self.app_key:
            return JSONResponse({"title": "Missing app key", "status": 401}, 401)
        if self.api_script:
            s = self.api_script.pop(0)
            return Response(s.body, s.status, headers=s.headers, media_type=s.media_type)
        return JSONResponse({"ok": True, "path": path, "token": token[:6]})

    def app(self) -> Starlette:
        async def route(request: Request) -> Response:
            host = request.headers.get("host", "")
            if host == TOKEN_HOST and request.url.path == "/connect/token":
                return await self.token(request)
            if host == API_HOST:
                return await self.api(request)
            return JSONResponse({"title": "not found"}, 404)

        return Starlette(
            routes=[Route("/{path:path}", route, methods=["GET", "POST", "PATCH", "PUT"])]
        )


@dataclass
class ScriptedServer:
    """An API without auth that plays scripted responses in order, then 200s, counting requests."""

    script: list[Scripted] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def count(self, method: str, path: str) -> int:
        return self.requests.count((method, path))

    def app(self) -> Starlette:
        async def route(request: Request) -> Response:
            await request.body()
            self.requests.append((request.method, request.url.path))
            if self.script:
                s = self.script.pop(0)
                return Response(s.body, s.status, headers=s.headers, media_type=s.media_type)
            return JSONResponse({"ok": True})

        return Starlette(
            routes=[Route("/{path:path}", route, methods=["GET", "POST", "PATCH", "PUT"])]
        )


class LoseResponseTransport(httpx.AsyncBaseTransport):
    """Delivers the request to the app (which acts on it), then loses the answer: a read timeout.

    This is the "response lost after the write committed" fault (DESIGN §3.4), at the transport
    seam httpx documents for custom transports.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, *, lose: int = 1) -> None:
        self._inner = inner
        self.lose = lose

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if self.lose > 0:
            self.lose -= 1
            await response.aclose()
            raise httpx.ReadTimeout("timed out waiting for the response", request=request)
        return response


class RefuseConnectTransport(httpx.AsyncBaseTransport):
    """Refuses the first ``refuse`` connections before anything is sent, then passes through."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, refuse: int = 1) -> None:
        self._inner = inner
        self.refuse = refuse

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refuse > 0:
            self.refuse -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self._inner.handle_async_request(request)
