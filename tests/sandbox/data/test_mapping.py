"""The sandbox mapping: valid config, TOML that round-trips, and pointing only at what exists."""

from __future__ import annotations

import tomllib

import pytest
from datagen_kit import World, make_world

from ml_connector.mapping.config import MappingConfig
from ml_connector.sandbox.data import sandbox_mapping, sandbox_mapping_toml
from ml_connector.sandbox.data.mapping import _value


def test_toml_round_trips_to_the_same_validated_config(world: World) -> None:
    text = sandbox_mapping_toml(world.ds)
    parsed = tomllib.loads(text)["connections"]["default"]["mapping"]
    assert MappingConfig.model_validate(parsed) == sandbox_mapping(world.ds)
    assert '[connections.default.mapping.receivables.business_units."' in text


def test_toml_uses_the_connection_name(world: World) -> None:
    parsed = tomllib.loads(sandbox_mapping_toml(world.ds, connection="acme hvac"))
    assert set(parsed["connections"]) == {"acme hvac"}


def test_mapping_points_at_records_that_exist(world: World) -> None:
    """Every Fusion name the mapping sends is in the matching lookup (oracle-fusion-api.md §4.8)."""
    cfg, fusion, st = sandbox_mapping(world.ds), world.fusion, world.st
    fusion_bus = {b.BusinessUnitName for b in fusion.business_units.values()}
    assert set(cfg.suppliers.procurement_business_units) <= fusion_bus
    assert world.ds.corporate_business_unit in fusion_bus
    assert world.ds.corporate_business_unit not in cfg.suppliers.procurement_business_units
    assert {r.id for r in st.tables["business_units"]} == {
        int(k) for k in cfg.receivables.business_units
    }
    assert {r.id for r in st.tables["payment_types"]} == {
        int(k) for k in cfg.receivables.payment_types
    }
    methods = {(r.Name, r.RemittanceBankAccountNumber) for r in fusion.receipt_methods.values()}
    for ptype in cfg.receivables.payment_types.values():
        assert (ptype.receipt_method, ptype.remittance_bank_account) in methods
    for target in cfg.receivables.business_units.values():
        assert target.fusion_business_unit in fusion_bus
        assert fusion.transaction_type_named(target.transaction_type) is not None
        assert fusion.transaction_type_named(target.credit_memo_transaction_type) is not None
        assert fusion.transaction_source_named(target.transaction_source) is not None
    assert cfg.receivables.currency in fusion.currencies
    assert set(cfg.purchase_orders.business_units.values()) <= {
        r.id for r in st.tables["business_units"]
    }
    assert set(cfg.purchase_orders.inventory_locations.values()) <= {
        r.id for r in st.tables["warehouses"]
    }
    assert cfg.purchase_orders.po_type_id in {r.id for r in st.tables["purchase_order_types"]}
    terms = {t.Name for t in fusion.payment_terms.values()}
    assert set(cfg.suppliers.payment_terms) <= terms


def test_mapping_leaves_the_broken_records_broken(world: World) -> None:
    cfg = sandbox_mapping(world.ds)
    assert cfg.receivables.customers == {}
    assert cfg.receivables.default_revenue_account is None
    assert cfg.receivables.customer_account_field == "Fusion Account"
    skus = {r["code"] for t in ("materials", "equipment") for r in world.st.snapshot(t)}
    assert cfg.purchase_orders.item_sku_prefix + world.ds.unmapped_item not in skus
    assert cfg.purchase_orders.statuses == ["OPEN"]


def test_toml_writer_refuses_values_it_cannot_write() -> None:
    with pytest.raises(TypeError, match="cannot write"):
        _value(object())


def test_mapping_does_not_depend_on_seed_scale_or_clock(world: World) -> None:
    """``init`` writes the mapping before any sandbox runs, so it must fit every data set."""
    other = make_world(seed=99, scale=3)
    assert sandbox_mapping(other.ds) == sandbox_mapping(world.ds) == sandbox_mapping()
    assert sandbox_mapping_toml() == sandbox_mapping_toml(world.ds)
