"""One ServiceTitan request, sent right: path, JSON, retries, instrumentation, typed errors.

:class:`STSession` is the only object that calls ``httpx`` for ServiceTitan. Auth (token +
``ST-App-Key``, one refresh and resend on a 401) and the 50 req/s bucket live in the httpx client's
auth and transport (built in :mod:`.client`); this loop decides what to do with each answer using
the shared pure functions of :mod:`ml_connector.http.retry` on the injected Clock.

The retry loop is the shared one (:class:`~ml_connector.systems.session.ApiSession`); this class
only says how an error reply becomes a typed error: the ProblemDetails ``title``/``errors``
(servicetitan-api.md §10) make a 400 actionable and tell a bad app key from a bad token.

Rules (DESIGN §3.2 rules 2, 5, 6): GETs retry 429 (``Retry-After``, else the "Try again in N
seconds." title), 502/503/504 and timeouts; a POST/PATCH that left and got no clear answer raises
:class:`~ml_connector.http.WriteMaybeCommitted` and is never re-sent here, unless the call is
idempotent in effect (``idempotent=True``: marking invoices exported, setting a payment status).
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from ml_connector.clock import Clock, ensure_aware
from ml_connector.http import (
    ClientCredentials,
    Decision,
    RetryPolicy,
    TokenCache,
    TransportFailure,
    body_excerpt,
)
from ml_connector.http.jsonbody import response_json
from ml_connector.systems.instrumentation import ApiObserver
from ml_connector.systems.servicetitan.errors import SYSTEM, STUnreachable, error_from_response
from ml_connector.systems.session import ApiSession

log = logging.getLogger(__name__)

_DECIMAL = re.compile(r'"\\u0000dec:([-+0-9.Ee]+)\\u0000"')


def _mark_decimals(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a finite amount")
        return f"\x00dec:{value}\x00"
    if isinstance(value, datetime):
        return st_time(value)
    if isinstance(value, Mapping):
        return {str(k): _mark_decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark_decimals(v) for v in value]
    return value


def encode(body: Any) -> bytes:
    """JSON with Decimals as JSON **numbers**, exactly as written (``12.50`` stays ``12.50``).

    ServiceTitan's request schemas type amounts as ``number``; a float would round (0.1 + 0.2),
    a string fails the schema. Decimals are marked on the way in and unquoted on the way out.
    """
    text = json.dumps(_mark_decimals(body), separators=(",", ":"))
    return _DECIMAL.sub(lambda m: m.group(1), text).encode()


def st_time(value: datetime, *, ceil: bool = False) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (servicetitan-api.md §3: ``+00:00`` is refused on some endpoints).

    Whole seconds: a lower bound is floored (reads a little more, never less); an exclusive upper
    bound is rounded up with ``ceil=True`` for the same reason.
    """
    aware = ensure_aware(value).astimezone(UTC)
    floored = aware.replace(microsecond=0)
    if ceil and floored != aware:
        floored += timedelta(seconds=1)
    return floored.strftime("%Y-%m-%dT%H:%M:%SZ")


class STSession(ApiSession):
    """Sends ServiceTitan requests for one tenant; owns nothing but the policy."""

    system = SYSTEM

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        tenant_id: int,
        clock: Clock,
        retry: RetryPolicy,
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
        self.tenant_id = tenant_id

    def path(self, namespace: str, resource_path: str) -> str:
        return f"{namespace}/v2/tenant/{self.tenant_id}/{resource_path.lstrip('/')}"

    def status_error(
        self,
        response: httpx.Response,
        decision: Decision,
        *,
        resource: str,
        method: str,
        ident: object,
    ) -> Exception:
        return error_from_response(response, resource=resource, method=method, ident=ident)

    def unreachable(self, exc: BaseException, *, resource: str) -> Exception:
        return STUnreachable(resource=resource, cause=type(exc).__name__)

    async def request(
        self,
        method: str,
        namespace: str,
        resource_path: str,
        *,
        resource: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        ident: object = None,
        idempotent: bool | None = None,
        retry: RetryPolicy | None = None,
    ) -> httpx.Response:
        """Send one call and return its 2xx response, or raise a typed error."""
        return await self.send(
            method,
            self.path(namespace, resource_path),
            resource=resource,
            params=params,
            content=encode(body) if body is not None else None,
            content_type="application/json",
            idempotent=idempotent,
            retry=retry,
            ident=ident,
        )

    async def get_json(
        self,
        namespace: str,
        resource_path: str,
        *,
        resource: str,
        params: Mapping[str, Any] | None = None,
        ident: object = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        response = await self.request(
            "GET",
            namespace,
            resource_path,
            resource=resource,
            params=params,
            ident=ident,
            retry=retry,
        )
        return _json(response, resource)

    async def send_json(
        self,
        method: str,
        namespace: str,
        resource_path: str,
        body: Any,
        *,
        resource: str,
        ident: object = None,
        idempotent: bool | None = None,
    ) -> Any:
        response = await self.request(
            method,
            namespace,
            resource_path,
            resource=resource,
            body=body,
            ident=ident,
            idempotent=idempotent,
        )
        return _json(response, resource) if response.content.strip() else None


def _json(response: httpx.Response, resource: str) -> Any:
    try:
        return response_json(response)
    except ValueError:
        raise TransportFailure(
            system=SYSTEM,
            resource=resource,
            method=response.request.method,
            cause=f"expected JSON, got {body_excerpt(response, 80)!r}",
        ) from None
