"""F2 purchase orders → purchase orders end to end against the sandbox (issue 5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from flow_kit import Harness
from ml_connector.errors import FatalError
from ml_connector.flows.purchase_orders import FLOW, LINE_ENTITY, PurchaseOrderFlow
from ml_connector.flows.summary import Outcome
from ml_connector.flows.suppliers import SupplierFlow
from ml_connector.mapping.purchase_orders import po_memo
from ml_connector.sandbox import credentials as sb
from ml_connector.sandbox.faults import FaultConfig
from ml_connector.secrets import Secret
from ml_connector.store.states import AttentionState, AuditAction
from ml_connector.systems.servicetitan.client import STClient


def ours(h: Harness) -> dict[str, dict[str, Any]]:
    """ServiceTitan POs by the Fusion order number in their summary (fails on a duplicate)."""
    out: dict[str, dict[str, Any]] = {}
    for po in h.table("purchase_orders"):
        summary = po.get("summary") or ""
        if summary.startswith("Fusion PO "):
            number = summary.removeprefix("Fusion PO ")
            assert number not in out, f"duplicate ServiceTitan PO for {number}"
            out[number] = po
    return out


def live_items(po: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in po["items"] if i["status"] != "Inactive"]


async def test_first_sync_creates_every_eligible_po_once_with_its_lines(h: Harness) -> None:
    expected = h.dataset.expected.purchase_orders
    summary = await PurchaseOrderFlow(h.ctx()).run()
    pos = ours(h)
    assert set(pos) == {e.order_number for e in expected.eligible.values()}
    vendors = {
        v["id"]: item["value"]
        for v in h.table("vendors")
        for item in v.get("externalData") or []
        if item["key"] == "fusion.SupplierId"
    }
    for exp in expected.eligible.values():
        po = pos[exp.order_number]
        assert po["businessUnitId"] == exp.business_unit_id
        assert po["inventoryLocationId"] == exp.warehouse_id
        assert vendors[po["vendorId"]] == str(exp.supplier_id)
        items = live_items(po)
        assert [i["skuId"] for i in items] == [h.dataset.sku_ids[ln.sku_code] for ln in exp.lines]
        assert [(Decimal(str(i["quantity"])), Decimal(str(i["cost"]))) for i in items] == [
            (line.quantity, line.price) for line in exp.lines
        ]
    assert summary.created == len(expected.eligible)
    assert summary.attention == len(expected.attention)
    assert set(summary.ids[Outcome.ATTENTION]) == {str(i) for i in expected.attention}
    assert set(summary.ids.get(Outcome.SKIPPED, [])) <= {str(i) for i in expected.skipped}
    assert summary.failed == 0
    async with h.store.transaction() as tx:
        open_items = await tx.attention.list(connection="default", flow=FLOW)
        assert {i.reason for i in open_items} == {"po_line_unmapped_item"}
        lines = sum(len(e.lines) for e in expected.eligible.values())
        assert await tx.links.count("default", LINE_ENTITY) == lines
        for po_id in expected.eligible:
            (row,) = await tx.audit.history("default", FLOW, str(po_id))
            assert row.action is AuditAction.CREATE
            assert {d["rule"] for d in row.decisions} >= {"vendor", "business_unit", "item"}


async def test_unmapped_item_sends_the_po_to_attention_and_writes_no_partial_po(
    h: Harness,
) -> None:
    await PurchaseOrderFlow(h.ctx()).run()
    numbers = set(ours(h))
    for po_id, reason in h.dataset.expected.purchase_orders.attention.items():
        number = h.sandbox.fusion.purchase_orders[po_id].OrderNumber
        assert number not in numbers
        assert h.dataset.unmapped_item in reason.message
    async with h.store.transaction() as tx:
        for po_id in h.dataset.expected.purchase_orders.attention:
            item = await tx.attention.find_active("default", FLOW, str(po_id))
            assert item is not None
            assert item.state is AttentionState.OPEN
            assert h.dataset.unmapped_item in item.message


async def test_second_run_with_no_changes_writes_nothing(h: Harness) -> None:
    await PurchaseOrderFlow(h.ctx()).run()
    h.later()
    before = h.st_writes()
    summary = await PurchaseOrderFlow(h.ctx()).run(full=True)
    assert h.st_writes() == before
    assert summary.created == summary.updated == 0
    assert summary.unchanged == len(h.dataset.expected.purchase_orders.eligible)


async def test_quantity_change_and_cancellation_reach_servicetitan(h: Harness) -> None:
    await PurchaseOrderFlow(h.ctx()).run()
    changed, cancelled = list(h.dataset.expected.purchase_orders.eligible)[:2]
    h.later()
    po = h.sandbox.fusion.purchase_orders[changed]
    po.lines[0].Quantity = Decimal(99)
    po.lines[0].schedules[0].Quantity = Decimal(99)
    h.sandbox.fusion.touch(po)
    h.sandbox.fusion.update_purchase_order(cancelled, StatusCode="CANCELED", Status="Canceled")
    h.later()
    before = {n: len(p["items"]) for n, p in ours(h).items()}
    summary = await PurchaseOrderFlow(h.ctx()).run()
    assert summary.updated == 2
    pos = ours(h)
    changed_po = pos[h.sandbox.fusion.purchase_orders[changed].OrderNumber]
    assert Decimal(str(live_items(changed_po)[0]["quantity"])) == 99
    assert len(changed_po["items"]) == before[changed_po["summary"].removeprefix("Fusion PO ")]
    assert pos[h.sandbox.fusion.purchase_orders[cancelled].OrderNumber]["status"] == "Canceled"
    h.later()
    again = await PurchaseOrderFlow(h.ctx()).run()
    assert again.updated == again.created == 0


async def test_po_no_longer_editable_goes_to_attention(h: Harness) -> None:
    await PurchaseOrderFlow(h.ctx()).run()
    po_id = next(iter(h.dataset.expected.purchase_orders.eligible))
    number = h.sandbox.fusion.purchase_orders[po_id].OrderNumber
    h.sandbox.servicetitan.set_po_status(ours(h)[number]["id"], "Received")
    h.later()
    po = h.sandbox.fusion.purchase_orders[po_id]
    po.lines[0].Quantity = Decimal(7)
    h.sandbox.fusion.touch(po)
    h.later()
    summary = await PurchaseOrderFlow(h.ctx()).run()
    assert summary.ids[Outcome.ATTENTION].count(str(po_id)) == 1
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, str(po_id))
        assert item is not None
        assert item.reason == "po_not_editable"


async def test_crash_between_create_and_link_leaves_no_duplicate(h: Harness) -> None:
    await SupplierFlow(h.ctx()).run()
    ctx = h.ctx()
    original = ctx.servicetitan.create_purchase_order
    calls = 0

    async def create_then_crash(order: Any) -> int:
        nonlocal calls
        calls += 1
        po_id = await original(order)
        if calls == 2:
            raise RuntimeError("process killed after the create")
        return po_id

    ctx.servicetitan.create_purchase_order = create_then_crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await PurchaseOrderFlow(ctx).run()
    h.later()
    summary = await PurchaseOrderFlow(h.ctx()).run()
    assert summary.adopted >= 1  # the crashed create (siblings cancelled mid-write may add more)
    expected = {e.order_number for e in h.dataset.expected.purchase_orders.eligible.values()}
    assert set(ours(h)) == expected


async def test_a_po_adopted_from_an_older_version_is_updated_in_the_same_run(h: Harness) -> None:
    """DESIGN §3.2 rule 2: the create committed, the process died before the link, and the PO
    changed in Fusion meanwhile. The next run adopts it by memo and brings its lines up to date at
    once (not only when Fusion changes the PO again)."""
    await SupplierFlow(h.ctx()).run()
    ctx = h.ctx(concurrency=1)
    original = ctx.servicetitan.create_purchase_order

    async def create_then_crash(order: Any) -> int:
        await original(order)
        raise RuntimeError("process killed after the create")

    ctx.servicetitan.create_purchase_order = create_then_crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await PurchaseOrderFlow(ctx).run()
    async with h.store.transaction() as tx:
        (intent,) = await tx.writes.pending("default", FLOW)
    po_id = int(intent.business_key.removeprefix("purchase_order:"))
    h.later()
    po = h.sandbox.fusion.purchase_orders[po_id]
    po.lines[0].Quantity = Decimal(99)
    po.lines[0].schedules[0].Quantity = Decimal(99)
    h.sandbox.fusion.touch(po)
    h.later()
    summary = await PurchaseOrderFlow(h.ctx()).run()
    assert str(po_id) in summary.ids[Outcome.ADOPTED]
    target = ours(h)[po.OrderNumber]
    assert Decimal(str(live_items(target)[0]["quantity"])) == 99
    assert len(live_items(target)) == len(po.lines)
    h.later()
    before = h.st_writes()
    again = await PurchaseOrderFlow(h.ctx()).run(full=True)
    assert again.updated == again.created == 0
    assert h.st_writes() == before


async def test_lost_create_answers_make_no_duplicates(h: Harness) -> None:
    """Every create commits and its answer is lost: each PO is found by memo and adopted.

    One context (one client, one rate bucket) for both flows, as production shares the limiter per
    app key + tenant: with two clients the second one's fresh bucket could push the simulator over
    its 60 requests/s right after F1, and a 429 on a create is hidden by the fault as a lost answer
    of a write that never happened (the PO is then rightly left pending for the next run)."""
    ctx = h.ctx()
    await SupplierFlow(ctx).run()
    h.sandbox.st_app.set_config(FaultConfig(seed=1, rate_drop_after_commit=1.0))
    first = await PurchaseOrderFlow(ctx).run()
    h.sandbox.st_app.set_config(FaultConfig())
    eligible = h.dataset.expected.purchase_orders.eligible
    assert first.adopted == len(eligible)
    assert first.created == 0
    h.later()
    second = await PurchaseOrderFlow(h.ctx()).run(full=True)
    assert second.created == 0
    assert set(ours(h)) == {e.order_number for e in eligible.values()}


async def test_dry_run_writes_nothing(h: Harness) -> None:
    await SupplierFlow(h.ctx()).run()
    before = h.st_writes()
    summary = await PurchaseOrderFlow(h.ctx(dry_run=True)).run()
    assert h.st_writes() == before
    assert ours(h) == {}
    assert summary.created == len(h.dataset.expected.purchase_orders.eligible)
    async with h.store.transaction() as tx:
        assert (await tx.cursors.get("default", FLOW)).watermark is None
        assert await tx.links.count("default", "purchase_order") == 0


async def test_po_memo_is_what_the_lookup_matches() -> None:
    assert po_memo("100001") == "Fusion PO 100001"


async def test_first_sync_and_quiet_rerun_on_each_store(h_any_store: Harness) -> None:
    h = h_any_store
    summary = await PurchaseOrderFlow(h.ctx()).run()
    assert summary.created == len(h.dataset.expected.purchase_orders.eligible)
    h.later()
    before = h.st_writes()
    again = await PurchaseOrderFlow(h.ctx()).run(full=True)
    assert h.st_writes() == before
    assert again.unchanged == summary.created


async def test_a_record_the_target_refuses_goes_to_attention_with_its_message(
    h: Harness,
) -> None:
    """A 400 from ServiceTitan for one PO (here: a warehouse id that does not exist) is that
    record's problem: attention with ServiceTitan's words, the run goes on."""
    mapping = h.settings.mapping
    bogus = dict.fromkeys(mapping.purchase_orders.inventory_locations, 999999)
    h.settings = h.settings.model_copy(
        update={
            "mapping": mapping.model_copy(
                update={
                    "purchase_orders": mapping.purchase_orders.model_copy(
                        update={"inventory_locations": bogus}
                    )
                }
            )
        }
    )
    summary = await PurchaseOrderFlow(h.ctx()).run()
    assert summary.created == 0
    eligible = {str(i) for i in h.dataset.expected.purchase_orders.eligible}
    assert eligible <= set(summary.ids[Outcome.ATTENTION])
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, next(iter(eligible)))
        assert item is not None
        assert item.reason == "target_refused"
        assert "999999" in item.message
        assert await tx.writes.pending("default", FLOW) == []


async def test_bad_credentials_end_the_run_instead_of_filling_the_attention_queue(
    h: Harness,
) -> None:
    ctx = h.ctx()
    wrong = STClient.from_settings(
        h.settings.servicetitan,
        client_secret=Secret("cs1.wrong"),
        app_key=Secret(sb.SERVICETITAN_APP_KEY),
        clock=h.clock,
        transport=httpx.ASGITransport(app=h.sandbox.st_app),
    )
    h.clients.append(wrong)
    ctx.servicetitan = wrong
    with pytest.raises(FatalError):
        await PurchaseOrderFlow(ctx).run()
    async with h.store.transaction() as tx:
        assert await tx.attention.list(connection="default") == []


async def test_an_item_linked_by_match_uses_its_sku_whatever_the_code_says(h: Harness) -> None:
    """Issue 11: a SKU whose code does not follow the Fusion item number is found through the
    ``item`` link that ``ml-connector match items`` wrote; the POs that had no SKU for the item
    are created with the linked one."""
    item = h.dataset.unmapped_item
    sku_code, sku_id = sorted(h.dataset.sku_ids.items())[0]
    assert sku_code != item
    async with h.store.transaction() as tx:
        await tx.links.upsert(
            connection="default",
            entity="item",
            source_system="fusion",
            source_id=item,
            target_system="servicetitan",
            target_id=str(sku_id),
            version_hash=None,
        )
    summary = await PurchaseOrderFlow(h.ctx()).run()
    expected = h.dataset.expected.purchase_orders
    assert summary.attention == 0
    assert summary.created == len(expected.eligible) + len(expected.attention)
    pos = ours(h)
    for po_id in expected.attention:
        fusion_po = h.sandbox.fusion.purchase_orders[po_id]
        items = live_items(pos[fusion_po.OrderNumber])
        lines = [ln for ln in fusion_po.lines if ln.Item and ln.Item.strip() == item]
        assert lines
        assert sum(1 for i in items if i["skuId"] == sku_id) >= len(lines)
