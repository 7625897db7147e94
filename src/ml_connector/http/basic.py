"""HTTP Basic for Fusion integration users (oracle-fusion-api.md §2.1).

Kept apart from OAuth because it has no token life cycle: the same header on every request. A 401
here is final (wrong user/password or missing privilege), and the retry layer reports it as an
:class:`~ml_connector.http.errors.AuthError`.
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Mapping
from types import MappingProxyType

import httpx

from ml_connector.http.redaction import register_secret


class StaticBasicAuth(httpx.Auth):
    """HTTP Basic for Fusion integration users (oracle-fusion-api.md §2.1).

    Like ``httpx.BasicAuth``, plus the password and the encoded header are registered for
    redaction, and ``extra_headers`` are added to every request.
    """

    def __init__(
        self, *, username: str, password: str, extra_headers: Mapping[str, str] | None = None
    ) -> None:
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        register_secret(password)
        register_secret(encoded)
        self._header = f"Basic {encoded}"
        self.username = username
        self.extra_headers = MappingProxyType(dict(extra_headers or {}))

    def __repr__(self) -> str:
        return f"StaticBasicAuth(username={self.username!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        request.headers.update(self.extra_headers)
        request.headers["Authorization"] = self._header
        yield request
