"""Typed Fusion errors that keep Oracle's own message and code (oracle-fusion-api.md §6).

Fusion answers a failed request in one of two shapes: the ADF error JSON
(``{"title", "status", "o:errorDetails": [{"detail", "o:errorCode", "o:errorPath"}]}``) when the
``Accept`` header asks for ``application/vnd.oracle.adf.error+json``, or plain text carrying ADF BC
codes (``JBO-27024: …``) and application message names (``AR_BILL_TO_SITE_NOT_FOUND``). Both are
read by :func:`parse_error_body` into :class:`ErrorItem` values, so a flow (or a person reading the
attention queue) sees the code Oracle documents, not "HTTP 400".

Every error names the system (``fusion``) and the resource, and never carries a secret (messages
go through the redaction registry).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import httpx

from ml_connector.errors import FatalError, RetriableError
from ml_connector.http.errors import AuthError, HttpStatusError, body_excerpt
from ml_connector.http.redaction import redact_text

SYSTEM = "fusion"
ADF_ERROR = "application/vnd.oracle.adf.error+json"
_MAX_DETAIL = 500

#: ``JBO-27024``, ``AR_BILL_TO_SITE_NOT_FOUND``, ``RCV_INVALID_PO_NUMBER``… at the start of a line.
_CODE = re.compile(r"^\s*((?:JBO|[A-Z]{2,5})[-_][A-Z0-9_]+)\s*[:\-]?\s*(.*)$")
#: A code anywhere in free text (``… failed: AR_BU_NOT_FOUND``).
_CODE_ANYWHERE = re.compile(r"\b(JBO-\d+|[A-Z]{2,5}_[A-Z0-9]+(?:_[A-Z0-9]+)+)\b")


@dataclass(frozen=True, kw_only=True)
class ErrorItem:
    """One message of a Fusion error reply."""

    detail: str
    code: str | None = None
    path: str | None = None


def _clip(text: str) -> str:
    text = redact_text(" ".join(text.split()))
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _from_adf(body: object) -> list[ErrorItem]:
    if not isinstance(body, dict):
        return []
    items: list[ErrorItem] = []
    details = body.get("o:errorDetails")
    if isinstance(details, list):
        for raw in details:
            if not isinstance(raw, dict):
                continue
            detail = str(raw.get("detail") or "").strip()
            code = str(raw.get("o:errorCode") or "").strip() or None
            path = str(raw.get("o:errorPath") or "").strip() or None
            if code is None:
                found = _CODE_ANYWHERE.search(detail)
                code = found.group(1) if found else None
            items.append(ErrorItem(detail=_clip(detail), code=code, path=path))
    if not items:
        detail = str(body.get("detail") or body.get("title") or "").strip()
        if detail:
            found = _CODE_ANYWHERE.search(detail)
            items.append(ErrorItem(detail=_clip(detail), code=found.group(1) if found else None))
    return items


def _from_text(text: str) -> list[ErrorItem]:
    items: list[ErrorItem] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _CODE.match(line)
        if match is not None:
            items.append(ErrorItem(detail=_clip(match.group(2) or line), code=match.group(1)))
            continue
        found = _CODE_ANYWHERE.search(line)
        items.append(ErrorItem(detail=_clip(line), code=found.group(1) if found else None))
    return items


def parse_error_body(content_type: str, text: str) -> list[ErrorItem]:
    """The messages of an error reply, in either shape; ``[]`` for an empty or HTML body."""
    stripped = text.strip()
    if not stripped:
        return []
    if "json" in content_type.lower() or stripped[:1] == "{":
        try:
            body = json.loads(stripped)
        except ValueError:
            body = None
        if body is not None:
            return _from_adf(body)
    if "html" in content_type.lower() or stripped[:1] == "<":
        return []
    return _from_text(stripped)


def parse_error(response: httpx.Response) -> list[ErrorItem]:
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return []
    return parse_error_body(response.headers.get("content-type", ""), text)


class FusionValidationError(FatalError):
    """Fusion refused the request as invalid (400): ``code`` and ``detail`` are Oracle's own.

    ``items`` holds every message when Fusion returned several (one per bad attribute).
    """

    def __init__(self, *, resource: str, method: str, status: int, items: list[ErrorItem]) -> None:
        first = items[0] if items else ErrorItem(detail=f"HTTP {status}")
        self.system = SYSTEM
        self.resource = resource
        self.method = method
        self.status = status
        self.items = tuple(items)
        self.code = first.code
        self.detail = first.detail
        self.path = first.path
        shown = "; ".join(f"{i.code}: {i.detail}" if i.code else i.detail for i in items[:3])
        super().__init__(
            f"{SYSTEM} {method} {resource} rejected (HTTP {status}): {shown or first.detail}"
        )


class NotFound(FatalError):
    """The resource or item does not exist (404, usually ``text/plain``)."""

    def __init__(self, *, resource: str, method: str, detail: str = "") -> None:
        self.system = SYSTEM
        self.resource = resource
        self.method = method
        self.detail = detail
        super().__init__(
            f"{SYSTEM} {method} {resource}: not found" + (f" ({detail})" if detail else "")
        )


class FusionAuthError(AuthError):
    """401 after one token refresh (OAuth) or on Basic credentials: the credentials are wrong."""

    def __init__(self, *, resource: str, basic: bool, excerpt: str = "") -> None:
        super().__init__(system=SYSTEM, resource=resource, status=401, excerpt=excerpt)
        self.hint = "check user/password" if basic else "check client id/secret"
        self.args = (
            f"{SYSTEM} refused the credentials for {resource} (HTTP 401)"
            + ("" if basic else " after a token refresh")
            + f": {self.hint}",
        )


class MissingPrivilege(FatalError):
    """403: the integration user lacks a privilege or data access for this resource."""

    def __init__(self, *, resource: str, method: str, detail: str = "") -> None:
        self.system = SYSTEM
        self.resource = resource
        self.method = method
        self.detail = detail
        super().__init__(
            f"{SYSTEM} {method} {resource}: HTTP 403, missing privilege"
            + (f" ({detail})" if detail else "")
            + "; grant the integration user the REST privilege for this resource"
        )


class ActionUnavailable(FatalError):
    """The pod has no such custom action (e.g. ``applyReceipt`` before release 26C).

    DESIGN §5 "Receipt application": the receipt stays unapplied and the record goes to attention
    as "apply in Fusion" — never silently left on account.
    """

    def __init__(self, *, resource: str, action: str) -> None:
        self.system = SYSTEM
        self.resource = resource
        self.action = action
        super().__init__(
            f"{SYSTEM} {resource} has no action {action} on this pod (older release); "
            "apply the receipt in Fusion"
        )


class FusionUnreachable(RetriableError):
    """The pod could not be reached at all (DNS, refused connection) within the retry policy."""

    def __init__(self, *, resource: str, cause: str) -> None:
        self.system = SYSTEM
        self.resource = resource
        super().__init__(f"{SYSTEM} {resource} unreachable ({cause}): check base URL")


class ReceivingTimeout(RetriableError):
    """A receiving receipt request stayed PENDING longer than the caller was willing to wait."""


def error_from_response(response: httpx.Response, *, resource: str, method: str) -> FatalError:
    """The typed error for a final non-2xx reply other than 401 (see :class:`FusionAuthError`)."""
    status = response.status_code
    items = parse_error(response)
    if status == 404:
        detail = items[0].detail if items else body_excerpt(response)
        return NotFound(resource=resource, method=method, detail=detail)
    if status == 403:
        return MissingPrivilege(
            resource=resource, method=method, detail=items[0].detail if items else ""
        )
    if items and 400 <= status < 500:
        return FusionValidationError(resource=resource, method=method, status=status, items=items)
    return HttpStatusError(
        system=SYSTEM,
        resource=resource,
        method=method,
        status=status,
        excerpt=body_excerpt(response),
    )
