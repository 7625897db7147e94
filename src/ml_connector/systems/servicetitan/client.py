"""``STClient`` — the only code that talks HTTP to ServiceTitan.

Flows call typed methods (:mod:`.inventory`, :mod:`.accounting`, :mod:`.check`) and never see URLs,
tokens, status codes or retries. The transport stack is built once::

    httpx.AsyncClient(base_url = settings.resolved_api_base_url,
                      auth = OAuth2ClientCredentials(form client auth, no scope,
                                                     extra header ST-App-Key))
      └─ ThrottledTransport(bucket = RateLimiterRegistry[(app key id, tenant)], 50 req/s default)
           └─ the given transport (httpx.ASGITransport in tests) or an HTTP transport

Tokens come from a :class:`~ml_connector.http.TokenCache` shared by every client of the same
credentials, fetched at the token URL (a different host from the API), renewed at 80 % of their
900 s, and refreshed once on a 401 (servicetitan-api.md §1; DESIGN §3.2 rule 5). The rate bucket
is shared per app key and tenant across clients and flows (rule 6), and counts every attempt.

Instrumentation: pass an :class:`~ml_connector.systems.instrumentation.ApiObserver` to count calls,
429s, latency and token refreshes; :attr:`STClient.token_stats` exposes the cache's counters.
"""

from __future__ import annotations

import hashlib
import random
from types import TracebackType

import httpx

from ml_connector.clock import Clock
from ml_connector.http import (
    ClientAuthMethod,
    ClientCredentials,
    HttpLimits,
    HttpTimeouts,
    OAuth2ClientCredentials,
    RateLimiterRegistry,
    RetryPolicy,
    ThrottledTransport,
    TokenBucket,
    TokenCache,
    TokenStats,
    create_client,
)
from ml_connector.http.factory import MAX_READ_TIMEOUT
from ml_connector.secrets import Secret
from ml_connector.settings import ServiceTitanSettings
from ml_connector.systems.instrumentation import ApiObserver
from ml_connector.systems.servicetitan.accounting import AccountingApi
from ml_connector.systems.servicetitan.check import CheckApi
from ml_connector.systems.servicetitan.inventory import InventoryApi
from ml_connector.systems.servicetitan.pagination import DEFAULT_PAGE_SIZE
from ml_connector.systems.servicetitan.session import STSession

DEFAULT_RETRY = RetryPolicy(max_attempts=8, max_total_seconds=300.0, base_delay=1.0, max_delay=60.0)
APP_KEY_HEADER = "ST-App-Key"


def limiter_key(app_key: str, tenant_id: int) -> tuple[str, str, int]:
    """The rate bucket's key: a digest of the app key (never the key itself) and the tenant."""
    digest = hashlib.sha256(app_key.encode()).hexdigest()[:16]
    return ("servicetitan", digest, tenant_id)


def _reveal(value: Secret | str) -> str:
    return value.reveal() if isinstance(value, Secret) else value


class STClient(InventoryApi, AccountingApi, CheckApi):
    """Typed access to one ServiceTitan tenant. Use as ``async with STClient.from_settings(...)``."""

    def __init__(
        self,
        *,
        settings: ServiceTitanSettings,
        client_secret: Secret | str,
        app_key: Secret | str,
        clock: Clock,
        token_cache: TokenCache | None = None,
        limiters: RateLimiterRegistry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        observer: ApiObserver | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self.page_size = page_size
        self.export_page_hint = settings.export_page_hint
        key = _reveal(app_key)
        timeouts = HttpTimeouts(read=min(settings.timeout_seconds, MAX_READ_TIMEOUT))
        self._owned: list[httpx.AsyncClient] = []
        self._credentials = ClientCredentials(
            token_url=str(settings.resolved_token_url),
            client_id=settings.client_id,
            client_secret=_reveal(client_secret),
            scope=None,
            method=ClientAuthMethod.FORM,
        )
        if token_cache is None:
            token_http = create_client(
                base_url=str(settings.resolved_token_url), timeout=timeouts, transport=transport
            )
            self._owned.append(token_http)
            token_cache = TokenCache(http=token_http, clock=clock)
        self._token_cache = token_cache
        rate, burst = settings.rate_limit_per_second, settings.rate_limit_burst
        registry = limiters or RateLimiterRegistry(clock=clock, rate=rate, burst=burst)
        self._bucket = registry.get(limiter_key(key, settings.tenant_id), rate=rate, burst=burst)
        inner = transport or httpx.AsyncHTTPTransport(limits=HttpLimits().to_httpx())
        self._auth = OAuth2ClientCredentials(
            cache=token_cache,
            credentials=self._credentials,
            extra_headers={APP_KEY_HEADER: key},
        )
        http = create_client(
            base_url=str(settings.resolved_api_base_url).rstrip("/") + "/",
            timeout=timeouts,
            transport=ThrottledTransport(inner, bucket=self._bucket),
            auth=self._auth,
        )
        self._owned.append(http)
        self._session = STSession(
            http=http,
            tenant_id=settings.tenant_id,
            clock=clock,
            retry=retry or DEFAULT_RETRY,
            observer=observer,
            token_cache=token_cache,
            credentials=self._credentials,
            rng=rng,
        )

    @classmethod
    def from_settings(
        cls,
        settings: ServiceTitanSettings,
        *,
        client_secret: Secret | str,
        app_key: Secret | str,
        clock: Clock,
        token_cache: TokenCache | None = None,
        limiters: RateLimiterRegistry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        observer: ApiObserver | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        rng: random.Random | None = None,
    ) -> STClient:
        """Build a client. ``token_cache`` and ``limiters`` should be the process-wide shared ones;
        without them a private cache and bucket are made (fine for one-off commands and tests).
        ``transport`` is the innermost transport (``httpx.ASGITransport`` against the simulator)
        and also carries the token requests."""
        return cls(
            settings=settings,
            client_secret=client_secret,
            app_key=app_key,
            clock=clock,
            token_cache=token_cache,
            limiters=limiters,
            transport=transport,
            retry=retry,
            observer=observer,
            page_size=page_size,
            rng=rng,
        )

    @property
    def token_stats(self) -> TokenStats:
        """Token refresh count, last success and last error for this client's credentials."""
        return self._token_cache.stats(self._credentials)

    @property
    def rate_bucket(self) -> TokenBucket:
        """The (app key, tenant) bucket, shared with every client of the same pair."""
        return self._bucket

    @property
    def resends_after_401(self) -> int:
        """How many requests were re-sent after a 401 and a token refresh."""
        return self._auth.resends_after_401

    async def aclose(self) -> None:
        for http in self._owned:
            await http.aclose()

    async def __aenter__(self) -> STClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
