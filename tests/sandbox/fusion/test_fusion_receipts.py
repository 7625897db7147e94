"""standardReceipts and applyReceipt — oracle-fusion-api.md §4.5, §4.6 and DESIGN §5 "Receipt application"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fusion_kit import create as create_invoice

from ml_connector.sandbox.fusion import SEED, FusionSimConfig

ADF = {"Accept": "application/vnd.oracle.adf.error+json"}
ACTION = {"Content-Type": "application/vnd.oracle.adf.action+json"}


def receipt(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ReceiptNumber": "PAY-1",
        "ReceiptMethod": SEED.receipt_method,
        "BusinessUnit": "HVAC West BU",
        "Amount": "300.00",
        "Currency": "USD",
        "ReceiptDate": "2026-11-02",
        "CustomerAccountNumber": SEED.customer,
        "CustomerSite": "Acme Phoenix",
    }
    body.update(overrides)
    return body


async def installment_id(api: httpx.AsyncClient, inv_id: int) -> int:
    inst = (
        await api.get(f"receivablesInvoices/{inv_id}/child/receivablesInvoiceInstallments")
    ).json()
    value: int = inst["items"][0]["InstallmentId"]
    return value


async def apply(api: httpx.AsyncClient, receipt_id: int, **body: Any) -> httpx.Response:
    return await api.post(
        f"standardReceipts/{receipt_id}/action/applyReceipt",
        json={"calledFrom": "REST", **body},
        headers={**ACTION, **ADF},
    )


async def test_create_receipt(api: httpx.AsyncClient) -> None:
    """§4.5: POST with Amount/BusinessUnit/ReceiptMethod/ReceiptNumber; UnappliedAmount = Amount."""
    resp = await api.post("standardReceipts", json=receipt())
    assert resp.status_code == 201
    body = resp.json()
    assert body["UnappliedAmount"] == 300
    assert body["CustomerName"] == "Acme Property Management"
    assert any(link["rel"] == "action" and link["name"] == "applyReceipt" for link in body["links"])


async def test_receipt_checks(api: httpx.AsyncClient) -> None:
    """§4.5 + DESIGN §3.2 rule 3: unknown method, BU, customer; duplicate number for the method."""
    cases: list[tuple[dict[str, Any], str]] = [
        ({"ReceiptMethod": "Barter"}, "AR_RECEIPT_METHOD_NOT_FOUND"),
        ({"BusinessUnit": "Nope"}, "AR_BU_NOT_FOUND"),
        ({"CustomerAccountNumber": SEED.inactive_customer}, "AR_CUSTOMER_ACCOUNT_NOT_FOUND"),
        ({"Currency": "ZZZ"}, "AR_CURRENCY_NOT_FOUND"),
        ({"ReceiptNumber": None}, "JBO-27014"),
    ]
    for overrides, code in cases:
        resp = await api.post("standardReceipts", json=receipt(**overrides), headers=ADF)
        assert resp.status_code == 400, overrides
        assert resp.json()["o:errorDetails"][0]["o:errorCode"] == code
    assert (await api.post("standardReceipts", json=receipt())).status_code == 201
    dup = await api.post("standardReceipts", json=receipt(), headers=ADF)
    assert dup.json()["o:errorDetails"][0]["o:errorCode"] == "AR_DUPLICATE_RECEIPT_NUMBER"
    other_method = await api.post("standardReceipts", json=receipt(ReceiptMethod="ACH"))
    assert other_method.status_code == 201


async def test_apply_receipt_limits(api: httpx.AsyncClient) -> None:
    """§4.5 [S11]: applies only to an existing installment, never above its open balance nor above the
    receipt's unapplied amount; balances move on invoice, installment and receipt."""
    inv_id = (await create_invoice(api)).json()["CustomerTransactionId"]  # 220.00
    inst_id = await installment_id(api, inv_id)
    rcpt = (await api.post("standardReceipts", json=receipt(Amount="300"))).json()
    rid = rcpt["StandardReceiptId"]

    missing = await apply(api, rid, appliedPaymentScheduleId=1, amountApplied=10)
    assert missing.status_code == 400
    over_balance = await apply(api, rid, appliedPaymentScheduleId=inst_id, amountApplied=221)
    assert (
        over_balance.json()["o:errorDetails"][0]["o:errorCode"] == "AR_RAPI_APPLY_AMT_EXCEEDS_BAL"
    )

    ok = await apply(api, rid, appliedPaymentScheduleId=inst_id, amountApplied=200)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/vnd.oracle.adf.actionresult+json")
    assert ok.json()["result"]["UnappliedAmount"] == 100
    inv = (await api.get(f"receivablesInvoices/{inv_id}")).json()
    assert inv["InvoiceBalanceAmount"] == 20

    # the second invoice is 220 open but the receipt has only 100 left
    inv2 = (await create_invoice(api, TransactionNumber="ST-1002")).json()["CustomerTransactionId"]
    inst2 = await installment_id(api, inv2)
    over_unapplied = await apply(api, rid, appliedPaymentScheduleId=inst2, amountApplied=150)
    code = over_unapplied.json()["o:errorDetails"][0]["o:errorCode"]
    assert code == "AR_RAPI_APPLY_AMT_EXCEEDS_UNAPP"
    rest = await apply(api, rid, appliedPaymentScheduleId=inst2)  # default: min(open, unapplied)
    assert rest.json()["result"]["AmountApplied"] == 100
    final = (await api.get(f"standardReceipts/{rid}")).json()
    assert final["UnappliedAmount"] == 0
    assert final["Status"] == "APP"


