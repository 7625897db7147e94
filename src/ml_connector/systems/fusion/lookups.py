"""The lookups validation reads before posting, cached briefly (DESIGN §3.2 rule 3, §5; reference §4.8).

Validation asks the same few small tables again and again (business units, transaction types and
sources, receipt methods, currencies, payment terms, customer sites), so each table is read whole
and kept for ``ttl`` seconds on the injected clock. Short, because a fix made in Fusion (a new
receipt method, an enabled currency) should be seen by the next replay within minutes.

``paymentTermsLOV`` is INFERRED (no documented Receivables terms LOV): a pod without it answers
404 and the caller decides whether the check is skippable (the flows make it configurable).
"""

from __future__ import annotations

from dataclasses import dataclass

from ml_connector.systems.fusion.base import FusionBase
from ml_connector.systems.fusion.models import NamedLookup

LOOKUPS = (
    "finBusinessUnitsLOV",
    "transactionTypesLOV",
    "transactionSourcesLOV",
    "receiptMethodsLOV",
    "currenciesLOV",
    "customerAccountSitesLOV",
    "paymentTermsLOV",
)
DEFAULT_TTL = 300.0
#: The attribute holding the value a write sends (``BusinessUnit``, ``Currency``…), per lookup.
VALUE_ATTR = {
    "finBusinessUnitsLOV": "BusinessUnitName",
    "currenciesLOV": "CurrencyCode",
    "customerAccountSitesLOV": "SiteNumber",
}


@dataclass(frozen=True, kw_only=True)
class _Cached:
    rows: tuple[NamedLookup, ...]
    expires_at: float


class LookupApi(FusionBase):
    """Cached lookup tables (mixed into FusionClient)."""

    _lookup_ttl: float
    _lookup_cache: dict[str, _Cached]

    async def lookup(self, resource: str) -> tuple[NamedLookup, ...]:
        """Every row of one lookup resource, from the cache when fresh."""
        if resource not in LOOKUPS:
            raise ValueError(f"{resource!r} is not one of the validation lookups {LOOKUPS}")
        now = self._clock.monotonic()
        cached = self._lookup_cache.get(resource)
        if cached is not None and now < cached.expires_at:
            return cached.rows
        rows = await self._all(resource, {"onlyData": "true"}, what=f"fusion {resource}")
        parsed = tuple(NamedLookup.model_validate(r) for r in rows)
        self._lookup_cache[resource] = _Cached(rows=parsed, expires_at=now + self._lookup_ttl)
        return parsed

    def forget_lookups(self) -> None:
        """Drop every cached table (after a user fixed something in Fusion and replays)."""
        self._lookup_cache.clear()

    async def lookup_names(self, resource: str) -> frozenset[str]:
        """The values a write may send for this lookup (``Name``; ``BusinessUnitName`` for
        business units, ``CurrencyCode`` for currencies, ``SiteNumber`` for sites)."""
        attr = VALUE_ATTR.get(resource, "Name")
        names = (getattr(row, attr) for row in await self.lookup(resource))
        return frozenset(str(n) for n in names if n)

    async def business_units(self) -> tuple[NamedLookup, ...]:
        return await self.lookup("finBusinessUnitsLOV")

    async def transaction_types(self) -> tuple[NamedLookup, ...]:
        return await self.lookup("transactionTypesLOV")

    async def transaction_sources(self) -> tuple[NamedLookup, ...]:
        return await self.lookup("transactionSourcesLOV")

    async def receipt_methods(self) -> tuple[NamedLookup, ...]:
        return await self.lookup("receiptMethodsLOV")

    async def currencies(self) -> tuple[NamedLookup, ...]:
        return await self.lookup("currenciesLOV")

    async def customer_account_sites(self) -> tuple[NamedLookup, ...]:
        return await self.lookup("customerAccountSitesLOV")

    async def payment_terms(self) -> tuple[NamedLookup, ...]:
        return await self.lookup("paymentTermsLOV")
