"""receivablesInvoices — oracle-fusion-api.md §4.4 (create, validation, AccountClass), §7 (PATCH limits)
and DESIGN §3.2 rule 3 (what the connector validates before posting)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fusion_kit import create, invoice

from ml_connector.clock import FakeClock
from ml_connector.sandbox.fusion import SEED, FusionState

ADF = {"Accept": "application/vnd.oracle.adf.error+json"}


def error_code(resp: httpx.Response) -> str:
    assert resp.status_code == 400, resp.text
    code: str = resp.json()["o:errorDetails"][0]["o:errorCode"]
    return code


async def test_create_with_lines_and_distributions(api: httpx.AsyncClient) -> None:
    """§4.4: 201 + Location; amounts computed from lines; balance; children readable; one installment."""
    resp = await create(api)
    assert resp.status_code == 201
    body = resp.json()
    assert resp.headers["location"].endswith(
        f"/receivablesInvoices/{body['CustomerTransactionId']}"
    )
    assert body["EnteredAmount"] == 220
    assert body["InvoiceBalanceAmount"] == 220
    assert body["DueDate"] == "2026-12-02"  # 30 Net
    assert body["BillToCustomerNumber"] == SEED.customer
    inv_id = body["CustomerTransactionId"]
    lines = (await api.get(f"receivablesInvoices/{inv_id}/child/receivablesInvoiceLines")).json()
    assert [ln["LineAmount"] for ln in lines["items"]] == [129, 91]
    dists = (
        await api.get(f"receivablesInvoices/{inv_id}/child/receivablesInvoiceDistributions")
    ).json()
    assert {d["AccountClass"] for d in dists["items"]} == {"Receivable", "Revenue"}
    inst = (
        await api.get(f"receivablesInvoices/{inv_id}/child/receivablesInvoiceInstallments")
    ).json()
    assert inst["count"] == 1
    assert inst["items"][0]["InstallmentBalanceDue"] == 220
    assert inst["items"][0]["InstallmentDueDate"] == "2026-12-02"
    assert len(str(inst["items"][0]["InstallmentId"])) == 15


async def test_duplicate_transaction_number_per_source(api: httpx.AsyncClient) -> None:
    """§4.4/§10: a repeated TransactionNumber in the same source is rejected; another source is fine."""
    assert (await create(api)).status_code == 201
    assert error_code(await create(api)) == "AR_DUPLICATE_TRX_NUMBER"
    other = await create(api, TransactionSource=SEED.auto_source)
    assert other.status_code == 201


async def test_automatic_numbering_source(api: httpx.AsyncClient) -> None:
    """§4.4 (INFERRED): a manual source needs TransactionNumber; an automatic one generates it."""
    body = invoice()
    del body["TransactionNumber"]
    manual = await api.post("receivablesInvoices", json=body, headers=ADF)
    assert error_code(manual) == "JBO-27014"
    body["TransactionSource"] = SEED.auto_source
    auto = await api.post("receivablesInvoices", json=body)
    assert auto.status_code == 201
    assert auto.json()["TransactionNumber"]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"BillToCustomerNumber": "99999"}, "AR_BILL_TO_CUST_NOT_FOUND"),
        (
            {"BillToCustomerNumber": SEED.inactive_customer, "BillToSite": "Diner"},
            "AR_BILL_TO_CUST_NOT_FOUND",
        ),
        ({"BillToSite": "No Such Site"}, "AR_BILL_TO_SITE_NOT_FOUND"),
        ({"BusinessUnit": "HVAC Central BU"}, "AR_BILL_TO_SITE_NOT_FOUND"),  # no site in that BU
        ({"BusinessUnit": "Atlantis BU"}, "AR_BU_NOT_FOUND"),
        ({"TransactionSource": "Nope"}, "AR_BATCH_SOURCE_NOT_FOUND"),
        ({"TransactionType": "Nope"}, "AR_TRX_TYPE_NOT_FOUND"),
        ({"InvoiceCurrencyCode": "ZZZ"}, "AR_CURRENCY_NOT_FOUND"),
        ({"InvoiceCurrencyCode": "XEU"}, "AR_CURRENCY_NOT_FOUND"),  # disabled
        ({"PaymentTerms": "Someday"}, "AR_TERMS_NOT_FOUND"),
        ({"receivablesInvoiceLines": []}, "JBO-27014"),
    ],
)
async def test_validation_errors(
    api: httpx.AsyncClient, fusion_state: FusionState, overrides: dict[str, Any], code: str
) -> None:
    """§4.4 [S49] and DESIGN §3.2 rule 3: each lookup failure is a 400 naming the Oracle message."""
    assert error_code(await create(api, **overrides)) == code
    assert not fusion_state.invoices  # nothing half-created


@pytest.mark.parametrize(
    ("combination", "code"),
    [
        (SEED.disabled, "AR_ACCOUNT_DISABLED"),
        (SEED.end_dated, "AR_ACCOUNT_END_DATED"),
        (SEED.not_postable, "AR_ACCOUNT_NOT_POSTABLE"),
        ("99-999-9999-9999-999", "AR_ACCOUNT_NOT_FOUND"),
    ],
)
async def test_bad_account_combination(api: httpx.AsyncClient, combination: str, code: str) -> None:
    """§4.7 + DESIGN §3.2 rule 3: disabled, end-dated, non-postable or unknown combinations are refused."""
    dists = [{"AccountClass": "Revenue", "AccountCombination": combination, "Amount": "220"}]
    resp = await create(api, receivablesInvoiceDistributions=dists)
    assert error_code(resp) == code
    assert resp.json()["o:errorDetails"][0]["o:errorPath"] == "AccountCombination"


async def test_account_class_limited_to_four(api: httpx.AsyncClient) -> None:
    """§4.4 [S80]: AccountClass only Revenue/Receivable/Freight/Tax."""
    for good in ("Freight", "Tax"):
        dists = [{"AccountClass": good, "AccountCombination": SEED.revenue, "Amount": "1"}]
        resp = await create(
            api, TransactionNumber=f"AC-{good}", receivablesInvoiceDistributions=dists
        )
        assert resp.status_code == 201
    dists = [
        {"AccountClass": "Unearned Revenue", "AccountCombination": SEED.revenue, "Amount": "1"}
    ]
    resp = await create(api, TransactionNumber="AC-bad", receivablesInvoiceDistributions=dists)
    assert error_code(resp) == "AR_INVALID_ACCOUNT_CLASS"


async def test_patch_whitelist(api: httpx.AsyncClient, clock: FakeClock) -> None:
    """§7: PATCH may change InvoiceStatus, PaymentTerms, TransactionDate (+ print group); others → 400."""
    created = (await create(api)).json()
    inv_id = created["CustomerTransactionId"]
    clock.advance(5)
    ok = await api.patch(
        f"receivablesInvoices/{inv_id}",
        json={"InvoiceStatus": "Incomplete", "PaymentTerms": "45 Net"},
    )
    assert ok.status_code == 200
    assert ok.json()["InvoiceStatus"] == "Incomplete"
    assert ok.json()["DueDate"] == "2026-12-17"
    assert ok.json()["LastUpdateDate"] > created["LastUpdateDate"]
    for body in ({"Comments": "x"}, {"InvoiceStatus": "Complete", "BillToSite": "Acme Atlanta"}):
        bad = await api.patch(f"receivablesInvoices/{inv_id}", json=body, headers=ADF)
        assert error_code(bad) == "JBO-27008"
    after = (await api.get(f"receivablesInvoices/{inv_id}")).json()
    assert after["InvoiceStatus"] == "Incomplete"  # the refused PATCH changed nothing
    printed = await api.patch(
        f"receivablesInvoices/{inv_id}", json={"Email": "a@b.example"}, headers=ADF
    )
    assert printed.status_code == 400  # print fields only when InvoicePrinted = Y
    printed = await api.patch(
        f"receivablesInvoices/{inv_id}", json={"InvoicePrinted": "Y", "Email": "a@b.example"}
    )
    assert printed.status_code == 200


async def test_children_are_create_only(api: httpx.AsyncClient) -> None:
    """§7: lines/distributions can't be added to an existing invoice."""
    inv_id = (await create(api)).json()["CustomerTransactionId"]
    resp = await api.post(
        f"receivablesInvoices/{inv_id}/child/receivablesInvoiceLines",
        json={"Description": "late", "LineAmount": 5},
    )
    assert resp.status_code == 400
    lines = (await api.get(f"receivablesInvoices/{inv_id}/child/receivablesInvoiceLines")).json()
    assert lines["count"] == 2


async def test_query_by_transaction_number(api: httpx.AsyncClient) -> None:
    """DESIGN §3.2 rule 2: the connector finds an invoice by its business key before re-posting."""
    await create(api)
    q = f"TransactionNumber='ST-1001' and TransactionSource='{SEED.transaction_source}'"
    body = (await api.get("receivablesInvoices", params={"q": q})).json()
    assert body["count"] == 1
