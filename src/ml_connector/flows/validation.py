"""Validate a connection's mapping against live Fusion data (DESIGN §3.2 rule 3).

Used by ``ml-connector check`` now and before posting by the receivables flows. Every problem is a
line a person can act on: which mapping key, which Fusion value, what is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ml_connector.mapping.accounts import revenue_accounts, revenue_combination
from ml_connector.settings import ConnectionSettings
from ml_connector.systems.fusion.client import FusionClient


@dataclass(frozen=True, kw_only=True)
class MappingProblem:
    key: str
    message: str


async def validate_mapping(
    settings: ConnectionSettings, fusion: FusionClient, *, on: date
) -> list[MappingProblem]:
    mapping = settings.mapping
    problems: list[MappingProblem] = []
    bus = await fusion.lookup_names("finBusinessUnitsLOV")
    types = await fusion.lookup_names("transactionTypesLOV")
    sources = await fusion.lookup_names("transactionSourcesLOV")
    methods = await fusion.lookup_names("receiptMethodsLOV")
    currencies = await fusion.lookup_names("currenciesLOV")

    def missing(key: str, what: str, value: str, known: frozenset[str]) -> None:
        if value not in known:
            problems.append(
                MappingProblem(key=key, message=f"{what} {value!r} does not exist in Fusion")
            )

    for bu in mapping.suppliers.procurement_business_units:
        missing("mapping.suppliers.procurement_business_units", "business unit", bu, bus)
    for bu in mapping.purchase_orders.business_units:
        missing("mapping.purchase_orders.business_units", "business unit", bu, bus)
    receivables = mapping.receivables
    missing("mapping.receivables.currency", "currency", receivables.currency, currencies)
    accounts = revenue_accounts(receivables)
    for st_id, bu_map in sorted(receivables.business_units.items()):
        key = f"mapping.receivables.business_units.{st_id}"
        missing(key, "business unit", bu_map.fusion_business_unit, bus)
        missing(key, "transaction type", bu_map.transaction_type, types)
        missing(key, "transaction type", bu_map.credit_memo_transaction_type, types)
        missing(key, "transaction source", bu_map.transaction_source, sources)
        combos = [revenue_combination(receivables, bu_map, account) for account in accounts]
        if bu_map.receivable_account:
            combos.append(bu_map.receivable_account)
        for combination in combos:
            result = await fusion.check_account_combination(combination, on=on)
            if not result.usable:
                problems.append(
                    MappingProblem(
                        key=key, message=f"account combination {combination} {result.reason}"
                    )
                )
    for type_id, pay in sorted(receivables.payment_types.items()):
        missing(
            f"mapping.receivables.payment_types.{type_id}",
            "receipt method",
            pay.receipt_method,
            methods,
        )
    return problems
