"""Account combinations built from the mapping (pure)."""

from __future__ import annotations

from ml_connector.mapping.config import BusinessUnitMap, ReceivablesMapping


def revenue_combination(mapping: ReceivablesMapping, bu: BusinessUnitMap, account: str) -> str:
    """The segment string for a revenue account in a business unit's cost center."""
    try:
        return mapping.account_template.format(
            company=mapping.company, cost_center=bu.cost_center, account=account
        )
    except (KeyError, IndexError) as exc:
        raise ValueError(
            f"account_template {mapping.account_template!r} uses an unknown field {exc}; "
            "use {company}, {cost_center} and {account}"
        ) from None


def revenue_accounts(mapping: ReceivablesMapping) -> list[str]:
    """Every natural account the mapping can produce, default included."""
    accounts = set(mapping.revenue_accounts.values())
    if mapping.default_revenue_account:
        accounts.add(mapping.default_revenue_account)
    return sorted(accounts)
