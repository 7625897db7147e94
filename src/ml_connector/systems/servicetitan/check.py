"""``ml-connector check`` for ServiceTitan: can we get a token and read what the flows read?

First a token (client credentials, no scope), then one record of each resource with a short retry
policy, so a broken setup is reported in seconds. Each failure becomes a sentence a person can act
on (DESIGN §5 "ServiceTitan auth errors"): ``invalid_client`` → "check client id/secret"; a 401
whose answer names the ``ST-App-Key`` → "check the app key"; 403 → "scope missing: tn.…"; DNS or
refused connection → "check base URL". A failing probe does not stop the others, except a
credential or connection failure, which every later probe would repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ml_connector.errors import ConnectorError
from ml_connector.http import (
    ClientCredentials,
    InvalidClientError,
    RetryPolicy,
    TokenCache,
    TokenUnavailable,
    TransportFailure,
)
from ml_connector.systems.servicetitan.base import STBase
from ml_connector.systems.servicetitan.errors import (
    SYSTEM,
    MissingScope,
    NotFound,
    STAuthError,
    STUnreachable,
)

#: (name shown, namespace, path, query) — one record each; exports read their first page.
PROBES: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("vendors", "inventory", "vendors", {"active": "Any"}),
    ("purchase-orders", "inventory", "purchase-orders", {}),
    ("receipts", "inventory", "receipts", {"active": "Any"}),
    ("export/invoices", "accounting", "export/invoices", {}),
    ("export/payments", "accounting", "export/payments", {}),
    ("customers", "crm", "customers", {"active": "Any"}),
    ("business-units", "settings", "business-units", {"active": "Any"}),
    ("payment-types", "accounting", "payment-types", {}),
    ("materials", "pricebook", "materials", {"active": "Any"}),
)
CHECK_RETRY = RetryPolicy(max_attempts=2, max_total_seconds=10.0, base_delay=0.5, max_delay=2.0)


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """One line of ``ml-connector check``: what was tried, whether it worked, and why not."""

    system: str
    name: str
    ok: bool
    detail: str


def explain(exc: BaseException) -> str:
    """A human reason for a failed probe."""
    if isinstance(exc, InvalidClientError):
        return "invalid_client from the token endpoint: check client id/secret"
    if isinstance(exc, STAuthError):
        if exc.app_key:
            return "HTTP 401: check the app key"
        return "HTTP 401: check client id/secret and the app key"
    if isinstance(exc, MissingScope):
        if exc.wrong_tenant:
            return "HTTP 403: the token is not valid for this tenant: check the tenant id"
        return f"HTTP 403: scope missing: {exc.scope}"
    if isinstance(exc, STUnreachable):
        return "cannot connect: check base URL"
    if isinstance(exc, TokenUnavailable):
        return f"token endpoint unavailable: check token URL ({exc})"
    if isinstance(exc, NotFound):
        return "HTTP 404: not found: check base URL and tenant id"
    if isinstance(exc, TransportFailure):
        return f"request failed: check base URL ({exc})"
    return str(exc)


class CheckApi(STBase):
    """The ``check`` probe (mixed into STClient)."""

    _token_cache: TokenCache
    _credentials: ClientCredentials

    async def check(self) -> list[CheckResult]:
        results: list[CheckResult] = []
        try:
            await self._token_cache.get(self._credentials)
        except ConnectorError as exc:
            reason = explain(exc)
            results.append(CheckResult(system=SYSTEM, name="token", ok=False, detail=reason))
            results.extend(
                CheckResult(system=SYSTEM, name=name, ok=False, detail=f"not checked: {reason}")
                for name, *_ in PROBES
            )
            return results
        results.append(CheckResult(system=SYSTEM, name="token", ok=True, detail="token obtained"))
        for name, namespace, path, query in PROBES:
            params = dict(query)
            if not path.startswith("export/"):
                params.update(page="1", pageSize="1")
            try:
                await self._session.get_json(
                    namespace, path, resource=name, params=params, retry=CHECK_RETRY
                )
            except ConnectorError as exc:
                results.append(CheckResult(system=SYSTEM, name=name, ok=False, detail=explain(exc)))
                if isinstance(exc, STAuthError | STUnreachable) or (
                    isinstance(exc, MissingScope) and exc.wrong_tenant
                ):
                    # every other probe would fail the same way: say so for each
                    done = {r.name for r in results}
                    results.extend(
                        CheckResult(
                            system=SYSTEM,
                            name=other,
                            ok=False,
                            detail=f"not checked: {explain(exc)}",
                        )
                        for other, *_ in PROBES
                        if other not in done
                    )
                    break
                continue
            results.append(CheckResult(system=SYSTEM, name=name, ok=True, detail="readable"))
        return results
