"""``FusionClient`` — the only code that talks HTTP to Oracle Fusion.

Flows call typed methods (:mod:`.procurement`, :mod:`.receivables`, :mod:`.lookups`,
:mod:`.check`) and never see URLs, tokens, status codes or retries. This module assembles them and
builds the transport stack once::

    FusionClient.from_settings(settings, secret=…, clock=…, token_cache=…, concurrency=…)

    httpx.AsyncClient(base_url={base_url}/fscmRestApi/resources/{rest_version}/,
                      auth=OAuth2ClientCredentials | StaticBasicAuth,
                      headers: REST-Framework-Version, Accept: application/json + ADF error JSON)
      └─ ThrottledTransport(cap = ConcurrencyRegistry[pod host], limit = settings.max_concurrency)
           └─ the given transport (httpx.ASGITransport in tests) or an HTTP transport

OAuth uses client credentials with **Basic client authentication** and the configured scope, at a
token URL separate from the base URL (oracle-fusion-api.md §2.2); tokens come from a
:class:`~ml_connector.http.TokenCache` shared by every client of the same credentials. Basic mode
sends the integration user's credentials on every call (§2.1).
"""

from __future__ import annotations

import random
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from ml_connector.clock import Clock
from ml_connector.errors import ConfigError
from ml_connector.http import (
    ClientAuthMethod,
    ClientCredentials,
    ConcurrencyCap,
    ConcurrencyRegistry,
    HttpLimits,
    HttpTimeouts,
    OAuth2ClientCredentials,
    RetryPolicy,
    StaticBasicAuth,
    ThrottledTransport,
    TokenCache,
    TokenStats,
    create_client,
)
from ml_connector.http.factory import MAX_READ_TIMEOUT
from ml_connector.secrets import Secret
from ml_connector.settings import FusionAuthMode, FusionSettings
from ml_connector.systems.fusion.check import CheckApi
from ml_connector.systems.fusion.lookups import DEFAULT_TTL, LookupApi
from ml_connector.systems.fusion.procurement import ProcurementApi
from ml_connector.systems.fusion.receivables import ReceivablesApi
from ml_connector.systems.fusion.session import ACCEPT, FusionSession
from ml_connector.systems.instrumentation import ApiObserver

DEFAULT_RETRY = RetryPolicy(max_attempts=6, max_total_seconds=300.0, base_delay=1.0, max_delay=60.0)


def api_root(settings: FusionSettings) -> str:
    """``https://pod/fscmRestApi/resources/11.13.18.05/`` (any host shape; §1)."""
    return f"{str(settings.base_url).rstrip('/')}/fscmRestApi/resources/{settings.rest_version}/"


class FusionClient(ProcurementApi, ReceivablesApi, LookupApi, CheckApi):
    """Typed access to one Fusion pod. Use as ``async with FusionClient.from_settings(...)``."""

    def __init__(
        self,
        *,
        settings: FusionSettings,
        session: FusionSession,
        clock: Clock,
        cap: ConcurrencyCap,
        owned: list[httpx.AsyncClient],
        token_cache: TokenCache | None = None,
        credentials: ClientCredentials | None = None,
        lookup_ttl: float = DEFAULT_TTL,
        segment_labels: tuple[str, ...] | None = None,
        segment_separator: str = "-",
    ) -> None:
        self._settings = settings
        self._session = session
        self._clock = clock
        self._cap = cap
        self._owned = owned
        self._token_cache = token_cache
        self._credentials = credentials
        self._lookup_ttl = lookup_ttl
        self._lookup_cache = {}
        self._segment_labels = segment_labels
        self._segment_separator = segment_separator

    @classmethod
    def from_settings(
        cls,
        settings: FusionSettings,
        *,
        secret: Secret | str,
        clock: Clock,
        token_cache: TokenCache | None = None,
        concurrency: ConcurrencyRegistry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        observer: ApiObserver | None = None,
        lookup_ttl: float = DEFAULT_TTL,
        segment_labels: tuple[str, ...] | None = None,
        segment_separator: str = "-",
        rng: random.Random | None = None,
    ) -> FusionClient:
        """Build a client. ``secret`` is the OAuth client secret or the Basic password.

        ``token_cache`` and ``concurrency`` should be the process-wide shared ones; without them a
        private cache and cap are made (fine for one-off commands and tests). ``transport`` is the
        innermost transport (``httpx.ASGITransport`` against the simulator)."""
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if not settings.framework_version.isdigit() or int(settings.framework_version) < 2:
            raise ConfigError(
                f"fusion.framework_version = {settings.framework_version!r}: the client sends q "
                "as an expression, which needs REST-Framework-Version 2 or later (4 recommended)"
            )
        root = api_root(settings)
        host = urlsplit(root).netloc
        registry = concurrency or ConcurrencyRegistry(limit=settings.max_concurrency)
        cap = registry.get(("fusion", host), limit=settings.max_concurrency)
        inner = transport or httpx.AsyncHTTPTransport(limits=HttpLimits().to_httpx())
        timeouts = HttpTimeouts(read=min(settings.timeout_seconds, MAX_READ_TIMEOUT))
        headers = {"REST-Framework-Version": settings.framework_version, "Accept": ACCEPT}
        owned: list[httpx.AsyncClient] = []
        auth: httpx.Auth
        credentials: ClientCredentials | None = None
        if settings.auth is FusionAuthMode.OAUTH:
            assert settings.token_url is not None
            assert settings.client_id is not None
            credentials = ClientCredentials(
                token_url=str(settings.token_url),
                client_id=settings.client_id,
                client_secret=value,
                scope=settings.scope,
                method=ClientAuthMethod.BASIC,
            )
            if token_cache is None:
                token_http = create_client(
                    base_url=str(settings.token_url), timeout=timeouts, transport=transport
                )
                owned.append(token_http)
                token_cache = TokenCache(http=token_http, clock=clock)
            auth = OAuth2ClientCredentials(cache=token_cache, credentials=credentials)
        else:
            assert settings.username is not None
            auth = StaticBasicAuth(username=settings.username, password=value)
        http = create_client(
            base_url=root,
            timeout=timeouts,
            transport=ThrottledTransport(inner, cap=cap),
            auth=auth,
            headers=headers,
        )
        owned.append(http)
        session = FusionSession(
            http=http,
            clock=clock,
            retry=retry or DEFAULT_RETRY,
            basic=settings.auth is FusionAuthMode.BASIC,
            observer=observer,
            token_cache=token_cache,
            credentials=credentials,
            rng=rng,
        )
        return cls(
            settings=settings,
            session=session,
            clock=clock,
            cap=cap,
            owned=owned,
            token_cache=token_cache,
            credentials=credentials,
            lookup_ttl=lookup_ttl,
            segment_labels=segment_labels,
            segment_separator=segment_separator,
        )

    @property
    def concurrency_cap(self) -> ConcurrencyCap:
        """The pod's cap (shared with every client of the same pod); ``peak`` shows the most in flight."""
        return self._cap

    @property
    def token_stats(self) -> TokenStats | None:
        """Token counters for OAuth; None with Basic auth (no token to be fresh)."""
        if self._token_cache is None or self._credentials is None:
            return None
        return self._token_cache.stats(self._credentials)

    async def _authenticate(self) -> None:
        if self._token_cache is not None and self._credentials is not None:
            await self._token_cache.get(self._credentials)

    async def aclose(self) -> None:
        for http in self._owned:
            await http.aclose()

    async def __aenter__(self) -> FusionClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
