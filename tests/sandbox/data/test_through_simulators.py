"""The data set through the simulators' own APIs: what the manifest calls eligible posts, and each
broken invoice is refused by Fusion with the error its reason predicts.

A deliberately naive poster (no pre-validation) stands in for the connector: it builds each Fusion
``receivablesInvoices`` payload from the ServiceTitan invoice and the sandbox mapping
(oracle-fusion-api.md §4.4), creates ``standardReceipts`` and applies them with ``applyReceipt``
(§4.5). Unmapped customers are not posted: without an account number there is nothing to send.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from datagen_kit import World, make_world

from ml_connector.mapping.config import MappingConfig
from ml_connector.sandbox import credentials
from ml_connector.sandbox.data import manifest as m
from ml_connector.sandbox.data import sandbox_mapping
from ml_connector.sandbox.fusion import create_app

ROOT = "http://fusion.test/fscmRestApi/resources/11.13.18.05/"
ACTION = "application/vnd.oracle.adf.action+json"
EXPECTED_ERROR = {
    m.INACTIVE_ACCOUNT: "AR_BILL_TO_CUST_NOT_FOUND",
    m.NO_BILL_TO_SITE: "AR_BILL_TO_SITE_NOT_FOUND",
    m.DISABLED_COMBINATION: "AR_ACCOUNT_DISABLED",
    m.END_DATED_COMBINATION: "AR_ACCOUNT_END_DATED",
}


def client(world: World) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(world.fusion, clock=world.clock)),
        base_url=ROOT,
        auth=(credentials.FUSION_USERNAME, credentials.FUSION_PASSWORD),
        headers={"REST-Framework-Version": "4"},
    )


def payload(inv: dict[str, Any], account: str, cfg: MappingConfig) -> dict[str, Any]:
    rec = cfg.receivables
    target = rec.business_units[str(inv["businessUnit"]["id"])]
    negative = Decimal(inv["total"]) < 0
    lines, dists = [], []
    for n, item in enumerate(inv["items"], start=1):
        amount = Decimal(item["total"])
        lines.append(
            {"LineNumber": n, "Description": item["description"], "LineAmount": str(amount)}
        )
        combo = rec.account_template.format(
            company=rec.company,
            cost_center=target.cost_center,
            account=rec.revenue_accounts[item["type"]],
        )
        dists.append(
            {
                "AccountClass": "Revenue",
                "AccountCombination": combo,
                "Amount": str(amount),
                "InvoiceLineNumber": n,
            }
        )
    return {
        "TransactionNumber": f"{rec.transaction_number_prefix}{inv['referenceNumber']}",
        "TransactionSource": target.transaction_source,
        "TransactionType": target.credit_memo_transaction_type
        if negative
        else target.transaction_type,
        "BusinessUnit": target.fusion_business_unit,
        "TransactionDate": inv["invoiceDate"][:10],
        "InvoiceCurrencyCode": rec.currency,
        "BillToCustomerNumber": account,
        "receivablesInvoiceLines": lines,
        "receivablesInvoiceDistributions": dists,
    }


def account_number(customer: dict[str, Any], field: str) -> str | None:
    return next((f["value"] for f in customer["customFields"] if f["name"] == field), None)


async def test_eligible_records_post_and_broken_invoices_fail_as_predicted() -> None:
    world = make_world()
    ds, cfg = world.ds, sandbox_mapping(world.ds)
    invoices = {r["id"]: r for r in world.st.snapshot("invoices")}
    customers = {r["id"]: r for r in world.st.snapshot("customers")}
    installment: dict[int, int] = {}
    async with client(world) as api:
        for ident, exp in ds.expected.invoices.eligible.items():
            inv = invoices[ident]
            account = account_number(customers[inv["customer"]["id"]], ds.customer_account_field)
            assert account == exp.account_number
            created = await api.post("receivablesInvoices", json=payload(inv, account, cfg))
            assert created.status_code == 201, created.text
            body = created.json()
            assert Decimal(str(body["EnteredAmount"])) == exp.total
            assert body["BillToSite"] == exp.bill_to_site
            assert body["TransactionType"] == exp.transaction_type
            rows = await api.get(
                f"receivablesInvoices/{body['CustomerTransactionId']}/child/receivablesInvoiceInstallments"
            )
            installment[ident] = rows.json()["items"][0]["InstallmentId"]
        for ident, reason in ds.expected.invoices.attention.items():
            inv = invoices[ident]
            account = account_number(customers[inv["customer"]["id"]], ds.customer_account_field)
            if reason.kind == m.UNMAPPED_CUSTOMER:
                assert account is None
                continue
            assert account is not None
            refused = await api.post("receivablesInvoices", json=payload(inv, account, cfg))
            assert refused.status_code == 400, (reason, refused.text)
            assert EXPECTED_ERROR[reason.kind] in refused.text
        for ident, pay in ds.expected.payments.eligible.items():
            receipt = await api.post(
                "standardReceipts",
                json={
                    "ReceiptNumber": f"ST-PAY-{ident}",
                    "BusinessUnit": pay.business_unit,
                    "ReceiptMethod": pay.receipt_method,
                    "RemittanceBankAccountNumber": pay.bank_account,
                    "Amount": str(pay.total),
                    "Currency": "USD",
                    "CustomerAccountNumber": pay.account_number,
                },
            )
            assert receipt.status_code == 201, receipt.text
            receipt_id = receipt.json()["StandardReceiptId"]
            for invoice_id, amount in pay.applications:
                applied = await api.post(
                    f"standardReceipts/{receipt_id}/action/applyReceipt",
                    json={
                        "appliedPaymentScheduleId": installment[invoice_id],
                        "amountApplied": str(amount),
                        "calledFrom": "REST",
                    },
                    headers={"Content-Type": ACTION},
                )
                assert applied.status_code == 200, applied.text
            assert world.fusion.receipts[receipt_id].UnappliedAmount == 0
    fusion_balance = {
        inv.TransactionNumber: inv.InvoiceBalanceAmount for inv in world.fusion.invoices.values()
    }
    for ident, exp in ds.expected.invoices.eligible.items():
        number = f"{cfg.receivables.transaction_number_prefix}{exp.reference_number}"
        assert fusion_balance[number] == Decimal(invoices[ident]["balance"])
