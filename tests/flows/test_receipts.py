"""F3 ServiceTitan receipts → Fusion receiving end to end against the sandbox (issue 5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flow_kit import Harness
from ml_connector.flows.purchase_orders import PurchaseOrderFlow
from ml_connector.flows.receipts import FLOW, ReceiptFlow
from ml_connector.flows.summary import Outcome
from ml_connector.sandbox.faults import FaultConfig
from ml_connector.sandbox.servicetitan import ReceiptItemInput
from ml_connector.store.states import AuditAction


async def _synced(h: Harness) -> dict[str, dict[str, Any]]:
    """Run F2 and return our ServiceTitan POs by Fusion order number."""
    await PurchaseOrderFlow(h.ctx()).run()
    out = {}
    for po in h.table("purchase_orders"):
        summary = po.get("summary") or ""
        if summary.startswith("Fusion PO "):
            out[summary.removeprefix("Fusion PO ")] = po
    return out


def _receive(h: Harness, po: dict[str, Any], share: Decimal = Decimal(1)) -> int:
    items = [
        ReceiptItemInput(
            sku_id=i["skuId"],
            quantity=Decimal(str(i["quantity"])) * share,
            cost=Decimal(str(i["cost"])),
            purchase_order_item_id=i["id"],
        )
        for i in po["items"]
        if i["status"] != "Inactive"
    ]
    receipt = h.sandbox.servicetitan.receive_purchase_order(
        purchase_order_id=po["id"], date_received=h.clock.now(), items=items
    )
    return int(receipt.id)


def _fusion_po(h: Harness, number: str) -> Any:
    po = h.sandbox.fusion.po_by_number(number)
    assert po is not None
    return po


async def test_receipts_flow_back_and_fusion_shows_the_received_quantities(h: Harness) -> None:
    pos = await _synced(h)
    numbers = sorted(pos)[:3]
    h.later()
    receipts = {n: _receive(h, pos[n]) for n in numbers}
    h.later()
    summary = await ReceiptFlow(h.ctx()).run()
    assert summary.created == len(numbers)
    assert summary.attention == summary.failed == 0
    for number in numbers:
        for line in _fusion_po(h, number).lines:
            assert line.schedules[0].ReceivedQuantity == line.Quantity
    async with h.store.transaction() as tx:
        for receipt_id in receipts.values():
            (row,) = await tx.audit.history("default", FLOW, str(receipt_id))
            assert row.action is AuditAction.CREATE
            assert any(d["rule"] == "line" for d in row.decisions)
    h.later()
    again = await ReceiptFlow(h.ctx()).run(full=True)
    assert again.created == 0
    assert again.unchanged == len(numbers)
    requests = h.sandbox.fusion.receipt_requests
    assert len(requests) == len(numbers)


async def test_a_cancelled_receipt_goes_to_attention(h: Harness) -> None:
    pos = await _synced(h)
    number = sorted(pos)[0]
    h.later()
    receipt_id = _receive(h, pos[number])
    h.later()
    await ReceiptFlow(h.ctx()).run()
    h.sandbox.servicetitan.cancel_receipt(receipt_id)
    h.later()
    summary = await ReceiptFlow(h.ctx()).run()
    assert summary.ids[Outcome.ATTENTION] == [str(receipt_id)]
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, str(receipt_id))
        assert item is not None
        assert item.reason == "receipt_cancelled"
    h.later()
    quiet = await ReceiptFlow(h.ctx()).run()
    assert quiet.attention == 0


async def test_a_fusion_processing_error_goes_to_attention_with_oracles_message(
    h: Harness,
) -> None:
    pos = await _synced(h)
    number = sorted(pos)[0]
    fusion_po = _fusion_po(h, number)
    h.sandbox.fusion.update_purchase_order(fusion_po.POHeaderId, StatusCode="CLOSED")
    h.later()
    receipt_id = _receive(h, pos[number])
    h.later()
    summary = await ReceiptFlow(h.ctx()).run()
    assert summary.ids[Outcome.ATTENTION] == [str(receipt_id)]
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, str(receipt_id))
        assert item is not None
        assert item.reason == "receiving_error"
        assert "not open for receiving" in item.message


async def test_lost_create_answer_makes_no_second_receipt_request(h: Harness) -> None:
    pos = await _synced(h)
    number = sorted(pos)[0]
    h.later()
    _receive(h, pos[number])
    h.later()
    h.sandbox.fusion_app.set_config(
        FaultConfig(seed=1, rate_drop_after_commit=1.0, exclude_paths=["/oauth2/*"])
    )
    summary = await ReceiptFlow(h.ctx()).run()
    h.sandbox.fusion_app.set_config(FaultConfig())
    assert summary.adopted == 1
    assert len(h.sandbox.fusion.receipt_requests) == 1


async def test_dry_run_sends_nothing(h: Harness) -> None:
    pos = await _synced(h)
    h.later()
    _receive(h, pos[sorted(pos)[0]])
    h.later()
    summary = await ReceiptFlow(h.ctx(dry_run=True)).run()
    assert summary.created == 1
    assert len(h.sandbox.fusion.receipt_requests) == 0
    async with h.store.transaction() as tx:
        assert (await tx.cursors.get("default", FLOW)).watermark is None
        assert await tx.links.count("default", "receipt") == 0


async def test_a_receipt_changed_mid_read_does_not_push_a_later_one_out_of_the_run(
    h: Harness,
) -> None:
    """DESIGN §3.2 rule 1: the receipt list is paged by offset, so no ``modifiedBefore`` is sent.

    r1 < r2 < r3 by id; r2 was cancelled long after (its ``modifiedOn`` moves the cursor past r3's
    overlap). Pages of 2: between page 1 and page 2 r1 is cancelled. With an upper bound r1 would
    leave the filtered list, r3 would slide onto page 1 (already read) and never reach Fusion."""
    pos = await _synced(h)
    first, second, third = (pos[n] for n in sorted(pos)[:3])
    h.later()
    r1, r2, r3 = _receive(h, first), _receive(h, second), _receive(h, third)
    assert r1 < r2 < r3
    h.later(600)  # well past the cursor overlap
    h.sandbox.servicetitan.cancel_receipt(r2)
    h.later()
    ctx = h.ctx()
    ctx.servicetitan.page_size = 2
    flow = ReceiptFlow(ctx)
    plain_sync = flow.sync
    synced: list[str] = []

    async def sync_then_cancel_r1(receipt: Any, summary: Any) -> bool:
        passed = await plain_sync(receipt, summary)
        synced.append(str(receipt.id))
        if len(synced) == 2:  # page 1 done; page 2 is fetched next
            h.later(5)  # the run takes a while: the cancel is stamped after its start
            h.sandbox.servicetitan.cancel_receipt(r1)
        return passed

    flow.sync = sync_then_cancel_r1  # type: ignore[method-assign]
    summary = await flow.run()
    assert synced[:2] == [str(r1), str(r2)]
    h.later()
    await ReceiptFlow(h.ctx()).run()
    async with h.store.transaction() as tx:
        sent = await tx.links.get("default", "receipt", str(r3))
        assert sent is not None, f"receipt {r3} never reached Fusion (first run: {summary.ids})"
    assert len(h.sandbox.fusion.receipt_requests) == 2  # r1 and r3; r2 was cancelled first
