"""Typed ServiceTitan errors, parsed from the ProblemDetails body (servicetitan-api.md §10).

ServiceTitan answers 400, 404 and 409 (and, undocumented, 401, 403, 422, 429) with
``{type, title, status, traceId, errors: {field: [messages]}, data}``; gateways answer 5xx with
HTML. Every error here names the system and the resource, and carries the ``title`` and the
``errors`` map (HTML stripped, secrets redacted, never the whole body), because "400 Bad Request"
alone tells an operator nothing while ``taxRate: The value 'x' is not valid`` tells them what to fix.

Which class means what to the caller:

* :class:`NotFound` (a :class:`~ml_connector.errors.FatalError`) — the record is not there.
* :class:`STRequestError` — 400/409/422: the payload or the data is wrong; retrying cannot help.
* :class:`MissingScope` — 403: the app registration lacks a scope (``tn.inv.vendors:w``…).
* :class:`STAuthError` — 401 after one refresh: the token or the ``ST-App-Key`` is refused.
* :class:`STUnreachable` — DNS or connection failures outlasted the retries: check the base URL.
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from ml_connector.errors import FatalError, RetriableError
from ml_connector.http import HttpStatusError, body_excerpt
from ml_connector.http.redaction import redact_text

SYSTEM = "servicetitan"
MAX_FIELD_ERRORS = 5
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
#: Which scope a resource needs to be read (reference §1.1; writes need ``:w``).
SCOPES: dict[str, str] = {
    "vendors": "tn.inv.vendors",
    "purchase-orders": "tn.inv.purchaseorders",
    "purchase-order-types": "tn.inv.purchaseordertypes",
    "warehouses": "tn.inv.warehouses",
    "receipts": "tn.inv.receipts",
    "materials": "tn.pb.materials",
    "equipment": "tn.pb.equipment",
    "invoices": "tn.acc.invoices",
    "export/invoices": "tn.acc.invoices",
    "payments": "tn.acc.payments",
    "export/payments": "tn.acc.payments",
    "payment-types": "tn.acc.paymenttypes",
    "customers": "tn.crm.customers",
    "business-units": "tn.stt.businessunits",
    "jobs": "tn.jpm.jobs",
}


def _clean(text: str, limit: int = 200) -> str:
    text = html.unescape(_TAG.sub(" ", text))
    text = redact_text(_SPACE.sub(" ", text).strip())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def problem_details(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    """``(title, errors)`` from a ProblemDetails body; ``("", {})`` when the body is not one."""
    try:
        body: Any = response.json()
    except ValueError:
        return "", {}
    if not isinstance(body, dict):
        return "", {}
    title = _clean(str(body.get("title") or ""))
    errors: dict[str, list[str]] = {}
    raw = body.get("errors")
    if isinstance(raw, dict):
        for key, messages in list(raw.items())[:MAX_FIELD_ERRORS]:
            items = messages if isinstance(messages, list) else [messages]
            errors[_clean(str(key), 60)] = [_clean(str(m)) for m in items[:3]]
    return title, errors


def _summary(title: str, errors: dict[str, list[str]]) -> str:
    parts = [title] if title else []
    parts += [f"{key}: {'; '.join(messages)}" for key, messages in errors.items()]
    return " — ".join(parts)


def scope_for(resource: str, method: str) -> str:
    """The scope a call needs, e.g. ``tn.inv.vendors:w`` (best effort; unknown → ``tn.<resource>``)."""
    base = resource.split("/{")[0]
    key = next((k for k in SCOPES if base == k or base.startswith(k + "/")), None)
    scope = SCOPES.get(key or "", f"tn.{base}")
    writes = method.upper() != "GET"
    return f"{scope}:{'w' if writes else 'r'}"


class NotFound(FatalError):
    """The record does not exist (404)."""

    def __init__(self, *, resource: str, ident: object = None, title: str = "") -> None:
        what = f"{resource} {ident}" if ident is not None else resource
        detail = f": {title}" if title else ""
        super().__init__(f"{SYSTEM}: {what} not found{detail}")
        self.system = SYSTEM
        self.resource = resource
        self.ident = ident
        self.title = title


class STRequestError(HttpStatusError):
    """400, 409 or 422: ServiceTitan refused the request; ``title`` and ``errors`` say why."""

    def __init__(
        self,
        *,
        resource: str,
        method: str,
        status: int,
        title: str,
        errors: dict[str, list[str]],
        excerpt: str = "",
    ) -> None:
        super().__init__(
            system=SYSTEM,
            resource=resource,
            method=method,
            status=status,
            excerpt=_summary(title, errors) or excerpt,
        )
        self.title = title
        self.errors = errors


class MissingScope(HttpStatusError):
    """403: the app is not granted the scope this call needs.

    ServiceTitan also answers 403 when the token belongs to another tenant than the path's
    (servicetitan-api.md §13); ``wrong_tenant`` says so when the answer's title names the tenant.
    """

    def __init__(self, *, resource: str, method: str, scope: str, title: str = "") -> None:
        self.wrong_tenant = "tenant" in title.lower()
        reason = (
            "the token is not valid for this tenant: check the tenant id"
            if self.wrong_tenant
            else f"scope missing: {scope}"
        )
        super().__init__(
            system=SYSTEM,
            resource=resource,
            method=method,
            status=403,
            excerpt=reason + (f" ({title})" if title else ""),
        )
        self.scope = scope
        self.title = title


class STAuthError(FatalError):
    """401 even after a fresh token: the app key or the token is refused.

    ``app_key`` is True when ServiceTitan's answer names the ``ST-App-Key`` header.
    """

    def __init__(self, *, resource: str, title: str = "") -> None:
        self.app_key = "app-key" in title.lower() or "app key" in title.lower()
        hint = "check the app key" if self.app_key else "check client id/secret and the app key"
        detail = f" ({title})" if title else ""
        super().__init__(f"{SYSTEM} refused the credentials for {resource}{detail}: {hint}")
        self.system = SYSTEM
        self.resource = resource
        self.title = title


class STUnreachable(RetriableError):
    """No connection could be made (DNS, refused, connect timeout) within the retry policy."""

    def __init__(self, *, resource: str, cause: str) -> None:
        super().__init__(f"{SYSTEM} {resource}: cannot connect ({cause}): check base URL")
        self.system = SYSTEM
        self.resource = resource


def error_from_response(
    response: httpx.Response, *, resource: str, method: str, ident: object = None
) -> FatalError:
    """The typed error for a non-retriable ServiceTitan answer."""
    status = response.status_code
    title, errors = problem_details(response)
    if status == 404:
        return NotFound(resource=resource, ident=ident, title=title)
    if status == 401:
        return STAuthError(resource=resource, title=title)
    if status == 403:
        return MissingScope(
            resource=resource, method=method, scope=scope_for(resource, method), title=title
        )
    if status in (400, 409, 422) or title or errors:
        return STRequestError(
            resource=resource,
            method=method,
            status=status,
            title=title,
            errors=errors,
            excerpt=body_excerpt(response),
        )
    return HttpStatusError(
        system=SYSTEM,
        resource=resource,
        method=method,
        status=status,
        excerpt=body_excerpt(response),
    )
