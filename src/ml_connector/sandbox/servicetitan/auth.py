"""The token endpoint and API authentication (reference §1).

Tokens are JWT-shaped (``header.claims.signature``, ``typ: at+jwt``) and carry the claims of the
documented sample (``tenant`` as a string, ``scope`` as a list, ``exp = iat + 900``), but the
simulator trusts only its own table of issued tokens: that is what makes :meth:`TokenIssuer.revoke_all`
work and keeps expiry on the injected clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from ml_connector.clock import Clock
from ml_connector.sandbox.servicetitan.config import STSimConfig


@dataclass(frozen=True, kw_only=True)
class TokenInfo:
    tenant: int
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime


class TokenError(Exception):
    """A refused token request: ``error`` is the OAuth error code; ``retry_after`` set when throttled."""

    def __init__(self, error: str, *, retry_after: int | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.retry_after = retry_after


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    """Issues, checks and revokes access tokens; throttles token requests per client."""

    def __init__(self, config: STSimConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._tokens: dict[str, TokenInfo] = {}
        self._requests: dict[str, deque[float]] = {}
        self.requests_served = 0

    def issue(self, *, grant_type: str, client_id: str, client_secret: str) -> dict[str, object]:
        """The token response body, or :class:`TokenError`."""
        self.requests_served += 1
        self._throttle(client_id)
        if grant_type != "client_credentials":
            raise TokenError("unsupported_grant_type")
        valid_id = hmac.compare_digest(client_id.encode(), self._config.client_id.encode())
        valid_secret = hmac.compare_digest(
            client_secret.encode(), self._config.client_secret.encode()
        )
        if not (valid_id and valid_secret):
            raise TokenError("invalid_client")
        now = self._clock.now()
        ttl = self._config.token_ttl_seconds
        claims = {
            "nbf": int(now.timestamp()),
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + ttl,
            "iss": "https://auth-sandbox.invalid",
            "client_id": client_id,
            "tenant": str(self._config.tenant_id),
            "jti": secrets.token_hex(16),
            "scope": list(self._config.scopes),
        }
        header = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt"}).encode())
        body = _b64(json.dumps(claims).encode())
        signature = hmac.new(
            self._config.client_secret.encode(), f"{header}.{body}".encode(), hashlib.sha256
        ).digest()
        token = f"{header}.{body}.{_b64(signature)}"
        self._tokens[token] = TokenInfo(
            tenant=self._config.tenant_id,
            client_id=client_id,
            scopes=self._config.scopes,
            expires_at=now + timedelta(seconds=ttl),
        )
        return {
            "access_token": token,
            "expires_in": ttl,
            "token_type": "Bearer",
            "scope": " ".join(self._config.scopes),
        }

    def _throttle(self, client_id: str) -> None:
        now = self._clock.monotonic()
        window = self._requests.setdefault(client_id, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= self._config.token_requests_per_minute:
            raise TokenError(
                "too_many_requests", retry_after=max(1, math.ceil(window[0] + 60 - now))
            )
        window.append(now)

    def check(self, authorization: str | None) -> TokenInfo | None:
        """The token's facts, or ``None`` when missing, unknown, revoked or expired."""
        if not authorization:
            return None
        token = authorization.strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        info = self._tokens.get(token)
        if info is None:
            return None
        if self._clock.now() >= info.expires_at:
            del self._tokens[token]
            return None
        return info

    def revoke_all(self) -> int:
        """Forget every issued token (fault injection); returns how many were revoked."""
        count = len(self._tokens)
        self._tokens.clear()
        return count
