"""F1 suppliers → vendors end to end against the sandbox (issue 5; DESIGN §3.2 rules 1 and 2)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from flow_kit import APP_GUID, Harness
from ml_connector.flows.summary import Outcome
from ml_connector.flows.suppliers import FLOW, SupplierFlow
from ml_connector.mapping.suppliers import SUPPLIER_KEY
from ml_connector.sandbox.faults import FaultConfig
from ml_connector.store.states import AttentionState, AuditAction


def ours(h: Harness) -> dict[str, dict[str, Any]]:
    """Vendors carrying our externalData key, by Fusion SupplierId."""
    out: dict[str, dict[str, Any]] = {}
    for vendor in h.table("vendors"):
        for item in vendor.get("externalData") or []:
            if item["key"] == SUPPLIER_KEY:
                assert item["value"] not in out, f"duplicate vendor for supplier {item['value']}"
                out[item["value"]] = vendor
    return out


async def test_first_sync_creates_every_eligible_vendor_once_and_matches_the_manifest(
    h: Harness,
) -> None:
    expected = h.dataset.expected.suppliers
    summary = await SupplierFlow(h.ctx()).run()
    vendors = ours(h)
    assert set(vendors) == {str(i) for i in expected.eligible}
    for sid, exp in expected.eligible.items():
        vendor = vendors[str(sid)]
        assert vendor["name"] == exp.name
        assert vendor["active"] is True
        assert exp.number in vendor["memo"]
    assert summary.created == len(expected.eligible)
    assert summary.attention == len(expected.attention)
    assert summary.skipped == len(expected.skipped)
    assert set(summary.ids[Outcome.ATTENTION]) == {str(i) for i in expected.attention}
    assert summary.failed == 0
    async with h.store.transaction() as tx:
        items = await tx.attention.list(connection="default")
        assert {i.source_id for i in items if i.state is AttentionState.OPEN} == {
            str(i) for i in expected.attention
        }
        assert all(i.reason == "supplier_without_remit_to_address" for i in items)
        for sid in expected.eligible:
            history = await tx.audit.history("default", FLOW, str(sid))
            assert [r.action for r in history] == [AuditAction.CREATE]
            assert {d["rule"] for d in history[0].decisions} >= {"address", "memo", "active"}
        cursor = await tx.cursors.get("default", FLOW)
        assert cursor.watermark is not None


async def test_second_run_with_no_changes_writes_nothing(h: Harness) -> None:
    await SupplierFlow(h.ctx()).run()
    h.later()
    before = h.st_writes()
    summary = await SupplierFlow(h.ctx()).run(full=True)
    assert h.st_writes() == before
    assert summary.created == summary.updated == 0
    assert summary.unchanged == len(h.dataset.expected.suppliers.eligible)


async def test_name_address_and_deactivation_reach_the_vendor_on_the_next_cycle(
    h: Harness,
) -> None:
    await SupplierFlow(h.ctx()).run()
    ids = list(h.dataset.expected.suppliers.eligible)
    renamed, moved, retired = ids[0], ids[1], ids[2]
    h.later()
    h.sandbox.fusion.update_supplier(renamed, Supplier="Renamed Supply Co")
    sup = h.sandbox.fusion.suppliers[moved]
    sup.addresses[0].AddressLine1 = "999 New Street"
    h.sandbox.fusion.touch(sup)
    h.sandbox.fusion.update_supplier(retired, Status="INACTIVE", InactiveDate=h.clock.now().date())
    h.later()
    summary = await SupplierFlow(h.ctx()).run()
    assert summary.updated == 3
    assert summary.created == 0
    vendors = ours(h)
    assert vendors[str(renamed)]["name"] == "Renamed Supply Co"
    assert vendors[str(moved)]["address"]["street"] == "999 New Street"
    assert vendors[str(retired)]["active"] is False


async def test_supplier_updated_during_the_run_is_picked_up_by_the_next_run(h: Harness) -> None:
    target = next(iter(h.dataset.expected.suppliers.eligible))
    ctx = h.ctx()
    original = ctx.servicetitan.create_vendor
    changed = False

    async def create_and_edit(vendor: Any) -> int:
        nonlocal changed
        if not changed:  # while the run is writing, someone edits a supplier in Fusion
            changed = True
            h.sandbox.fusion.update_supplier(target, Supplier="Edited Mid Run Ltd")
        return await original(vendor)

    ctx.servicetitan.create_vendor = create_and_edit  # type: ignore[method-assign]
    await SupplierFlow(ctx).run()
    h.later()
    summary = await SupplierFlow(h.ctx()).run()
    assert ours(h)[str(target)]["name"] == "Edited Mid Run Ltd"
    assert summary.updated + summary.created >= 1


async def test_crash_between_create_and_link_leaves_no_duplicate(h: Harness) -> None:
    ctx = h.ctx()
    original = ctx.servicetitan.create_vendor
    calls = 0

    async def create_then_crash(vendor: Any) -> int:
        nonlocal calls
        calls += 1
        vendor_id = await original(vendor)
        if calls == 3:
            raise RuntimeError("process killed after the create")
        return vendor_id

    ctx.servicetitan.create_vendor = create_then_crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await SupplierFlow(ctx).run()
    async with h.store.transaction() as tx:
        # the crashed create, and siblings in flight that the crash cancelled
        pending = await tx.writes.pending("default", FLOW)
    assert len(pending) >= 1
    h.later()
    summary = await SupplierFlow(h.ctx()).run()
    assert 1 <= summary.adopted <= len(pending)
    assert set(ours(h)) == {str(i) for i in h.dataset.expected.suppliers.eligible}
    async with h.store.transaction() as tx:
        assert await tx.writes.pending("default", FLOW) == []


async def test_lost_create_answers_make_no_duplicates(h: Harness) -> None:
    h.sandbox.st_app.set_config(FaultConfig(seed=1, rate_drop_after_commit=1.0))
    first = await SupplierFlow(h.ctx()).run()
    assert first.created == 0
    assert first.adopted == len(h.dataset.expected.suppliers.eligible)
    h.sandbox.st_app.set_config(FaultConfig())
    h.later()
    second = await SupplierFlow(h.ctx()).run(full=True)
    assert second.created == 0
    assert set(ours(h)) == {str(i) for i in h.dataset.expected.suppliers.eligible}


async def test_dry_run_writes_nothing_and_audits_what_it_would_do(h: Harness) -> None:
    before = h.st_writes()
    summary = await SupplierFlow(h.ctx(dry_run=True)).run()
    assert h.st_writes() == before
    assert ours(h) == {}
    assert summary.created == len(h.dataset.expected.suppliers.eligible)
    async with h.store.transaction() as tx:
        assert (await tx.cursors.get("default", FLOW)).watermark is None
        assert await tx.links.count("default") == 0
        assert await tx.attention.list(connection="default") == []
        sid = str(next(iter(h.dataset.expected.suppliers.eligible)))
        (row,) = await tx.audit.history("default", FLOW, sid)
        assert row.dry_run
        assert row.action is AuditAction.CREATE
        assert row.decisions


async def test_first_sync_on_each_store(h_any_store: Harness) -> None:
    summary = await SupplierFlow(h_any_store.ctx()).run()
    assert summary.created == len(h_any_store.dataset.expected.suppliers.eligible)
    assert APP_GUID


async def test_transient_failures_hold_the_cursor_and_retry_next_run(h: Harness) -> None:
    """DESIGN §3.2 rules 1 and 4: a record that fails after the client's retries is audited as
    failed, the cursor does not pass it, and the next run writes it (once)."""
    h.sandbox.st_app.set_config(FaultConfig(seed=1, rate_5xx=1.0))
    first = await SupplierFlow(h.ctx()).run()
    h.sandbox.st_app.set_config(FaultConfig())
    assert first.failed == len(h.dataset.expected.suppliers.eligible)
    assert first.created == 0
    async with h.store.transaction() as tx:
        assert (await tx.cursors.get("default", FLOW)).watermark is None
        sid = str(next(iter(h.dataset.expected.suppliers.eligible)))
        assert [r.action for r in await tx.audit.history("default", FLOW, sid)] == [
            AuditAction.FAIL
        ]
    h.later()
    second = await SupplierFlow(h.ctx()).run()
    assert second.created + second.adopted == len(h.dataset.expected.suppliers.eligible)
    assert set(ours(h)) == {str(i) for i in h.dataset.expected.suppliers.eligible}


async def test_a_record_goes_to_attention_after_max_attempts_and_the_retry_window(
    h: Harness,
) -> None:
    """Settings ``retries``: tries *and* time. Two quick failures (``max_attempts`` 2) within the
    window are bad luck, retried next run; once the first failure is ``retry_window`` old, the
    next failure opens attention ``retries_exhausted``."""
    window = timedelta(hours=6)
    h.sandbox.st_app.set_config(FaultConfig(seed=1, rate_5xx=1.0))
    await SupplierFlow(h.ctx(max_attempts=2, retry_window=window)).run()
    h.later()
    second = await SupplierFlow(h.ctx(max_attempts=2, retry_window=window)).run()
    eligible = {str(i) for i in h.dataset.expected.suppliers.eligible}
    assert not set(second.ids[Outcome.ATTENTION]) & eligible
    assert set(second.ids[Outcome.FAILED]) >= eligible
    h.later(window.total_seconds())
    third = await SupplierFlow(h.ctx(max_attempts=2, retry_window=window)).run()
    h.sandbox.st_app.set_config(FaultConfig())
    assert set(third.ids[Outcome.ATTENTION]) >= eligible
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, next(iter(eligible)))
        assert item is not None
        assert item.reason == "retries_exhausted"
        assert "failed 3 times in a row since" in item.message
        assert (await tx.cursors.get("default", FLOW)).watermark is not None


async def test_every_record_read_has_an_audit_row_with_its_decisions(h: Harness) -> None:
    expected = h.dataset.expected.suppliers
    await SupplierFlow(h.ctx()).run()
    everyone = [*expected.eligible, *expected.attention, *expected.skipped]
    async with h.store.transaction() as tx:
        for sid in everyone:
            history = await tx.audit.history("default", FLOW, str(sid))
            assert len(history) == 1, sid
            assert history[0].decisions, sid
        for sid in expected.skipped:
            (row,) = await tx.audit.history("default", FLOW, str(sid))
            assert row.action is AuditAction.SKIP
            assert row.decisions[0]["rule"] == "eligibility"