async def test_applications_show_in_account_activities(api: httpx.AsyncClient) -> None:
    """§4.5/§4.6: standardReceiptApplications and transactionPaymentSchedules under the account activity
    found with q=AccountNumber='…'."""
    inv_id = (await create_invoice(api)).json()["CustomerTransactionId"]
    inst_id = await installment_id(api, inv_id)
    rid = (await api.post("standardReceipts", json=receipt(Amount="50"))).json()[
        "StandardReceiptId"
    ]
    assert (await apply(api, rid, appliedPaymentScheduleId=inst_id)).status_code == 200
    acts = (
        await api.get(
            "receivablesCustomerAccountActivities", params={"q": f"AccountNumber='{SEED.customer}'"}
        )
    ).json()
    assert acts["count"] == 1
    act = acts["items"][0]
    assert act["TotalOpenReceivablesForAccount"] == 170
    apps = (
        await api.get(
            f"receivablesCustomerAccountActivities/{act['AccountId']}/child/standardReceiptApplications"
        )
    ).json()
    assert apps["count"] == 1
    app = apps["items"][0]
    assert app["ApplicationAmount"] == 50
    assert app["ReferenceInstallmentId"] == inst_id
    assert app["ReceiptNumber"] == "PAY-1"
    scheds = (
        await api.get(
            f"receivablesCustomerAccountActivities/{act['AccountId']}/child/transactionPaymentSchedules"
        )
    ).json()
    assert scheds["items"][0]["BalanceDue"] == 170
    assert scheds["items"][0]["PaymentScheduleId"] == inst_id


async def test_apply_action_absent_when_switched_off(
    make_api: Callable[..., httpx.AsyncClient],
) -> None:
    """DESIGN §5: apply_receipt_action=False simulates pre-26C pods — 404 and no action link."""
    async with make_api(FusionSimConfig(apply_receipt_action=False)) as api:
        inv_id = (await create_invoice(api)).json()["CustomerTransactionId"]
        inst_id = await installment_id(api, inv_id)
        rcpt = (await api.post("standardReceipts", json=receipt())).json()
        assert not any(link["rel"] == "action" for link in rcpt["links"])
        resp = await apply(api, rcpt["StandardReceiptId"], appliedPaymentScheduleId=inst_id)
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith("text/plain")
        after = (await api.get(f"receivablesInvoices/{inv_id}")).json()
        assert after["InvoiceBalanceAmount"] == 220


async def test_lookups_list_setup(api: httpx.AsyncClient) -> None:
    """§4.8: the validation lookups answer with the seeded setup."""
    expectations = {
        "finBusinessUnitsLOV": ("BusinessUnitName", "HVAC West BU"),
        "transactionTypesLOV": ("Name", SEED.transaction_type),
        "transactionSourcesLOV": ("Name", SEED.transaction_source),
        "receiptMethodsLOV": ("Name", SEED.receipt_method),
        "currenciesLOV": ("CurrencyCode", "USD"),
        "customerAccountSitesLOV": ("SiteName", "Acme Phoenix"),
        "paymentTermsLOV": ("Name", "30 Net"),
    }
    for resource, (attr, value) in expectations.items():
        body = (await api.get(resource, params={"q": f"{attr}='{value}'"})).json()
        assert body["count"] == 1, resource
    site = (
        await api.get("customerAccountSitesLOV", params={"q": "SiteName='Acme Phoenix'"})
    ).json()
    assert site["items"][0]["BusinessUnit"] == "HVAC West BU"
    assert (await api.post("currenciesLOV", json={"CurrencyCode": "X"})).status_code == 405


async def test_action_needs_the_action_media_type(api: httpx.AsyncClient) -> None:
    """§1 [S11][S12]: custom actions are POSTed as application/vnd.oracle.adf.action+json."""
    inv_id = (await create_invoice(api)).json()["CustomerTransactionId"]
    inst_id = await installment_id(api, inv_id)
    rid = (await api.post("standardReceipts", json=receipt())).json()["StandardReceiptId"]
    resp = await api.post(
        f"standardReceipts/{rid}/action/applyReceipt",
        json={"appliedPaymentScheduleId": inst_id, "calledFrom": "REST"},
    )
    assert resp.status_code == 415
    assert (await api.get(f"receivablesInvoices/{inv_id}")).json()["InvoiceBalanceAmount"] == 220
