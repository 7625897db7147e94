"""OAuth 2.0 client credentials as an ``httpx.Auth``, with a token cache shared across clients.

Why it looks like this (DESIGN §3.2 rule 5; lessons-from-peers §2.3; servicetitan-api.md §1;
oracle-fusion-api.md §2):

* **One token per credential set, not per request or per stream.** :class:`TokenCache` is keyed by
  (token URL, client id) and shared by every client using those credentials; ServiceTitan throttles
  token requests.
* **Refreshed before it expires**: at ``refresh_after`` seconds of age (13 min by default) and never
  later than ``max_lifetime_fraction`` (80 %) of ``expires_in`` — ServiceTitan's 900-s tokens are
  renewed at 720 s, Fusion's 1-h tokens at 13 min.
* **One refresh at a time**: an ``asyncio.Lock`` per key; concurrent requests wait for that refresh.
* **A 401 is answered once**: the auth flow drops the token that failed, fetches a new one and
  resends the request once. A second 401 goes back to the caller (the retry layer raises
  :class:`~ml_connector.http.errors.AuthError`).
* **The token URL is separate from the API base URL** (different hosts in both systems); the cache
  makes its own calls through the client it is given.
* **Client authentication** by HTTP Basic header (OCI IAM identity domain) or by form fields
  (ServiceTitan); ``scope`` only when set (Fusion sends one, ServiceTitan none).
* **Throttled token endpoint** (429, 5xx, connection errors): bounded backoff on the injected Clock,
  honouring ``Retry-After``. ``invalid_client`` raises :class:`InvalidClientError` naming the
  client id and telling the user to check the id/secret — never the secret.
* Secrets and issued tokens are registered with the redaction registry and never logged.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import logging
import random
from collections.abc import AsyncGenerator, Generator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

import httpx

from ml_connector.clock import Clock
from ml_connector.http.errors import InvalidClientError, TokenEndpointError, TokenUnavailable
from ml_connector.http.redaction import (
    is_secret_header,
    redact_url,
    register_secret,
    unregister_secret,
)
from ml_connector.http.retry import RetryPolicy, delay, retry_after_seconds

log = logging.getLogger(__name__)

#: ``error`` codes meaning the credentials themselves are wrong (RFC 6749 §5.2).
CREDENTIAL_ERRORS = frozenset({"invalid_client", "unauthorized_client", "invalid_grant"})


class ClientAuthMethod(enum.Enum):
    """How the client proves itself to the token endpoint."""

    BASIC = "basic"  # Authorization: Basic base64(id:secret) — OCI IAM identity domain
    FORM = "form"  # client_id / client_secret form fields — ServiceTitan


@dataclass(frozen=True, kw_only=True)
class ClientCredentials:
    """One OAuth client: where to get tokens and with what. The secret is kept out of ``repr``."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    method: ClientAuthMethod = ClientAuthMethod.FORM

    @property
    def key(self) -> tuple[str, str]:
        return (self.token_url, self.client_id)


@dataclass(frozen=True, kw_only=True)
class TokenPolicy:
    """When to refresh and how hard to try the token endpoint."""

    refresh_after: float = 13 * 60.0
    max_lifetime_fraction: float = 0.8
    default_expires_in: float = 3600.0
    #: A token this close to expiry is never handed out, even when a refresh failed.
    expiry_margin: float = 30.0
    #: After a failed proactive refresh, keep the still-valid token and try again this much later.
    retry_refresh_after: float = 30.0
    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(
            max_attempts=5, max_total_seconds=120.0, base_delay=1.0, max_delay=30.0
        )
    )

    def refresh_age(self, expires_in: float) -> float:
        """Seconds after issue at which a token with lifetime ``expires_in`` is renewed."""
        return max(0.0, min(self.refresh_after, expires_in * self.max_lifetime_fraction))


@dataclass(frozen=True, kw_only=True)
class AccessToken:
    """A token as issued; ``refresh_at`` is on the clock's monotonic scale."""

    value: str = field(repr=False)
    token_type: str
    expires_in: float
    obtained_at: float
    refresh_at: float


@dataclass(kw_only=True)
class TokenStats:
    """What ``/readyz`` and the metrics report for one credential set."""

    refresh_count: int = 0
    last_success_at: datetime | None = None
    last_error: str | None = None


