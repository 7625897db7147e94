"""Error replies in the two shapes Fusion uses (reference §6).

Handlers raise :class:`ApiError`; the app turns it into plain text (the default, carrying ``JBO-…``/``AR_…``
codes) or into the ADF error JSON when the client's ``Accept`` asks for
``application/vnd.oracle.adf.error+json``. 404 is always ``text/plain`` (reference §6, [S61]).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ADF_ERROR = "application/vnd.oracle.adf.error+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    412: "Precondition Failed",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}


@dataclass(frozen=True, kw_only=True)
class ErrorDetail:
    detail: str
    code: str | None = None
    path: str | None = None


class ApiError(Exception):
    """A failed request; ``details`` become ``o:errorDetails`` or lines of plain text."""

    def __init__(self, status: int, *details: ErrorDetail) -> None:
        super().__init__(status, details)
        self.status = status
        self.details = details

    @classmethod
    def bad(cls, detail: str, *, code: str | None = None, path: str | None = None) -> ApiError:
        return cls(400, ErrorDetail(detail=detail, code=code, path=path))

    @classmethod
    def not_found(cls, what: str) -> ApiError:
        return cls(404, ErrorDetail(detail=what))


@dataclass(frozen=True, kw_only=True)
class Reply:
    """What a handler answers, independent of Starlette (the batch endpoint reuses it)."""

    status: int
    body: Any = None  # JSON-able value, str, or None for an empty body
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def wants_adf_error(accept: str) -> bool:
    return ADF_ERROR in accept.lower()


def error_reply(err: ApiError, *, accept: str) -> Reply:
    """Render ``err``; ``accept`` is the request's Accept header."""
    if err.status == 404:
        text = "\n".join(d.detail for d in err.details) or "Not Found"
        return Reply(status=404, body=text, content_type="text/plain")
    if wants_adf_error(accept):
        body = {
            "title": _TITLES.get(err.status, "Error"),
            "status": str(err.status),
            "o:errorDetails": [
                {"detail": d.detail, "o:errorCode": d.code or "", "o:errorPath": d.path or ""}
                for d in err.details
            ],
        }
        return Reply(status=err.status, body=body, content_type=ADF_ERROR)
    lines = [f"{d.code}: {d.detail}" if d.code else d.detail for d in err.details]
    return Reply(status=err.status, body="\n".join(lines), content_type="text/plain")
