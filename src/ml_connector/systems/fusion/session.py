"""One Fusion request, sent right: URL, headers, auth, concurrency cap, retries, typed errors.

:class:`FusionSession` is the only object that calls ``httpx`` for Fusion. It builds requests under
``{base_url}/fscmRestApi/resources/{rest_version}/`` with ``REST-Framework-Version`` and the
``Accept`` header that asks for ADF error JSON (oracle-fusion-api.md §1.1, §6), and sends them
through the shared decision functions of :mod:`ml_connector.http.retry` (``classify``, ``delay``,
``retry_after_seconds``) on the injected Clock.

The retry loop is the shared one (:class:`~ml_connector.systems.session.ApiSession`); this class
only says how a Fusion error reply becomes a typed error: the reply is where the Oracle code
(``AR_BILL_TO_SITE_NOT_FOUND``, ``JBO-27024``) lives, parsed by :mod:`ml_connector.systems.fusion.errors`.

Rules (DESIGN §3.2 rules 2, 5, 6): GETs retry freely; a write that left and got no clear answer
raises :class:`~ml_connector.http.errors.WriteMaybeCommitted` and is never re-sent here; 429 and
``Retry-After`` are honoured for every method; a 401 has already been answered once by the OAuth
auth flow (refresh + resend), so a 401 reaching this loop is final.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx

from ml_connector.clock import Clock
from ml_connector.http import (
    ClientCredentials,
    Decision,
    RetryPolicy,
    TokenCache,
    TransportFailure,
    body_excerpt,
)
from ml_connector.http.jsonbody import response_json
from ml_connector.systems.fusion.errors import (
    ADF_ERROR,
    SYSTEM,
    FusionAuthError,
    FusionUnreachable,
    error_from_response,
)
from ml_connector.systems.instrumentation import ApiObserver
from ml_connector.systems.session import ApiSession

log = logging.getLogger(__name__)

ACCEPT = f"application/json, {ADF_ERROR}"
RESOURCE_ITEM = "application/vnd.oracle.adf.resourceitem+json"
ACTION = "application/vnd.oracle.adf.action+json"


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # Oracle's own examples send amounts as strings ("451.23")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


def resource_name(path: str) -> str:
    """``receivablesInvoices/300100/child/x`` → ``receivablesInvoices/child/x`` (no ids in metrics)."""
    parts = [p for p in path.strip("/").split("/") if p and not p.isdigit()]
    return "/".join(parts) or "(root)"


class FusionSession(ApiSession):
    """Sends Fusion requests; owns nothing but the policy (the httpx client is passed in)."""

    system = SYSTEM

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        clock: Clock,
        retry: RetryPolicy,
        basic: bool,
        observer: ApiObserver | None = None,
        token_cache: TokenCache | None = None,
        credentials: ClientCredentials | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            http=http,
            clock=clock,
            retry=retry,
            observer=observer,
            token_cache=token_cache,
            credentials=credentials,
            rng=rng,
        )
        self.basic = basic

    def status_error(
        self,
        response: httpx.Response,
        decision: Decision,
        *,
        resource: str,
        method: str,
        ident: object,
    ) -> Exception:
        if decision is Decision.AUTH:
            return FusionAuthError(
                resource=resource, basic=self.basic, excerpt=body_excerpt(response)
            )
        return error_from_response(response, resource=resource, method=method)

    def unreachable(self, exc: BaseException, *, resource: str) -> Exception:
        return FusionUnreachable(resource=resource, cause=type(exc).__name__)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        content_type: str = RESOURCE_ITEM,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        """Send ``method path`` and return the 2xx response, or raise a typed error.

        ``path`` is relative to the version root (``suppliers``, ``standardReceipts/1/action/x``).
        """
        return await self.send(
            method,
            path,
            resource=resource_name(path),
            params=params,
            content=encode(body) if body is not None else None,
            content_type=content_type,
            retry=retry,
        )

    async def get_json(
        self, path: str, params: Mapping[str, str] | None = None, **kw: Any
    ) -> dict[str, Any]:
        response = await self.request("GET", path, params=params, **kw)
        return _json_object(response, path)

    async def send_json(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any],
        *,
        content_type: str = RESOURCE_ITEM,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self.request(
            method, path, params=params, body=body, content_type=content_type
        )
        return _json_object(response, path) if response.content else {}


def _json_object(response: httpx.Response, path: str) -> dict[str, Any]:
    try:
        body = response_json(response)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TransportFailure(
            system=SYSTEM,
            resource=resource_name(path),
            method=response.request.method,
            cause=f"expected a JSON object, got {body_excerpt(response, 80)!r}",
        )
    return body
