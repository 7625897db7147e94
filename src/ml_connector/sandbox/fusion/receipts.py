"""standardReceipts and the ``applyReceipt`` action (reference §4.5, DESIGN §5 "Receipt application").

The action exists only when ``FusionSimConfig.apply_receipt_action`` is on (26C+ pods); otherwise a POST to
it is a 404 and the item carries no ``action`` link. An application never exceeds the installment's open
balance nor the receipt's unapplied amount. Error names other than ``AR_BU_NOT_FOUND`` are INFERRED.
The action result shape (``{"result": {...}}``) is INFERRED from the ADF action media type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ApiError, Reply
from .payload import opt_date, opt_decimal, opt_int, opt_str, req_decimal, req_str
from .records_ar import Installment, ReceiptApplication, ReceivablesInvoice, StandardReceipt
from .tree import Action, Ctx

ACTION_RESULT = "application/vnd.oracle.adf.actionresult+json"


def _bad(detail: str, code: str, path: str) -> ApiError:
    return ApiError.bad(detail, code=code, path=path)


def create_receipt(ctx: Ctx, parent: Any, body: Mapping[str, Any]) -> StandardReceipt:
    st = ctx.state
    amount = req_decimal(body, "Amount")
    if amount <= 0:
        raise _bad("The receipt amount must be greater than zero.", "JBO-27024", "Amount")
    bu_name = req_str(body, "BusinessUnit")
    if st.business_unit_named(bu_name) is None:
        raise _bad(f"The business unit {bu_name} doesn't exist.", "AR_BU_NOT_FOUND", "BusinessUnit")
    method_name = req_str(body, "ReceiptMethod")
    method = st.receipt_method_named(method_name)
    receipt_date = opt_date(body, "ReceiptDate") or st.today()
    if method is None or (method.EndDate is not None and receipt_date > method.EndDate):
        raise _bad(
            f"The receipt method {method_name} doesn't exist or isn't active.",
            "AR_RECEIPT_METHOD_NOT_FOUND",
            "ReceiptMethod",
        )
    number = req_str(body, "ReceiptNumber")
    currency = opt_str(body, "Currency") or "USD"
    if currency not in st.currencies:
        raise _bad(f"The currency {currency} isn't valid.", "AR_CURRENCY_NOT_FOUND", "Currency")
    account_number = opt_str(body, "CustomerAccountNumber")
    acct = None
    if account_number is not None:
        acct = st.account_by_number(account_number)
        if acct is None or acct.Status != "A":
            raise _bad(
                f"The customer account {account_number} doesn't exist or isn't active.",
                "AR_CUSTOMER_ACCOUNT_NOT_FOUND",
                "CustomerAccountNumber",
            )
        site = opt_str(body, "CustomerSite")
        if site is not None and not any(site in (s.SiteNumber, s.SiteName) for s in acct.sites):
            raise _bad(
                f"The customer site {site} isn't valid.",
                "AR_BILL_TO_SITE_NOT_FOUND",
                "CustomerSite",
            )
    if ctx.config.reject_duplicate_receipt_number and any(
        r.ReceiptNumber == number and r.ReceiptMethod == method_name for r in st.receipts.values()
    ):
        raise _bad(
            f"The receipt number {number} already exists for receipt method {method_name}.",
            "AR_DUPLICATE_RECEIPT_NUMBER",
            "ReceiptNumber",
        )
    receipt = StandardReceipt(
        StandardReceiptId=st.new_id(),
        ReceiptNumber=number,
        BusinessUnit=bu_name,
        ReceiptMethod=method_name,
        ReceiptDate=receipt_date,
        AccountingDate=opt_date(body, "AccountingDate") or receipt_date,
        Amount=amount,
        Currency=currency,
        CustomerAccountNumber=acct.AccountNumber if acct else None,
        CustomerName=acct.CustomerName if acct else opt_str(body, "CustomerName"),
        CustomerSite=opt_str(body, "CustomerSite"),
        RemittanceBankAccountNumber=opt_str(body, "RemittanceBankAccountNumber")
        or method.RemittanceBankAccountNumber,
        Comments=opt_str(body, "Comments"),
        UnappliedAmount=amount,
        account_id=acct.AccountId if acct else None,
        **st.stamps(),
    )
    st.receipts[receipt.StandardReceiptId] = receipt
    return receipt


def find_installment(
    ctx: Ctx, installment_id: int
) -> tuple[ReceivablesInvoice, Installment] | None:
    for inv in ctx.state.invoices.values():
        for inst in inv.receivablesInvoiceInstallments:
            if inst.InstallmentId == installment_id:
                return inv, inst
    return None


def apply_receipt(ctx: Ctx, row: Any, body: Any) -> Reply:
    receipt: StandardReceipt = row
    st = ctx.state
    if not isinstance(body, Mapping):
        raise ApiError.bad("The request body is not a JSON object.", code="JBO-27027")
    schedule_id = opt_int(body, "appliedPaymentScheduleId")
    found = find_installment(ctx, schedule_id) if schedule_id is not None else None
    if found is None:
        raise _bad(
            f"The payment schedule {schedule_id} doesn't exist.",
            "AR_RAPI_TRX_INVALID",
            "appliedPaymentScheduleId",
        )
    inv, inst = found
    if inv.InvoiceCurrencyCode != receipt.Currency:
        raise _bad(
            "The receipt and the transaction currencies differ.", "AR_RAPI_CURR_MISMATCH", ""
        )
    amount = opt_decimal(body, "amountApplied")
    if amount is None:
        amount = min(inst.InstallmentBalanceDue, receipt.UnappliedAmount)
    if amount <= 0:
        raise _bad(
            "The amount applied must be greater than zero.",
            "AR_RAPI_APPLY_AMT_INVALID",
            "amountApplied",
        )
    if amount > inst.InstallmentBalanceDue:
        raise _bad(
            f"The amount applied {amount} exceeds the open balance {inst.InstallmentBalanceDue}.",
            "AR_RAPI_APPLY_AMT_EXCEEDS_BAL",
            "amountApplied",
        )
    if amount > receipt.UnappliedAmount:
        raise _bad(
            f"The amount applied {amount} exceeds the unapplied amount {receipt.UnappliedAmount}.",
            "AR_RAPI_APPLY_AMT_EXCEEDS_UNAPP",
            "amountApplied",
        )
    inst.InstallmentBalanceDue -= amount
    if inst.InstallmentBalanceDue == 0:
        inst.InstallmentStatus = "Closed"
    inv.InvoiceBalanceAmount -= amount
    receipt.UnappliedAmount -= amount
    receipt.Status = "APP" if receipt.UnappliedAmount == 0 else "UNAPP"
    app = ReceiptApplication(
        ApplicationId=st.new_id(),
        StandardReceiptId=receipt.StandardReceiptId,
        ReceiptNumber=receipt.ReceiptNumber,
        ApplicationAmount=amount,
        EnteredCurrency=receipt.Currency,
        ApplicationDate=st.today(),
        AccountingDate=st.today(),
        ReferenceInstallmentId=inst.InstallmentId,
        ReferenceTransactionId=inv.CustomerTransactionId,
        ReferenceTransactionNumber=inv.TransactionNumber,
        ReferenceTransactionStatus="Closed" if inv.InvoiceBalanceAmount == 0 else "Open",
        account_id=inv.account_id,
    )
    st.applications[app.ApplicationId] = app
    st.touch(inv)
    st.touch(receipt)
    result = {
        "ApplicationId": app.ApplicationId,
        "AmountApplied": float(amount),
        "UnappliedAmount": float(receipt.UnappliedAmount),
    }
    return Reply(status=200, body={"result": result}, content_type=ACTION_RESULT)


def receipt_actions(ctx: Ctx) -> Mapping[str, Action]:
    return {"applyReceipt": apply_receipt} if ctx.config.apply_receipt_action else {}
