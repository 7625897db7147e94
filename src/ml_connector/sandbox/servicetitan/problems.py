"""ProblemDetails errors (reference §10).

Every API error the simulator sends is ``{type, title, status, traceId, errors, data}``: the
``ApiErrorResponse`` shape of the specs, with a W3C-style ``traceId``. Handlers raise
:class:`ApiProblem`; the route wrapper turns it into a response.
"""

from __future__ import annotations

import random
from typing import Any

from starlette.responses import JSONResponse

_TYPES = {
    400: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    401: "https://tools.ietf.org/html/rfc7235#section-3.1",
    403: "https://tools.ietf.org/html/rfc7231#section-6.5.3",
    404: "https://tools.ietf.org/html/rfc7231#section-6.5.4",
    409: "https://tools.ietf.org/html/rfc7231#section-6.5.8",
    422: "https://tools.ietf.org/html/rfc4918#section-11.2",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
}

_TITLES = {
    400: "One or more validation errors occurred.",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
}

_rng = random.Random()


def trace_id() -> str:
    """``00-<32 hex>-<16 hex>-00``, like ASP.NET's W3C activity ids."""
    return f"00-{_rng.getrandbits(128):032x}-{_rng.getrandbits(64):016x}-00"


class ApiProblem(Exception):
    """An error the API answers with a ProblemDetails body."""

    def __init__(
        self,
        status: int,
        title: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(title or _TITLES.get(status, "Error"))
        self.status = status
        self.title = title or _TITLES.get(status, "Error")
        self.errors = errors or {}
        self.data = data or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "type": _TYPES.get(self.status, "about:blank"),
            "title": self.title,
            "status": self.status,
            "traceId": trace_id(),
            "errors": self.errors,
            "data": self.data,
        }

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.body(),
            status_code=self.status,
            headers=self.headers,
            media_type="application/problem+json",
        )


def bad_request(field: str, message: str) -> ApiProblem:
    """A 400 whose ``errors`` names the field, like ASP.NET model validation."""
    return ApiProblem(400, errors={field: [message]})


def not_found(what: str, ident: int) -> ApiProblem:
    return ApiProblem(
        404, f"{what} with id {ident} not found", errors={"id": [f"{what} not found"]}
    )


def rate_limited(retry_after: int) -> ApiProblem:
    """The gateway's 429 (reference §9): ``Retry-After`` and the seconds in the title."""
    return ApiProblem(
        429,
        f"Rate limit is exceeded. Try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )
