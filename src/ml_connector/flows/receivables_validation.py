"""Validate a receivables write against live Fusion data before posting (DESIGN §3.2 rule 3).

A receivables invoice cannot be fixed after posting (PATCH changes only a few header fields), so
everything Fusion would refuse — or worse, accept wrongly — is checked first, and a failure becomes
an attention item with a reason a person can act on; nothing is posted.

Checked: the customer account exists and is active and has an active bill-to site in the target
business unit (its site number becomes ``BillToSite``); every distribution's account combination is
enabled, postable and not end-dated on the transaction date; business unit, transaction type,
transaction source, receipt method and currency exist.

Lookups are cached: the named tables by the Fusion client (short TTL), customer accounts and
combination checks here, for :data:`DEFAULT_TTL` seconds on the injected clock — short, so a fix
made in Fusion is seen by a replay within minutes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from ml_connector.clock import Clock
from ml_connector.errors import NeedsAttentionError
from ml_connector.systems.fusion.client import FusionClient
from ml_connector.systems.fusion.models import CustomerAccount, CustomerAccountSite
from ml_connector.systems.fusion.receivables import CombinationCheck

from .base import FlowContext

DEFAULT_TTL = 300.0
ACTIVE = {"A", "ACTIVE", "Active"}
V = TypeVar("V")


@dataclass(kw_only=True)
class ReceivablesValidator:
    @classmethod
    def for_context(cls, ctx: FlowContext) -> ReceivablesValidator:
        return cls(
            fusion=ctx.fusion,
            clock=ctx.clock,
            segment_labels=tuple(ctx.settings.fusion.segment_labels),
        )

    fusion: FusionClient
    clock: Clock
    ttl: float = DEFAULT_TTL
    #: the connection's ``fusion.segment_labels`` (names of the accountCombinationsLOV segments)
    segment_labels: tuple[str, ...] | None = None
    _cache: dict[tuple[str, ...], tuple[float, Any]] = field(default_factory=dict)

    async def _cached(self, key: tuple[str, ...], load: Callable[[], Awaitable[V]]) -> V:
        now = self.clock.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now < hit[0]:
            value: V = hit[1]
            return value
        loaded = await load()
        self._cache[key] = (now + self.ttl, loaded)
        return loaded

    def forget(self) -> None:
        """Drop cached answers (a person fixed something in Fusion and replays now)."""
        self._cache.clear()
        self.fusion.forget_lookups()

    async def _account(
        self, number: str
    ) -> tuple[CustomerAccount, list[CustomerAccountSite]] | None:
        return await self._cached(
            ("account", number), lambda: self.fusion.customer_account_with_sites(number)
        )

    async def active_account(self, number: str) -> CustomerAccount:
        found = await self._account(number)
        if found is None:
            raise NeedsAttentionError(
                "unknown_customer_account",
                f"Fusion customer account {number} does not exist",
                suggestion="correct the account number in the customer mapping, or create the "
                "account in Fusion",
            )
        account, _sites = found
        if account.Status is not None and account.Status not in ACTIVE:
            raise NeedsAttentionError(
                "inactive_customer_account",
                f"Fusion account {number} ({account.CustomerName}) is inactive",
                suggestion="reactivate the account in Fusion or map the customer to an active one",
            )
        return account

    async def bill_to_site(self, number: str, business_unit: str) -> str:
        """The site number of the account's one active bill-to site in ``business_unit``."""
        await self.active_account(number)
        found = await self._account(number)
        assert found is not None
        sites = [
            s
            for s in found[1]
            if s.BusinessUnit == business_unit and (s.Status is None or s.Status in ACTIVE)
        ]
        if not sites:
            raise NeedsAttentionError(
                "no_bill_to_site_in_business_unit",
                f"Fusion account {number} has no active bill-to site in {business_unit}",
                suggestion=f"add a bill-to site for the account in {business_unit} in Fusion",
            )
        site = min(sites, key=lambda s: s.BillToSiteUseId)
        return site.BillToSiteNumber or str(site.BillToSiteUseId)

    async def _exists(self, resource: str, what: str, value: str, key: str) -> None:
        if value not in await self.fusion.lookup_names(resource):
            raise NeedsAttentionError(
                f"unknown_{key}",
                f"{what} {value!r} does not exist in Fusion",
                suggestion=f"create it in Fusion or correct the mapping ({what})",
            )

    async def combination(self, combination: str, on: date) -> None:
        check: CombinationCheck = await self._cached(
            ("combination", combination, on.isoformat()),
            lambda: self.fusion.check_account_combination(
                combination, on=on, segment_labels=self.segment_labels
            ),
        )
        if check.usable:
            return
        if check.reason == "disabled":
            kind = "disabled_gl_combination"
        elif check.reason.startswith("end-dated"):
            kind = "end_dated_gl_combination"
        else:
            kind = "invalid_gl_combination"
        raise NeedsAttentionError(
            kind,
            f"{combination}: account combination {check.reason} in Fusion",
            suggestion="enable the combination in Fusion or map the account to a usable one, then replay",
        )

    async def invoice(self, payload: dict[str, Any]) -> None:
        """Everything a receivables invoice POST refers to exists and is usable."""
        await self._exists(
            "finBusinessUnitsLOV", "business unit", payload["BusinessUnit"], "business_unit"
        )
        await self._exists(
            "transactionTypesLOV",
            "transaction type",
            payload["TransactionType"],
            "transaction_type",
        )
        await self._exists(
            "transactionSourcesLOV",
            "transaction source",
            payload["TransactionSource"],
            "transaction_source",
        )
        await self._exists("currenciesLOV", "currency", payload["InvoiceCurrencyCode"], "currency")
        on = date.fromisoformat(payload["TransactionDate"])
        for dist in payload.get("receivablesInvoiceDistributions", []):
            await self.combination(dist["AccountCombination"], on)

    async def receipt(self, payload: dict[str, Any]) -> None:
        """Everything a standard receipt POST refers to exists; the account is active."""
        await self._exists(
            "finBusinessUnitsLOV", "business unit", payload["BusinessUnit"], "business_unit"
        )
        await self._exists(
            "receiptMethodsLOV", "receipt method", payload["ReceiptMethod"], "receipt_method"
        )
        await self._exists("currenciesLOV", "currency", payload["Currency"], "currency")
        await self.active_account(payload["CustomerAccountNumber"])
