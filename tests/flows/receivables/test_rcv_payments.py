"""F5 payments end to end against the sandbox (issue 6; decision 0007), after F4."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from rcv_kit import (
    REASONS,
    LateApply,
    applications,
    fusion_invoices,
    fusion_receipts,
    fusion_writes,
)

from flow_kit import Harness
from ml_connector.errors import RetriableError
from ml_connector.flows.applications import APPLICATION, BEFORE, Applier
from ml_connector.flows.invoices import InvoiceFlow
from ml_connector.flows.payments import FLOW, PaymentFlow
from ml_connector.mapping.payments import Application, receipt_number
from ml_connector.sandbox.faults import FaultConfig
from ml_connector.store.states import AttentionState


def number(h: Harness, payment_id: int) -> str:
    return receipt_number(h.settings.mapping.receivables, payment_id)


def expected_applications(h: Harness) -> dict[str, list[tuple[str, Decimal]]]:
    return {
        number(h, pid): sorted((str(inv), amount) for inv, amount in exp.applications)
        for pid, exp in h.dataset.expected.payments.eligible.items()
        if exp.applications
    }


async def open_attention(h: Harness, flow: str) -> dict[str, str]:
    async with h.store.transaction() as tx:
        items = await tx.attention.list(connection="default")
    return {
        i.source_id: i.reason for i in items if i.flow == flow and i.state is AttentionState.OPEN
    }


async def test_invoices_then_payments_post_everything_once_with_applications(h: Harness) -> None:
    """Acceptance of issue 6 on the default data: one run of F4 then F5."""
    await InvoiceFlow(h.ctx()).run()
    summary = await PaymentFlow(h.ctx()).run()
    expected = h.dataset.expected.payments
    receipts = fusion_receipts(h)
    assert set(receipts) == {number(h, p) for p in expected.eligible}
    for pid, exp in expected.eligible.items():
        receipt = receipts[number(h, pid)]
        assert receipt.Amount == exp.total
        assert receipt.ReceiptMethod == exp.receipt_method
        assert receipt.BusinessUnit == exp.business_unit
        assert receipt.CustomerAccountNumber == exp.account_number
    assert expected_applications(h)
    assert applications(h) == expected_applications(h)
    assert summary.created == len(expected.eligible)
    assert summary.failed == 0
    assert await open_attention(h, FLOW) == {
        str(i): REASONS.get(r.kind, r.kind) for i, r in expected.attention.items()
    }
    # Fusion totals equal ServiceTitan totals to the cent
    invoices = h.dataset.expected.invoices.eligible
    assert sum(i.EnteredAmount for i in fusion_invoices(h).values()) == sum(
        e.total for e in invoices.values()
    )
    assert sum(r.Amount for r in receipts.values()) == sum(
        e.total for e in expected.eligible.values()
    )
    st_rows = {r["id"]: r for r in h.table("payments")}
    assert all(st_rows[p]["syncStatus"] == "Exported" for p in expected.eligible)


async def test_second_run_of_both_flows_makes_zero_writes(h: Harness) -> None:
    await InvoiceFlow(h.ctx()).run()
    await PaymentFlow(h.ctx()).run()
    h.later()
    before_fusion, before_st = fusion_writes(h), h.st_writes()
    inv = await InvoiceFlow(h.ctx()).run()
    pay = await PaymentFlow(h.ctx()).run()
    assert inv.writes == pay.writes == 0
    assert fusion_writes(h) == before_fusion
    assert h.st_writes() == before_st


async def test_a_payment_before_its_invoice_is_applied_after_the_invoice_posts(h: Harness) -> None:
    first = await PaymentFlow(h.ctx()).run()
    # receipts exist, nothing is applied yet: every invoice is still unposted
    assert first.created == len(h.dataset.expected.payments.eligible)
    assert h.sandbox.fusion.applications == {}
    assert first.failed == 0
    h.later()
    await InvoiceFlow(h.ctx()).run()
    h.later()
    second = await PaymentFlow(h.ctx()).run()
    assert second.created == 0
    assert second.updated >= 1
    assert expected_applications(h)
    assert applications(h) == expected_applications(h)
    assert set(fusion_receipts(h)) == {number(h, p) for p in h.dataset.expected.payments.eligible}
    # never applied twice
    h.later()
    before = len(h.sandbox.fusion.applications)
    third = await PaymentFlow(h.ctx()).run()
    assert third.writes == 0
    assert len(h.sandbox.fusion.applications) == before


async def test_apply_method_attention_leaves_receipts_unapplied_with_apply_in_fusion(
    h: Harness,
) -> None:
    receivables = h.settings.mapping.receivables.model_copy(update={"apply_method": "attention"})
    mapping = h.settings.mapping.model_copy(update={"receivables": receivables})
    h.settings = h.settings.model_copy(update={"mapping": mapping})
    await InvoiceFlow(h.ctx()).run()
    summary = await PaymentFlow(h.ctx()).run()
    assert h.sandbox.fusion.applications == {}
    assert set(fusion_receipts(h)) == {number(h, p) for p in h.dataset.expected.payments.eligible}
    reasons = await open_attention(h, FLOW)
    with_apps = {str(p) for p, e in h.dataset.expected.payments.eligible.items() if e.applications}
    assert with_apps
    assert {p for p, r in reasons.items() if r == "apply_in_fusion"} == with_apps
    assert summary.failed == 0
    # the next run neither re-applies nor re-opens anything as a write
    h.later()
    again = await PaymentFlow(h.ctx()).run()
    assert again.writes == 0
    assert h.sandbox.fusion.applications == {}


async def test_lost_answers_for_receipts_and_applications_make_no_duplicates(h: Harness) -> None:
    """Every Fusion POST of the payments phase loses its answer after committing (DESIGN §3.4):
    receipts are adopted by ReceiptNumber, applications by the installment balance."""
    await InvoiceFlow(h.ctx()).run()
    h.sandbox.fusion_app.set_config(FaultConfig(seed=5, rate_drop_after_commit=1.0))
    summary = await PaymentFlow(h.ctx()).run()
    h.sandbox.fusion_app.set_config(FaultConfig())
    assert summary.created == 0
    assert summary.adopted == len(h.dataset.expected.payments.eligible)
    assert set(fusion_receipts(h)) == {number(h, p) for p in h.dataset.expected.payments.eligible}
    assert applications(h) == expected_applications(h)
    assert "application_uncertain" not in (await open_attention(h, FLOW)).values()
    h.later()
    again = await PaymentFlow(h.ctx()).run()
    assert again.writes == 0
    assert applications(h) == expected_applications(h)
    async with h.store.transaction() as tx:
        assert await tx.writes.pending("default", FLOW) == []


async def test_payments_dry_run_writes_nothing(h: Harness) -> None:
    await InvoiceFlow(h.ctx()).run()
    before_st = h.st_writes()
    summary = await PaymentFlow(h.ctx(dry_run=True)).run()
    assert summary.created == len(h.dataset.expected.payments.eligible)
    assert h.sandbox.fusion.receipts == {}
    assert h.st_writes() == before_st


def a_payment_with_applications(h: Harness) -> int:
    return min(p for p, e in h.dataset.expected.payments.eligible.items() if e.applications)


async def test_an_application_fusion_commits_after_the_reread_is_adopted_not_applied_again(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN §3.2 rule 2 / §5 "Receipt application": the first applyReceipt loses its answer and
    Fusion commits it only after the connector read the balance again (unchanged). The intent
    stays pending with its ``before`` balance; the next attempt sees the balance down by the
    amount and adopts: exactly one application."""
    await InvoiceFlow(h.ctx()).run()
    pid = a_payment_with_applications(h)
    late = LateApply(h.sandbox.fusion_app)
    monkeypatch.setattr(h.sandbox, "fusion_app", late)
    first = await PaymentFlow(h.ctx()).sync_ids([pid])
    assert first.failed == 1
    async with h.store.transaction() as tx:
        assert len(await tx.writes.pending("default", FLOW)) == 1
    assert await late.commit() < 300  # Fusion commits the held request now
    h.later()
    second = await PaymentFlow(h.ctx()).sync_ids([pid])
    assert second.failed == 0
    assert applications(h)[number(h, pid)] == expected_applications(h)[number(h, pid)]
    async with h.store.transaction() as tx:
        assert await tx.writes.pending("default", FLOW) == []
    assert str(pid) not in await open_attention(h, FLOW)