class TokenCache:
    """Tokens per (token URL, client id), shared by every client that uses those credentials.

    ``http`` is the client used to reach token endpoints (build it with
    :func:`~ml_connector.http.factory.create_client`; its base URL is irrelevant because token
    URLs are absolute).
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        clock: Clock,
        policy: TokenPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._http = http
        self._clock = clock
        self._policy = policy or TokenPolicy()
        self._rng = rng or random.Random()
        self._tokens: dict[tuple[str, str], AccessToken] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._stats: dict[tuple[str, str], TokenStats] = {}

    @property
    def policy(self) -> TokenPolicy:
        return self._policy

    def stats(self, credentials: ClientCredentials) -> TokenStats:
        """Refresh count, last success and last error for ``credentials`` (a live object)."""
        return self._stats.setdefault(credentials.key, TokenStats())

    def _fresh(self, key: tuple[str, str]) -> AccessToken | None:
        token = self._tokens.get(key)
        if token is not None and self._clock.monotonic() < token.refresh_at:
            return token
        return None

    async def get(self, credentials: ClientCredentials) -> AccessToken:
        """A valid token, fetching one if the cached one is missing or due for refresh."""
        key = credentials.key
        token = self._fresh(key)
        if token is not None:
            return token
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            token = self._fresh(key)  # someone else may have refreshed while we waited
            if token is not None:
                return token
            old = self._tokens.get(key)
            try:
                token = await self._fetch(credentials)
            except TokenUnavailable:
                fallback = self._still_usable(key, old)
                if fallback is None:
                    raise
                return fallback
            self._tokens[key] = token
            if old is not None and old.value != token.value:
                unregister_secret(old.value)
            return token

    def _still_usable(self, key: tuple[str, str], old: AccessToken | None) -> AccessToken | None:
        """After a failed *proactive* refresh, the old token if it is still safely valid.

        Auth must never cause an outage (DESIGN §3.2 rule 5): a throttled or briefly unreachable
        token endpoint at 80 % of a token's life is no reason to fail requests the old token can
        still carry. The refresh is tried again after ``retry_refresh_after`` seconds.
        """
        if old is None:
            return None
        now = self._clock.monotonic()
        expires_at = old.obtained_at + old.expires_in - self._policy.expiry_margin
        if now >= expires_at:
            return None
        kept = replace(old, refresh_at=min(now + self._policy.retry_refresh_after, expires_at))
        self._tokens[key] = kept
        log.warning(
            "token refresh failed; keeping the current token for %.0f s more", expires_at - now
        )
        return kept

    def invalidate(self, credentials: ClientCredentials, token: AccessToken | None = None) -> None:
        """Drop the cached token — only if it is still ``token``, so that concurrent 401s for the
        same stale token cause one refresh, not one each."""
        key = credentials.key
        current = self._tokens.get(key)
        if current is not None and (token is None or current.value == token.value):
            del self._tokens[key]

    async def _fetch(self, credentials: ClientCredentials) -> AccessToken:
        register_secret(credentials.client_secret)
        retry = self._policy.retry
        stats = self.stats(credentials)
        started = self._clock.monotonic()
        attempt = 0
        while True:
            attempt += 1
            hint: float | None = None
            try:
                # auth=None: the token client's own auth (if any) must never sign a token request.
                response = await self._http.send(self._build(credentials), auth=None)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__} reaching the token endpoint"
            else:
                if response.status_code == 200:
                    token = self._parse(credentials, response)
                    stats.refresh_count += 1
                    stats.last_success_at = self._clock.now()
                    stats.last_error = None
                    log.info(
                        "token obtained for client %s at %s (expires in %.0f s)",
                        credentials.client_id,
                        redact_url(credentials.token_url),
                        token.expires_in,
                    )
                    return token
                self._raise_if_fatal(credentials, response, stats)
                problem = f"HTTP {response.status_code} from the token endpoint"
                hint = retry_after_seconds(response, self._clock.now())
            wait = delay(retry, attempt, hint, self._rng)
            elapsed = self._clock.monotonic() - started
            stats.last_error = problem
            if attempt >= retry.max_attempts or elapsed + wait > retry.max_total_seconds:
                raise TokenUnavailable(
                    f"no token for client {credentials.client_id} from "
                    f"{redact_url(credentials.token_url)} after {attempt} attempt(s): {problem}",
                    retry_after=hint,
                )
            log.warning(
                "token request for client %s: %s; retrying in %.1f s",
                credentials.client_id,
                problem,
                wait,
            )
            await self._clock.sleep(wait)

    def _build(self, credentials: ClientCredentials) -> httpx.Request:
        data = {"grant_type": "client_credentials"}
        headers = {"Accept": "application/json"}
        if credentials.method is ClientAuthMethod.FORM:
            data["client_id"] = credentials.client_id
            data["client_secret"] = credentials.client_secret
        else:
            pair = f"{credentials.client_id}:{credentials.client_secret}".encode()
            encoded = base64.b64encode(pair).decode("ascii")
            register_secret(encoded)
            headers["Authorization"] = f"Basic {encoded}"
        if credentials.scope:
            data["scope"] = credentials.scope
        return self._http.build_request("POST", credentials.token_url, data=data, headers=headers)

    def _raise_if_fatal(
        self, credentials: ClientCredentials, response: httpx.Response, stats: TokenStats
    ) -> None:
        status = response.status_code
        if status == 429 or status == 408 or status >= 500:
            return
        error = ""
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("error"), str):
                error = body["error"]
        except ValueError:
            pass
        url = redact_url(credentials.token_url)
        if error in CREDENTIAL_ERRORS or (status in (400, 401) and not error):
            stats.last_error = f"{error or 'HTTP ' + str(status)} from the token endpoint"
            raise InvalidClientError(
                f"token endpoint {url} rejected client {credentials.client_id!r} "
                f"({error or 'HTTP ' + str(status)}): check client id/secret",
                token_url=url,
                status=status,
            )
        stats.last_error = f"HTTP {status} {error}".strip()
        raise TokenEndpointError(
            f"token endpoint {url} refused the request for client {credentials.client_id!r} "
            f"(HTTP {status}{', ' + error if error else ''})",
            token_url=url,
            status=status,
        )

    def _parse(self, credentials: ClientCredentials, response: httpx.Response) -> AccessToken:
        url = redact_url(credentials.token_url)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise TokenEndpointError(
                f"token endpoint {url} answered 200 without an access_token", token_url=url
            )
        value: str = body["access_token"]
        register_secret(value)
        try:
            expires_in = float(body.get("expires_in", self._policy.default_expires_in))
        except (TypeError, ValueError):
            expires_in = self._policy.default_expires_in
        now = self._clock.monotonic()
        return AccessToken(
            value=value,
            token_type=str(body.get("token_type") or "Bearer"),
            expires_in=expires_in,
            obtained_at=now,
            refresh_at=now + self._policy.refresh_age(expires_in),
        )


class OAuth2ClientCredentials(httpx.Auth):
    """Signs each request with a cached token and answers one 401 with one refresh and resend.

    ``header_format`` builds the Authorization value (``"Bearer {token}"``; ServiceTitan also
    accepts the raw token). ``extra_headers`` go on every request (ServiceTitan's ``ST-App-Key``);
    values of secret-looking headers are registered for redaction.
    Async only: the package never uses a sync client.
    """

    requires_request_body = True  # a resend after a 401 needs the body again

    def __init__(
        self,
        *,
        cache: TokenCache,
        credentials: ClientCredentials,
        extra_headers: Mapping[str, str] | None = None,
        header_format: str = "Bearer {token}",
    ) -> None:
        self.cache = cache
        self.credentials = credentials
        self.extra_headers = MappingProxyType(dict(extra_headers or {}))
        self.header_format = header_format
        self.resends_after_401 = 0
        register_secret(credentials.client_secret)
        for name, value in self.extra_headers.items():
            if is_secret_header(name):
                register_secret(value)

    def _sign(self, request: httpx.Request, token: AccessToken) -> None:
        request.headers.update(self.extra_headers)
        request.headers["Authorization"] = self.header_format.format(token=token.value)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("OAuth2ClientCredentials works with httpx.AsyncClient only")
        yield request  # pragma: no cover - makes this a generator

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.cache.get(self.credentials)
        self._sign(request, token)
        response = yield request
        if response.status_code != 401:
            return
        log.info(
            "401 from %s; refreshing the token for client %s and resending once",
            redact_url(request.url),
            self.credentials.client_id,
        )
        self.cache.invalidate(self.credentials, token)
        token = await self.cache.get(self.credentials)
        self._sign(request, token)
        self.resends_after_401 += 1
        yield request
