"""The bodies a fault answers with, and the few ASGI sends that deliver them.

The bodies imitate what clients really receive, because the connector's error classification is
tested against them: a JSON ProblemDetails 429 from ServiceTitan's gateway, an empty or text 429
from Fusion, and HTML pages from a load balancer for 5xx (servicetitan-api.md §9 reports HTML on
503; §10 notes non-JSON error bodies). A client that assumes JSON on every error fails here first.
"""

from __future__ import annotations

import json
import random

import httpx
from starlette.types import Send

from ml_connector.sandbox.faults.config import RateLimitStyle

REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


class ConnectionDropped(httpx.ReadError):
    """Raised by the middleware to cut a connection after the application committed a write.

    Under uvicorn the raise comes after the response headers went out, so the server closes the
    socket mid-response and the client's read fails. In process, ``httpx.ASGITransport`` re-raises
    app exceptions to the caller; subclassing :class:`httpx.ReadError` means the caller sees the
    same exception family a real reset produces, so the connector's retry code is exercised as is.
    """


def trace_id(rng: random.Random) -> str:
    """A W3C-style trace id as ServiceTitan's ProblemDetails carry (servicetitan-api.md §10)."""
    return f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-00"


def rate_limit_response(
    style: RateLimitStyle, retry_after: int, rng: random.Random
) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of a 429 in the given system's style, always with ``Retry-After``."""
    headers = [(b"retry-after", str(retry_after).encode())]
    if style is RateLimitStyle.SERVICETITAN:
        body = json.dumps(
            {
                "type": "https://tools.ietf.org/html/rfc6585#section-4",
                "title": f"Rate limit is exceeded. Try again in {retry_after} seconds.",
                "status": 429,
                "traceId": trace_id(rng),
            }
        ).encode()
        headers.append((b"content-type", b"application/json; charset=utf-8"))
        return headers, body
    if style is RateLimitStyle.FUSION_TEXT:
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
        return headers, b"Too Many Requests"
    return headers, b""


def gateway_page(status: int) -> bytes:
    """An HTML error page of the kind a reverse proxy in front of an API produces."""
    title = f"{status} {REASONS.get(status, 'Error')}"
    return (
        "<html>\r\n"
        f"<head><title>{title}</title></head>\r\n"
        "<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n"
        "<hr><center>gateway</center>\r\n"
        "</body>\r\n"
        "</html>\r\n"
    ).encode()


async def send_response(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """Send a complete response: start with a content length, then the body in one message."""
    all_headers = list(headers or [])
    all_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_html(
    send: Send, status: int, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", b"text/html")]
    headers.extend(extra or [])
    await send_response(send, status, gateway_page(status), headers)


async def send_json(send: Send, status: int, payload: object) -> None:
    body = json.dumps(payload, default=str).encode()
    await send_response(send, status, body, [(b"content-type", b"application/json")])