async def test_an_application_lost_and_never_committed_is_applied_once_on_the_next_attempt(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The held request never reaches Fusion: the next attempt finds the balance still at the
    recorded ``before``, fails the old intent and applies (DESIGN §5 "Receipt application")."""
    await InvoiceFlow(h.ctx()).run()
    pid = a_payment_with_applications(h)
    late = LateApply(h.sandbox.fusion_app)
    monkeypatch.setattr(h.sandbox, "fusion_app", late)
    assert (await PaymentFlow(h.ctx()).sync_ids([pid])).failed == 1
    late.held = None  # lost for good
    h.later()
    second = await PaymentFlow(h.ctx()).sync_ids([pid])
    assert second.failed == 0
    assert applications(h)[number(h, pid)] == expected_applications(h)[number(h, pid)]
    async with h.store.transaction() as tx:
        assert await tx.writes.pending("default", FLOW) == []


async def attention_message(h: Harness, source_id: str) -> str:
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, source_id)
    assert item is not None
    return item.message


async def test_apply_in_fusion_names_every_open_by_hand_application_of_a_split_payment(
    h: Harness,
) -> None:
    """DESIGN §5 "Receipt application" (apply_method = "attention"): a payment split over two
    invoices posted at different times; the second "apply in Fusion" message still names the
    first application, which nobody has applied yet."""
    receivables = h.settings.mapping.receivables.model_copy(update={"apply_method": "attention"})
    mapping = h.settings.mapping.model_copy(update={"receivables": receivables})
    h.settings = h.settings.model_copy(update={"mapping": mapping})
    split = {
        p: sorted(inv for inv, _amount in e.applications)
        for p, e in h.dataset.expected.payments.eligible.items()
        if len(e.applications) >= 2
    }
    assert split, "the default data set has a payment applied to two invoices"
    pid = min(split)
    first_invoice, second_invoice = split[pid][:2]
    await InvoiceFlow(h.ctx()).sync_ids([first_invoice])
    await PaymentFlow(h.ctx()).sync_ids([pid])
    message = await attention_message(h, str(pid))
    assert f"to invoice {first_invoice}" in message
    assert f"to invoice {second_invoice}" not in message
    h.later()
    await InvoiceFlow(h.ctx()).sync_ids([second_invoice])
    await PaymentFlow(h.ctx()).sync_ids([pid])
    message = await attention_message(h, str(pid))
    assert f"to invoice {first_invoice}" in message
    assert f"to invoice {second_invoice}" in message
    assert h.sandbox.fusion.applications == {}


async def lose_the_receipt_create(
    h: Harness, monkeypatch: pytest.MonkeyPatch, pid: int
) -> LateApply:
    """The first receipt POST gets no answer and is not (yet) in Fusion: the intent stays pending."""
    late = LateApply(h.sandbox.fusion_app, suffix="/standardReceipts")
    monkeypatch.setattr(h.sandbox, "fusion_app", late)
    assert (await PaymentFlow(h.ctx()).sync_ids([pid])).failed == 1
    assert late.held is not None
    async with h.store.transaction() as tx:
        assert len(await tx.writes.pending("default", FLOW)) == 1
    return late


async def test_a_payment_voided_after_a_lost_create_that_committed_goes_to_attention(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN §3.2 rule 2: the pending intent is checked before the eligibility skip; Fusion holds
    the receipt (committed late), so the voided payment is not skipped silently."""
    await InvoiceFlow(h.ctx()).run()
    pid = a_payment_with_applications(h)
    late = await lose_the_receipt_create(h, monkeypatch, pid)
    assert await late.commit() < 300
    h.later()
    h.sandbox.servicetitan.update_payment(pid, active=False)
    await PaymentFlow(h.ctx()).sync_ids([pid])
    assert (await open_attention(h, FLOW)).get(str(pid)) == "voided_after_posting"
    assert number(h, pid) in fusion_receipts(h)


async def test_a_payment_voided_after_a_lost_create_that_never_committed_is_skipped(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receipt is not in Fusion: the pending intent is failed and the payment skipped."""
    await InvoiceFlow(h.ctx()).run()
    pid = a_payment_with_applications(h)
    late = await lose_the_receipt_create(h, monkeypatch, pid)
    late.held = None
    h.later()
    h.sandbox.servicetitan.update_payment(pid, active=False)
    summary = await PaymentFlow(h.ctx()).sync_ids([pid])
    assert summary.skipped == 1
    assert str(pid) not in await open_attention(h, FLOW)
    assert number(h, pid) not in fusion_receipts(h)
    async with h.store.transaction() as tx:
        assert await tx.writes.pending("default", FLOW) == []


async def test_apply_in_fusion_after_a_person_resolved_names_only_the_new_application(
    h: Harness,
) -> None:
    """Once the first "apply in Fusion" item is resolved (a person applied it), the item opened
    for the second invoice names only the second application."""
    receivables = h.settings.mapping.receivables.model_copy(update={"apply_method": "attention"})
    mapping = h.settings.mapping.model_copy(update={"receivables": receivables})
    h.settings = h.settings.model_copy(update={"mapping": mapping})
    split = {
        p: sorted(inv for inv, _amount in e.applications)
        for p, e in h.dataset.expected.payments.eligible.items()
        if len(e.applications) >= 2
    }
    pid = min(split)
    first_invoice, second_invoice = split[pid][:2]
    await InvoiceFlow(h.ctx()).sync_ids([first_invoice])
    await PaymentFlow(h.ctx()).sync_ids([pid])
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, str(pid))
        assert item is not None
        await tx.attention.resolve(item.id, by="tester")
    h.later()
    await InvoiceFlow(h.ctx()).sync_ids([second_invoice])
    await PaymentFlow(h.ctx()).sync_ids([pid])
    message = await attention_message(h, str(pid))
    assert f"to invoice {first_invoice}" not in message
    assert f"to invoice {second_invoice}" in message


async def test_a_pending_application_whose_balance_moved_otherwise_goes_to_a_person(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DESIGN §5 "Receipt application": with a pending intent, a balance neither at the recorded
    ``before`` nor down by the amount (here: the recorded ``before`` differs, as if something
    else was applied meanwhile) is application_uncertain; nothing is applied blindly."""
    await InvoiceFlow(h.ctx()).run()
    pid = a_payment_with_applications(h)
    late = LateApply(h.sandbox.fusion_app)
    monkeypatch.setattr(h.sandbox, "fusion_app", late)
    assert (await PaymentFlow(h.ctx()).sync_ids([pid])).failed == 1
    late.held = None
    async with h.store.transaction() as tx:
        intent = (await tx.writes.pending("default", FLOW))[0]
        key = intent.business_key.split(":", 1)[1]
        recorded = await tx.links.get("default", BEFORE, key)
        assert recorded is not None
        installment, _, balance = recorded.target_id.partition(":")
        await tx.links.upsert(
            connection="default",
            entity=BEFORE,
            source_system="servicetitan",
            source_id=key,
            target_system="fusion",
            target_id=f"{installment}:{Decimal(balance) + Decimal('7.00')}",
            version_hash=None,
        )
    h.later()
    await PaymentFlow(h.ctx()).sync_ids([pid])
    assert (await open_attention(h, FLOW)).get(str(pid)) == "application_uncertain"
    assert number(h, pid) not in applications(h)


async def test_apply_in_fusion_stays_open_while_an_earlier_application_is_not_applied(
    h: Harness,
) -> None:
    """DESIGN §5 "Receipt application": the pod gains applyReceipt (a 26C upgrade) between two
    runs of a split payment. The second application is applied by the connector, but the first is
    still the person's to apply: the "apply in Fusion" item stays open and names it (it used to be
    resolved by the successful run)."""
    inner = h.sandbox.fusion_app.app
    config = inner.state.fusion_config
    inner.state.fusion_config = dataclasses.replace(config, apply_receipt_action=False)
    split = {
        p: sorted(inv for inv, _amount in e.applications)
        for p, e in h.dataset.expected.payments.eligible.items()
        if len(e.applications) >= 2
    }
    pid = min(split)
    first_invoice, second_invoice = split[pid][:2]
    await InvoiceFlow(h.ctx()).sync_ids([first_invoice])
    await PaymentFlow(h.ctx()).sync_ids([pid])
    assert f"to invoice {first_invoice}" in await attention_message(h, str(pid))

    inner.state.fusion_config = config  # the pod now has the action
    h.later()
    await InvoiceFlow(h.ctx()).sync_ids([second_invoice])
    await PaymentFlow(h.ctx()).sync_ids([pid])
    message = await attention_message(h, str(pid))
    assert f"to invoice {first_invoice}" in message
    assert f"to invoice {second_invoice}" not in message
    applied = applications(h).get(number(h, pid), [])
    assert len(applied) == 1, "the second application was applied by the connector"


async def test_applications_to_one_invoice_take_turns_when_payments_run_side_by_side(
    h: Harness,
) -> None:
    """Decision 0012 and DESIGN §3.2 rule 2: payments are synced 8 at a time, and the balance
    read before an application is the evidence for a lost answer; so two applications to one
    invoice never overlap (read balance → apply), while other invoices' go on meanwhile."""
    ctx = h.ctx()
    applier = Applier(ctx=ctx)
    busy: dict[int, int] = {}
    overlaps: list[int] = []
    balances = {1: Decimal("100.00"), 2: Decimal("100.00")}

    async def installments(transaction_id: int) -> list[Any]:
        busy[transaction_id] = busy.get(transaction_id, 0) + 1
        if busy[transaction_id] > 1:
            overlaps.append(transaction_id)
        for _ in range(20):  # a slow answer: the other payments' tasks run meanwhile
            await asyncio.sleep(0)
        return [
            SimpleNamespace(
                InstallmentId=transaction_id * 10, InstallmentBalanceDue=balances[transaction_id]
            )
        ]

    async def apply(receipt_id: int, installment_id: int, amount: Decimal) -> Any:
        await asyncio.sleep(0)
        transaction_id = installment_id // 10
        balances[transaction_id] -= amount
        busy[transaction_id] -= 1
        return SimpleNamespace(application_id=receipt_id * 1000 + installment_id)

    ctx.fusion.invoice_installments = installments  # type: ignore[method-assign]
    ctx.fusion.apply_receipt = apply  # type: ignore[method-assign]
    await asyncio.gather(
        *(
            applier.apply(
                f"{p}:{inv}", Application(st_invoice_id=inv, amount=Decimal("10.00")), p, inv
            )
            for p in (501, 502, 503)
            for inv in (1, 2)
        )
    )
    assert overlaps == []
    assert balances == {1: Decimal("70.00"), 2: Decimal("70.00")}


async def test_an_unsettled_application_to_an_invoice_holds_the_next_one(h: Harness) -> None:
    """DESIGN §3.2 rule 2: a lost answer is settled by the installment balance, so while one
    payment's application to an invoice is unsettled, another payment's application to the same
    invoice waits (transiently) instead of changing that balance; other invoices go on."""
    ctx = h.ctx()
    applier = Applier(ctx=ctx)
    applied: list[int] = []

    async def installments(transaction_id: int) -> list[Any]:
        return [
            SimpleNamespace(InstallmentId=transaction_id * 10, InstallmentBalanceDue=Decimal(100))
        ]

    async def apply(receipt_id: int, installment_id: int, amount: Decimal) -> Any:
        applied.append(installment_id)
        return SimpleNamespace(application_id=receipt_id)

    ctx.fusion.invoice_installments = installments  # type: ignore[method-assign]
    ctx.fusion.apply_receipt = apply  # type: ignore[method-assign]
    async with h.store.transaction() as tx:
        await tx.writes.record_intent(
            connection="default",
            flow=FLOW,
            target_system="fusion",
            operation="apply",
            business_key=f"{APPLICATION}:900:1",
            payload_hash="x",
        )
    ten = Application(st_invoice_id=1, amount=Decimal("10.00"))
    with pytest.raises(RetriableError, match="not known yet"):
        await applier.apply("901:1", ten, 901, 1)
    await applier.apply("901:2", Application(st_invoice_id=2, amount=Decimal("10.00")), 901, 2)
    assert applied == [20]
