"""``ml-connector check`` for Fusion: can we authenticate and read every resource the flows use?

Each probe reads one record (``limit=1``) with a short retry policy, so a broken pod is reported in
seconds, and turns the typed error into a sentence a person can act on: 401 → "check client
id/secret" (or "check user/password"), 403 → "missing privilege", DNS or refused connection →
"check base URL". A probe failing does not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml_connector.errors import ConnectorError
from ml_connector.http import InvalidClientError, RetryPolicy, TokenUnavailable, TransportFailure
from ml_connector.systems.fusion.base import FusionBase
from ml_connector.systems.fusion.errors import (
    FusionAuthError,
    FusionUnreachable,
    MissingPrivilege,
    NotFound,
)

#: Resources the flows read, probed in this order after authentication.
PROBES = (
    "suppliers",
    "purchaseOrders",
    "receivingReceiptRequests",
    "receivablesInvoices",
    "standardReceipts",
    "accountCombinationsLOV",
    "finBusinessUnitsLOV",
    "transactionTypesLOV",
    "transactionSourcesLOV",
    "receiptMethodsLOV",
    "currenciesLOV",
    "customerAccountSitesLOV",
    "paymentTermsLOV",
    "receivablesCustomerAccountActivities",
)
CHECK_RETRY = RetryPolicy(max_attempts=2, max_total_seconds=10.0, base_delay=0.5, max_delay=2.0)


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """One line of ``ml-connector check``: what was tried, whether it worked, and why not."""

    system: str
    name: str
    ok: bool
    detail: str


def explain(exc: BaseException, *, basic: bool) -> str:
    """A human reason for a failed probe."""
    if isinstance(exc, FusionAuthError | InvalidClientError):
        return "HTTP 401: " + ("check user/password" if basic else "check client id/secret")
    if isinstance(exc, MissingPrivilege):
        return "HTTP 403: missing privilege for this resource"
    if isinstance(exc, FusionUnreachable):
        return f"cannot connect: check base URL ({exc})"
    if isinstance(exc, NotFound):
        return f"HTTP 404: resource not found on this pod ({exc.detail or 'no detail'})"
    if isinstance(exc, TokenUnavailable):
        return f"token endpoint unavailable: check token URL ({exc})"
    if isinstance(exc, TransportFailure):
        return f"request failed: check base URL ({exc})"
    return str(exc)


class CheckApi(FusionBase):
    """The ``check`` probe (mixed into FusionClient)."""

    async def _authenticate(self) -> None:
        """Obtain a token (OAuth) — Basic has nothing to obtain."""

    async def check(self) -> list[CheckResult]:
        """Authenticate, read one record of each resource, and probe ``applyReceipt``."""
        basic = self._session.basic
        results: list[CheckResult] = []
        try:
            await self._authenticate()
        except ConnectorError as exc:
            reason = explain(exc, basic=basic)
            results.append(
                CheckResult(system="fusion", name="authentication", ok=False, detail=reason)
            )
            results.extend(
                CheckResult(
                    system="fusion", name=resource, ok=False, detail=f"not checked: {reason}"
                )
                for resource in PROBES
            )
            return results
        results.append(
            CheckResult(
                system="fusion",
                name="authentication",
                ok=True,
                detail="basic credentials" if basic else "token obtained",
            )
        )
        for resource in PROBES:
            try:
                await self._session.get_json(
                    resource, {"limit": "1", "onlyData": "true"}, retry=CHECK_RETRY
                )
            except ConnectorError as exc:
                results.append(
                    CheckResult(
                        system="fusion", name=resource, ok=False, detail=explain(exc, basic=basic)
                    )
                )
                if isinstance(exc, FusionAuthError | FusionUnreachable):
                    # every other probe would fail the same way: say so for each
                    done = {r.name for r in results}
                    results.extend(
                        CheckResult(
                            system="fusion",
                            name=other,
                            ok=False,
                            detail=f"not checked: {explain(exc, basic=basic)}",
                        )
                        for other in PROBES
                        if other not in done
                    )
                    break
                continue
            results.append(CheckResult(system="fusion", name=resource, ok=True, detail="readable"))
        else:
            results.append(await self._probe_apply_receipt())
        return results

    async def _probe_apply_receipt(self) -> CheckResult:
        name = "standardReceipts/action/applyReceipt"
        try:
            page = await self._session.get_json(
                "standardReceipts", {"limit": "1"}, retry=CHECK_RETRY
            )
        except ConnectorError as exc:
            return CheckResult(
                system="fusion", name=name, ok=False, detail=explain(exc, basic=self._session.basic)
            )
        items = page.get("items") or []
        if not items:
            return CheckResult(
                system="fusion",
                name=name,
                ok=True,
                detail="unknown: no standard receipt to inspect yet; checked again on first use",
            )
        links = items[0].get("links") or []
        found = any(
            isinstance(link, dict)
            and link.get("rel") == "action"
            and link.get("name") == "applyReceipt"
            for link in links
        )
        if found:
            return CheckResult(system="fusion", name=name, ok=True, detail="available")
        return CheckResult(
            system="fusion",
            name=name,
            ok=False,
            detail="not available on this pod (before 26C): receipts are created unapplied "
            "and go to attention as 'apply in Fusion'",
        )
