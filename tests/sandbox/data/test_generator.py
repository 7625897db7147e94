"""Determinism, counts and broken kinds of the sandbox data set (DESIGN §5 "Sandbox layout")."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from datagen_kit import World, make_world

from ml_connector.sandbox.data import BROKEN_KINDS, Plan, populate
from ml_connector.sandbox.data import manifest as m
from ml_connector.sandbox.servicetitan import STState

_FUSION_TABLES = (
    "business_units",
    "currencies",
    "payment_terms",
    "combinations",
    "suppliers",
    "purchase_orders",
    "transaction_types",
    "transaction_sources",
    "receipt_methods",
    "accounts",
)


def fingerprint(world: World) -> dict[str, Any]:
    """Everything both states hold, in comparable form."""
    out: dict[str, Any] = {
        f"fusion.{name}": [dataclasses.asdict(r) for r in getattr(world.fusion, name).values()]
        for name in _FUSION_TABLES
    }
    out.update({f"st.{name}": world.st.snapshot(name) for name in world.st.tables})
    return out


def test_same_seed_and_clock_give_identical_states(world: World) -> None:
    again = make_world()
    assert fingerprint(again) == fingerprint(world)
    assert again.ds == world.ds


def test_different_seed_gives_different_data(world: World) -> None:
    other = make_world(seed=8)
    names = [s.Supplier for s in world.fusion.suppliers.values()]
    other_names = [s.Supplier for s in other.fusion.suppliers.values()]
    assert names != other_names
    assert fingerprint(other)["st.invoices"] != fingerprint(world)["st.invoices"]


def test_purchase_orders_come_in_varied_statuses(world: World) -> None:
    statuses = {po.StatusCode for po in world.fusion.purchase_orders.values()}
    assert statuses == {"OPEN", "CLOSED", "CANCELED", "INCOMPLETE", "PENDING APPROVAL"}


def test_scale_one_counts(world: World) -> None:
    """15 business units, a few dozen suppliers and POs, about a hundred invoices and payments."""
    st, fusion, ds = world.st, world.fusion, world.ds
    assert len(st.tables["business_units"]) == 15
    assert ds.business_units[0].st_name == "HVAC Service - Dallas"
    assert {b.fusion_name for b in ds.business_units} <= {
        b.BusinessUnitName for b in fusion.business_units.values()
    }
    assert len({b.cost_center for b in ds.business_units}) == 15
    assert 36 <= len(fusion.suppliers) <= 60
    assert 24 <= len(fusion.purchase_orders) <= 48
    assert 90 <= len(st.tables["invoices"]) <= 130
    assert 50 <= len(st.tables["payments"]) <= 130
    assert len(st.tables["jobs"]) == len(st.tables["invoices"])
    assert ds.counts["invoices"] == len(st.tables["invoices"])


def test_every_broken_kind_is_present_with_a_reason(world: World) -> None:
    ds = world.ds
    assert set(ds.kinds) == set(BROKEN_KINDS)
    flows = (
        ds.expected.suppliers,
        ds.expected.purchase_orders,
        ds.expected.invoices,
        ds.expected.payments,
    )
    special_eligible = {m.NEGATIVE_INVOICE, m.PARTIAL_PAYMENT, m.SPLIT_PAYMENT}
    for kind, ids in ds.kinds.items():
        assert ids, kind
        for ident in ids:
            if kind in special_eligible:
                assert any(ident in f.eligible for f in flows), kind
                continue
            reasons = [f.attention.get(ident) or f.skipped.get(ident) for f in flows]
            found = [r for r in reasons if r is not None]
            assert len(found) == 1, (kind, ident)
            assert found[0].kind == kind
            assert found[0].message


def test_outcomes_cover_every_source_record_exactly_once(world: World) -> None:
    ds, fusion, st = world.ds, world.fusion, world.st
    pairs = (
        (ds.expected.suppliers, set(fusion.suppliers)),
        (ds.expected.purchase_orders, set(fusion.purchase_orders)),
        (ds.expected.invoices, {r.id for r in st.tables["invoices"]}),
        (ds.expected.payments, {r.id for r in st.tables["payments"]}),
    )
    for outcome, ids in pairs:
        groups = [set(outcome.eligible), set(outcome.attention), set(outcome.skipped)]
        assert sum(len(g) for g in groups) == len(ids)
        assert set().union(*groups) == ids


def test_broken_kinds_scale_and_counts_are_proportional() -> None:
    """A scaled run is fast and grows linearly; every kind appears once per unit of scale."""
    started = time.perf_counter()
    big = make_world(scale=50)
    elapsed = time.perf_counter() - started
    assert elapsed < 30, f"scale 50 took {elapsed:.1f}s"
    small = make_world(scale=1)
    ratio = len(big.st.tables["invoices"]) / len(small.st.tables["invoices"])
    assert 45 <= ratio <= 55
    assert 45 <= len(big.fusion.suppliers) / len(small.fusion.suppliers) <= 55
    per_unit = {k: len(v) for k, v in small.ds.kinds.items()}
    assert all(len(big.ds.kinds[k]) == 50 * per_unit[k] for k in BROKEN_KINDS)
    assert len(big.st.tables["business_units"]) == 15


def test_plan_reaches_benchmark_sizes() -> None:
    plan = Plan.for_scale(2000)
    assert plan.suppliers >= 100_000
    assert plan.invoices >= 200_000
    assert Plan.for_scale(1).broken_each == 1


def test_explicit_counts_override_the_scale() -> None:
    world = make_world(suppliers=10, invoices=20)
    assert len(world.ds.expected.suppliers.eligible) == 10
    ordinary = len(world.st.tables["invoices"]) - len(world.ds.expected.invoices.attention)
    assert 20 <= ordinary <= 40


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Plan.for_scale(0)


def test_populate_refuses_a_state_that_already_holds_data(world: World) -> None:
    with pytest.raises(ValueError, match="empty"):
        populate(world.fusion, STState(clock=world.clock))


def test_outcomes_group_reasons_by_kind(world: World) -> None:
    grouped = world.ds.expected.invoices.by_kind()
    assert set(grouped) == {
        m.UNMAPPED_CUSTOMER,
        m.INACTIVE_ACCOUNT,
        m.NO_BILL_TO_SITE,
        m.DISABLED_COMBINATION,
        m.END_DATED_COMBINATION,
        m.INVOICE_NEEDS_REVIEW,
        m.INVOICE_EXPORTED,
    }
    assert grouped[m.INVOICE_NEEDS_REVIEW] == world.ds.kinds[m.INVOICE_NEEDS_REVIEW]
    first = world.ds.business_units[0]
    assert world.ds.business_unit(first.st_id) is first


def test_summary_reports_counts_and_outcomes(world: World) -> None:
    lines = world.ds.summary()
    assert lines[0].startswith("seed 7, scale 1: 15 business units")
    invoices = world.ds.expected.invoices
    assert (
        f"F4 invoices: {len(invoices.eligible)} to sync, {len(invoices.attention)} for attention, "
        f"{len(invoices.skipped)} to skip"
    ) in lines
