"""The mapping that makes the sandbox's eligible records post and leaves the broken ones broken.

``ml-connector init`` writes :func:`sandbox_mapping_toml` into the starter config, so ``init`` →
``sandbox`` → ``check`` works with no edits (DESIGN §5). Deliberately *not* mapped: the corporate
business unit (a supplier whose only site is there is skipped), the item with no SKU, and the
customers without a "Fusion Account" value (no ``customers`` table entries).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_connector.clock import FakeClock
from ml_connector.mapping.config import (
    BusinessUnitMap,
    MappingConfig,
    PaymentTypeMap,
    PurchaseOrderMapping,
    ReceivablesMapping,
    SupplierMapping,
)
from ml_connector.sandbox.fusion import FusionState
from ml_connector.sandbox.servicetitan import STState

from .company import build_company
from .manifest import DataSet


def sandbox_mapping(dataset: DataSet | None = None) -> MappingConfig:
    """The mapping for ``dataset``. The ids it holds are made first by every ``populate`` run, so
    they do not depend on seed, scale or clock: without a dataset, the company setup is built on
    throwaway states (what ``ml-connector init`` needs before any sandbox runs)."""
    dataset = dataset or company_dataset()
    bus = dataset.business_units
    return MappingConfig(
        suppliers=SupplierMapping(
            procurement_business_units=list(dataset.procurement_business_units),
            address_purpose="remit_to",
            # the manifest expects a supplier without a remit-to address in attention
            address_fallback=False,
            payment_terms=dict(dataset.payment_terms),
        ),
        purchase_orders=PurchaseOrderMapping(
            statuses=["OPEN"],
            po_type_id=dataset.po_type_id,
            business_units={b.fusion_name: b.st_id for b in bus},
            inventory_locations={b.ship_to_location: b.warehouse_id for b in bus},
            item_sku_prefix="",
            receipt_routing="deliver",
            organization_code=dataset.organization_code,
        ),
        receivables=ReceivablesMapping(
            currency="USD",
            business_units={
                str(b.st_id): BusinessUnitMap(
                    fusion_business_unit=b.fusion_name, cost_center=b.cost_center
                )
                for b in bus
            },
            revenue_accounts=dict(dataset.revenue_accounts),
            company=dataset.company,
            payment_types={
                str(p.st_id): PaymentTypeMap(
                    receipt_method=p.receipt_method, remittance_bank_account=p.bank_account
                )
                for p in dataset.payment_types
            },
            customer_account_field=dataset.customer_account_field,
        ),
    )


def company_dataset() -> DataSet:
    """A :class:`DataSet` holding only the company setup (business units, payment types …)."""
    clock = FakeClock()
    ds = DataSet(seed=0, scale=0, as_of=clock.now())
    build_company(FusionState(clock), STState(clock=clock), ds)
    return ds


def sandbox_mapping_toml(dataset: DataSet | None = None, *, connection: str = "default") -> str:
    """TOML text of the ``[connections.<connection>.mapping…]`` tables (every field written, so
    a reader sees what each default is)."""
    data = sandbox_mapping(dataset).model_dump(mode="json")
    lines: list[str] = []
    _table(lines, ["connections", connection, "mapping"], data)
    return "\n".join(lines).strip() + "\n"


def _table(lines: list[str], path: list[str], data: Mapping[str, Any]) -> None:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    if scalars or not tables:
        lines.append(f"[{'.'.join(_key(p) for p in path)}]")
        lines.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars.items() if v is not None)
        lines.append("")
    for key, value in tables.items():
        _table(lines, [*path, key], value)


def _key(key: str) -> str:
    # ids are quoted (``business_units."101"``) so they read as the strings they are
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii() and not key.isdigit()
    return key if bare else _string(key)


def _string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
