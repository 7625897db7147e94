"""Typed reads and writes of FusionClient against the simulator.

oracle-fusion-api.md §4.3 (receiving requests, asynchronous ProcessingStatusCode, line
processingErrors), §4.4 (invoices, installments), §4.5 (standard receipts, applyReceipt), §4.6
(customer account and site activities, CustomerAccountSiteActivitiesFinder), §4.7
(accountCombinationsLOV with tenant-named segments), §4.8 (lookups).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from fusion_client_kit import Pod
from fusion_payloads import invoice_payload, receipt_payload

from ml_connector.errors import ConfigError
from ml_connector.sandbox.fusion import SEED, FusionSimConfig, ReceiptProcessing
from ml_connector.systems.fusion.errors import ActionUnavailable, NotFound, ReceivingTimeout


async def test_invoice_receipt_and_application(pod: Pod) -> None:
    """Create an invoice, read its installment, create a receipt and apply it to the installment."""
    client = pod.client()
    created = await client.create_invoice(invoice_payload("ST-100", amount="250.00"))
    assert created.TransactionNumber == "ST-100"
    assert created.EnteredAmount == Decimal("250.00")
    found = await client.find_invoice("ST-100", SEED.transaction_source)
    assert found is not None
    assert found.CustomerTransactionId == created.CustomerTransactionId
    assert await client.find_invoice("ST-100", SEED.auto_source) is None
    (installment,) = await client.invoice_installments(created.CustomerTransactionId)
    assert installment.InstallmentBalanceDue == Decimal("250.00")

    receipt = await client.create_receipt(receipt_payload("RC-100", "100.00"))
    assert (await client.find_receipt("RC-100")) == receipt.model_copy(update={"links": []})
    applied = await client.apply_receipt(
        receipt.StandardReceiptId, installment.InstallmentId, Decimal("60.00")
    )
    assert applied.amount_applied == Decimal("60.00")
    assert applied.unapplied_amount == Decimal("40.00")
    assert applied.application_id is not None
    (after,) = await client.invoice_installments(created.CustomerTransactionId)
    assert after.InstallmentBalanceDue == Decimal("190.00")
    assert await client.find_receipt("RC-100", receipt_method="ACH") is None


async def test_apply_receipt_absent_is_action_unavailable(make_pod: Callable[..., Pod]) -> None:
    """DESIGN §5: before 26C the action does not exist → ActionUnavailable; an unknown receipt is
    NotFound, not a missing action."""
    pod = make_pod(FusionSimConfig(apply_receipt_action=False))
    client = pod.client()
    invoice = await client.create_invoice(invoice_payload("ST-101"))
    (installment,) = await client.invoice_installments(invoice.CustomerTransactionId)
    receipt = await client.create_receipt(receipt_payload("RC-101", "10.00"))
    with pytest.raises(ActionUnavailable, match="apply the receipt in Fusion"):
        await client.apply_receipt(receipt.StandardReceiptId, installment.InstallmentId)
    with pytest.raises(NotFound):
        await client.apply_receipt(42, installment.InstallmentId)
    assert await client.has_apply_receipt() is False


async def test_account_combinations(pod: Pod) -> None:
    """§4.7, DESIGN §3.2 rule 3: enabled, postable, not end-dated — else why."""
    client = pod.client()
    on = date(2026, 11, 2)
    ok = await client.check_account_combination(SEED.revenue, on=on)
    assert ok.usable
    assert ok.record is not None
    disabled = await client.check_account_combination(SEED.disabled, on=on)
    assert (disabled.usable, disabled.reason) == (False, "disabled")
    ended = await client.check_account_combination(SEED.end_dated, on=on)
    assert (ended.usable, ended.reason) == (False, "end-dated 2025-12-31")
    summary = await client.check_account_combination(SEED.not_postable, on=on)
    assert (summary.usable, summary.reason) == (False, "detail posting not allowed")
    missing = await client.check_account_combination("01-100-9999-0000-000", on=on)
    assert (missing.usable, missing.reason) == (False, "does not exist")
    short = await client.check_account_combination("01-100", on=on)
    assert not short.usable
    assert "segments" in short.reason


async def test_account_combinations_need_segment_labels(pod: Pod) -> None:
    client = pod.client()
    client._segment_labels = None
    with pytest.raises(ConfigError, match="segment labels"):
        await client.check_account_combination(SEED.revenue, on=date(2026, 11, 2))


async def test_customer_account_with_bill_to_sites(pod: Pod) -> None:
    """§4.6: the account by AccountNumber, its sites through the finder."""
    client = pod.client()
    found = await client.customer_account_with_sites(SEED.customer)
    assert found is not None
    account, sites = found
    assert account.CustomerName == "Acme Property Management"
    assert {s.BusinessUnit for s in sites} == {"HVAC West BU", "HVAC East BU"}
    assert all(s.AccountNumber == SEED.customer for s in sites)
    inactive = await client.customer_account(SEED.inactive_customer)
    assert inactive is not None
    assert inactive.Status == "I"
    assert await client.customer_account("nobody") is None
    finder = [c.query for c in pod.recorder.calls("GET", "SiteActivities")]
    assert "CustomerAccountSiteActivitiesFinder" in finder[0]


async def test_lookups_are_cached_for_a_short_ttl(pod: Pod) -> None:
    """DESIGN §3.2 rule 3: lookups cached on the injected clock, re-read after the TTL."""
    client = pod.client()
    assert "HVAC West BU" in await client.lookup_names("finBusinessUnitsLOV")
    assert "HVAC West BU" in await client.lookup_names("finBusinessUnitsLOV")
    assert len(pod.recorder.calls("GET", "/finBusinessUnitsLOV")) == 1
    pod.clock.advance(301)
    await client.business_units()
    assert len(pod.recorder.calls("GET", "/finBusinessUnitsLOV")) == 2
    assert "30 Net" in {t.label for t in await client.payment_terms()}
    assert "Check" in {m.label for m in await client.receipt_methods()}
    assert {"USD", "CAD"} <= await client.lookup_names("currenciesLOV")
    currencies = {c.CurrencyCode: c for c in await client.currencies()}
    assert not currencies["XEU"].active_on(date(2026, 11, 2))
    assert "Invoice" in {t.label for t in await client.transaction_types()}
    assert SEED.transaction_source in {t.label for t in await client.transaction_sources()}
    assert len(await client.customer_account_sites()) >= 4
    with pytest.raises(ValueError, match="not one of"):
        await client.lookup("suppliers")


def receiving_payload(number: str, *, po: str = SEED.po_number, qty: int = 1) -> dict[str, object]:
    return {
        "ReceiptSourceCode": "VENDOR",
        "OrganizationCode": "HVW",
        "VendorNumber": "5001",
        "BusinessUnit": "HVAC West BU",
        "ReceiptNumber": number,
        "lines": [
            {
                "ReceiptSourceCode": "VENDOR",
                "SourceDocumentCode": "PO",
                "TransactionType": "RECEIVE",
                "AutoTransactCode": "DELIVER",
                "DocumentNumber": po,
                "DocumentLineNumber": 1,
                "Quantity": qty,
                "UnitOfMeasure": "Each",
            }
        ],
    }


async def test_receiving_request_is_followed_to_success(make_pod: Callable[..., Pod]) -> None:
    """§4.3: the header stays PENDING for a while; the client polls on the clock until it is
    processed, and the PO schedule shows the received quantity."""
    pod = make_pod(
        FusionSimConfig(
            receipt_processing=ReceiptProcessing.AFTER_SECONDS, receipt_processing_seconds=25
        )
    )
    client = pod.client()
    created = await client.create_receiving_request(receiving_payload("RR-1", qty=2))
    assert created.ProcessingStatusCode == "PENDING"
    done = await client.wait_for_receiving_request(created.HeaderInterfaceId, interval=10)
    assert done.ProcessingStatusCode == "SUCCESS"
    assert pod.clock.slept == [10, 10, 10]
    order = await client.purchase_order(SEED.po_number)
    assert order is not None
    assert order.lines[0].schedules[0].ReceivedQuantity == Decimal(2)
    adopted = await client.find_receiving_request("RR-1")
    assert adopted is not None
    assert adopted.HeaderInterfaceId == created.HeaderInterfaceId


async def test_receiving_request_errors_are_read_from_lines(pod: Pod) -> None:
    client = pod.client()
    created = await client.create_receiving_request(receiving_payload("RR-2", po="9999"))
    done = await client.wait_for_receiving_request(created.HeaderInterfaceId)
    assert done.ProcessingStatusCode == "ERROR"
    (error,) = done.lines[0].processingErrors
    assert error.ErrorMessageName == "RCV_INVALID_PO_NUMBER"
    assert "9999" in (error.ErrorMessage or "")


async def test_receiving_wait_gives_up_after_max_wait(make_pod: Callable[..., Pod]) -> None:
    pod = make_pod(
        FusionSimConfig(
            receipt_processing=ReceiptProcessing.AFTER_SECONDS, receipt_processing_seconds=3600
        )
    )
    client = pod.client()
    created = await client.create_receiving_request(receiving_payload("RR-3"))
    with pytest.raises(ReceivingTimeout):
        await client.wait_for_receiving_request(created.HeaderInterfaceId, max_wait=60, interval=10)
    assert sum(pod.clock.slept) <= 60


async def test_quotes_in_business_keys_are_escaped(pod: Pod) -> None:
    """§3.1: string literals are single-quoted with embedded quotes doubled, so a key holding a
    quote finds its record instead of breaking the query."""
    client = pod.client()
    created = await client.create_invoice(invoice_payload("O'BRIEN-7"))
    found = await client.find_invoice("O'BRIEN-7", SEED.transaction_source)
    assert found is not None
    assert found.CustomerTransactionId == created.CustomerTransactionId
    assert (
        await client.find_invoice("O'BRIEN-7' or TransactionNumber<>'x", SEED.transaction_source)
        is None
    )


def test_framework_below_2_is_refused(pod: Pod) -> None:
    """DESIGN §5: below version 2 an expression q matches nothing (200, 0 rows) — refuse it."""
    with pytest.raises(ConfigError, match="REST-Framework-Version 2"):
        pod.client(framework_version="1")
