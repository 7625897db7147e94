"""receivablesInvoices (reference §4.4, §7): create with lines and distributions, whitelisted PATCH.

Validation mirrors DESIGN §3.2 rule 3 so the connector's pre-checks can be tested against it. Message names
``AR_BILL_TO_CUST_NOT_FOUND``, ``AR_BILL_TO_SITE_NOT_FOUND``, ``AR_BU_NOT_FOUND`` and
``AR_BATCH_SOURCE_NOT_FOUND`` are VERIFIED [S49]; the others (``AR_TRX_TYPE_NOT_FOUND``,
``AR_CURRENCY_NOT_FOUND``, ``AR_TERMS_NOT_FOUND``, ``AR_DUPLICATE_TRX_NUMBER``, ``AR_INVALID_ACCOUNT_CLASS``
and the ``AR_ACCOUNT_*`` family) are INFERRED names for errors whose real wording is not documented.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .errors import ApiError
from .payload import opt_date, opt_decimal, opt_int, opt_str, req_str, rows_of
from .records import AccountCombination
from .records_ar import (
    CustomerAccount,
    CustomerSite,
    Installment,
    InvoiceDistribution,
    InvoiceLine,
    ReceivablesInvoice,
)
from .tree import Ctx

ACCOUNT_CLASSES = ("Revenue", "Receivable", "Freight", "Tax")
PATCHABLE = frozenset(
    {
        "InvoiceStatus",
        "PaymentTerms",
        "TransactionDate",
        "InvoicePrinted",
        "OriginalPrintDate",
        "LastPrintDate",
        "DeliveryMethod",
        "Email",
    }
)
_PRINT_GROUP = frozenset({"OriginalPrintDate", "LastPrintDate", "DeliveryMethod", "Email"})
CENT = Decimal("0.01")


def _bad(detail: str, code: str, path: str) -> ApiError:
    return ApiError.bad(detail, code=code, path=path)


def find_combination(ctx: Ctx, text: str) -> AccountCombination | None:
    segments = tuple(text.split(ctx.config.segment_separator))
    return next((c for c in ctx.state.combinations.values() if c.segments == segments), None)


def check_combination(ctx: Ctx, text: str, on: date, path: str) -> None:
    """Enabled, postable, within its active dates (DESIGN §3.2 rule 3)."""
    combo = find_combination(ctx, text)
    if combo is None:
        raise _bad(f"The account combination {text} doesn't exist.", "AR_ACCOUNT_NOT_FOUND", path)
    if combo.EnabledFlag != "Y":
        raise _bad(f"The account combination {text} is disabled.", "AR_ACCOUNT_DISABLED", path)
    if combo.DetailPostingAllowedFlag != "Y":
        raise _bad(
            f"The account combination {text} doesn't allow detail posting.",
            "AR_ACCOUNT_NOT_POSTABLE",
            path,
        )
    if (combo.StartDateActive and on < combo.StartDateActive) or (
        combo.EndDateActive and on > combo.EndDateActive
    ):
        raise _bad(
            f"The account combination {text} isn't active on {on}.", "AR_ACCOUNT_END_DATED", path
        )


def _bill_to(
    ctx: Ctx, body: Mapping[str, Any], bu_name: str
) -> tuple[CustomerAccount, CustomerSite]:
    number = req_str(body, "BillToCustomerNumber")
    acct = ctx.state.account_by_number(number)
    if acct is None or acct.Status != "A":
        raise _bad(
            f"The bill-to customer {number} doesn't exist or isn't active.",
            "AR_BILL_TO_CUST_NOT_FOUND",
            "BillToCustomerNumber",
        )
    wanted = opt_str(body, "BillToSite")
    sites = [s for s in acct.sites if s.Status == "A" and s.BusinessUnit == bu_name]
    if wanted is not None:
        sites = [s for s in sites if wanted in (s.SiteNumber, s.SiteName)]
    if len(sites) != 1:
        raise _bad(
            f"The bill-to site {wanted or '(default)'} of customer {number} isn't valid in "
            f"business unit {bu_name}.",
            "AR_BILL_TO_SITE_NOT_FOUND",
            "BillToSite",
        )
    return acct, sites[0]


def _lines(ctx: Ctx, body: Mapping[str, Any]) -> list[InvoiceLine]:
    raw_lines = rows_of(body, "receivablesInvoiceLines")
    if not raw_lines:
        raise _bad("An invoice needs at least one line.", "JBO-27014", "receivablesInvoiceLines")
    lines = []
    for n, raw in enumerate(raw_lines, start=1):
        qty, price = opt_decimal(raw, "Quantity"), opt_decimal(raw, "UnitSellingPrice")
        amount = opt_decimal(raw, "LineAmount")
        if amount is None:
            if qty is None or price is None:
                raise _bad(
                    "Provide LineAmount or Quantity and UnitSellingPrice.",
                    "AR_LINE_ATTR_OPT_REQ",
                    "receivablesInvoiceLines",
                )
            amount = (qty * price).quantize(CENT)
        lines.append(
            InvoiceLine(
                CustomerTransactionLineId=ctx.state.new_id(),
                LineNumber=opt_int(raw, "LineNumber") or n,
                Description=opt_str(raw, "Description"),
                ItemNumber=opt_str(raw, "ItemNumber"),
                MemoLine=opt_str(raw, "MemoLine"),
                Quantity=qty,
                UnitSellingPrice=price,
                UnitOfMeasure=opt_str(raw, "UnitOfMeasure"),
                LineAmount=amount,
                TaxClassificationCode=opt_str(raw, "TaxClassificationCode"),
            )
        )
    return lines


def _distributions(
    ctx: Ctx, body: Mapping[str, Any], lines: list[InvoiceLine], on: date
) -> list[InvoiceDistribution]:
    line_numbers = {ln.LineNumber for ln in lines}
    out = []
    for raw in rows_of(body, "receivablesInvoiceDistributions"):
        account_class = req_str(raw, "AccountClass")
        if account_class not in ACCOUNT_CLASSES:
            raise _bad(
                f"The account class {account_class} isn't valid; use one of {', '.join(ACCOUNT_CLASSES)}.",
                "AR_INVALID_ACCOUNT_CLASS",
                "AccountClass",
            )
        combination = req_str(raw, "AccountCombination")
        check_combination(ctx, combination, on, "AccountCombination")
        line_number = opt_int(raw, "InvoiceLineNumber")
        if line_number is not None and line_number not in line_numbers:
            raise _bad(
                f"The invoice line {line_number} doesn't exist.", "JBO-27024", "InvoiceLineNumber"
            )
        amount = opt_decimal(raw, "Amount")
        out.append(
            InvoiceDistribution(
                DistributionId=ctx.state.new_id(),
                AccountClass=account_class,
                AccountCombination=combination,
                Amount=amount,
                AccountedAmount=amount,
                Percent=opt_decimal(raw, "Percent"),
                InvoiceLineNumber=line_number,
                Comments=opt_str(raw, "Comments"),
            )
        )
    return out


def create_invoice(ctx: Ctx, parent: Any, body: Mapping[str, Any]) -> ReceivablesInvoice:
    st = ctx.state
    bu_name = req_str(body, "BusinessUnit")
    if st.business_unit_named(bu_name) is None:
        raise _bad(f"The business unit {bu_name} doesn't exist.", "AR_BU_NOT_FOUND", "BusinessUnit")
    source_name = req_str(body, "TransactionSource")
    source = st.transaction_source_named(source_name)
    if source is None:
        raise _bad(
            f"The transaction source {source_name} doesn't exist.",
            "AR_BATCH_SOURCE_NOT_FOUND",
            "TransactionSource",
        )
    type_name = req_str(body, "TransactionType")
    if st.transaction_type_named(type_name) is None:
        raise _bad(
            f"The transaction type {type_name} doesn't exist.",
            "AR_TRX_TYPE_NOT_FOUND",
            "TransactionType",
        )
    currency = req_str(body, "InvoiceCurrencyCode")
    cur = st.currencies.get(currency)
    if cur is None or cur.EnabledFlag != "Y":
        raise _bad(
            f"The currency {currency} isn't valid.", "AR_CURRENCY_NOT_FOUND", "InvoiceCurrencyCode"
        )
    acct, site = _bill_to(ctx, body, bu_name)
    terms_name = opt_str(body, "PaymentTerms")
    due_days = 0
    if terms_name is not None:
        terms = st.payment_term_named(terms_name)
        if terms is None:
            raise _bad(
                f"The payment terms {terms_name} don't exist.", "AR_TERMS_NOT_FOUND", "PaymentTerms"
            )
        due_days = terms.DueDays
    number = opt_str(body, "TransactionNumber")
    if number is None:
        if source.AutomaticNumbering != "Y":
            raise _bad("Attribute TransactionNumber is required.", "JBO-27014", "TransactionNumber")
        number = str(st.next_id)
    elif ctx.config.reject_duplicate_transaction_number and any(
        i.TransactionNumber == number and i.TransactionSource == source_name
        for i in st.invoices.values()
    ):
        raise _bad(
            f"The transaction number {number} already exists for source {source_name}.",
            "AR_DUPLICATE_TRX_NUMBER",
            "TransactionNumber",
        )
    txn_date = opt_date(body, "TransactionDate") or st.today()
    lines = _lines(ctx, body)
    distributions = _distributions(ctx, body, lines, opt_date(body, "AccountingDate") or txn_date)
    freight = opt_decimal(body, "FreightAmount")
    total = sum((ln.LineAmount for ln in lines), Decimal(0)) + (freight or Decimal(0))
    due = txn_date + timedelta(days=due_days)
    inv = ReceivablesInvoice(
        CustomerTransactionId=st.new_id(),
        TransactionNumber=number,
        TransactionType=type_name,
        TransactionSource=source_name,
        BusinessUnit=bu_name,
        TransactionDate=txn_date,
        AccountingDate=opt_date(body, "AccountingDate") or txn_date,
        DueDate=due,
        BillingDate=opt_date(body, "BillingDate"),
        InvoiceCurrencyCode=currency,
        BillToCustomerName=acct.CustomerName,
        BillToCustomerNumber=acct.AccountNumber,
        BillToSite=site.SiteNumber,
        BillToPartyId=acct.CustomerId,
        ShipToCustomerNumber=opt_str(body, "ShipToCustomerNumber"),
        ShipToSite=opt_str(body, "ShipToSite"),
        PaymentTerms=terms_name,
        PurchaseOrder=opt_str(body, "PurchaseOrder"),
        CrossReference=opt_str(body, "CrossReference"),
        DocumentNumber=opt_str(body, "DocumentNumber"),
        Comments=opt_str(body, "Comments"),
        InternalNotes=opt_str(body, "InternalNotes"),
        FreightAmount=freight,
        EnteredAmount=total,
        InvoiceBalanceAmount=total,
        InvoiceStatus=opt_str(body, "InvoiceStatus") or "Complete",
        receivablesInvoiceLines=lines,
        receivablesInvoiceDistributions=distributions,
        receivablesInvoiceInstallments=[
            Installment(
                InstallmentId=st.new_id(),
                InstallmentDueDate=due,
                OriginalAmount=total,
                InstallmentBalanceDue=total,
            )
        ],
        account_id=acct.AccountId,
        bill_to_site_use_id=site.SiteUseId,
        **st.stamps(),
    )
    st.invoices[inv.CustomerTransactionId] = inv
    return inv


def update_invoice(ctx: Ctx, row: Any, body: Mapping[str, Any]) -> None:
    """Header PATCH limited to the §7 whitelist; anything else is a 400 and nothing changes."""
    inv: ReceivablesInvoice = row
    st = ctx.state
    for name in body:
        if name not in PATCHABLE:
            raise _bad(
                f"You can update only the InvoiceStatus, PaymentTerms, and TransactionDate "
                f"attributes (and the print attributes); {name} can't be updated.",
                "JBO-27008",
                name,
            )
    printed = opt_str(body, "InvoicePrinted") or inv.InvoicePrinted
    if printed != "Y" and any(n in _PRINT_GROUP for n in body):
        raise _bad(
            "Print attributes can be updated only when InvoicePrinted is Y.",
            "JBO-27024",
            "InvoicePrinted",
        )
    status = opt_str(body, "InvoiceStatus")
    if status is not None and status not in ("Complete", "Incomplete", "Frozen"):
        raise _bad(f"The invoice status {status} isn't valid.", "JBO-27024", "InvoiceStatus")
    terms_name = opt_str(body, "PaymentTerms")
    terms = st.payment_term_named(terms_name) if terms_name is not None else None
    if terms_name is not None and terms is None:
        raise _bad(
            f"The payment terms {terms_name} don't exist.", "AR_TERMS_NOT_FOUND", "PaymentTerms"
        )
    txn_date = opt_date(body, "TransactionDate")
    if status is not None:
        inv.InvoiceStatus = status
    if txn_date is not None:
        inv.TransactionDate = txn_date
    if terms is not None:
        inv.PaymentTerms = terms.Name
    if terms is not None or txn_date is not None:
        term = st.payment_term_named(inv.PaymentTerms) if inv.PaymentTerms else None
        inv.DueDate = inv.TransactionDate + timedelta(days=term.DueDays if term else 0)
        for inst in inv.receivablesInvoiceInstallments:
            inst.InstallmentDueDate = inv.DueDate
    inv.InvoicePrinted = printed
    for name in _PRINT_GROUP & body.keys():
        value = opt_date(body, name) if name.endswith("Date") else opt_str(body, name)
        setattr(inv, name, value)
    st.touch(inv)


def refuse_child_create(ctx: Ctx, parent: Any, body: Mapping[str, Any]) -> Any:
    """Lines, distributions and installments can be created only with the invoice (reference §7)."""
    raise ApiError.bad(
        "Child resources of an existing receivables invoice can't be created or modified.",
        code="JBO-27024",
    )


def update_installment(ctx: Ctx, row: Any, body: Mapping[str, Any]) -> None:
    """The one child PATCH §7 allows: ``InstallmentDueDate`` and ``OriginalAmount`` (the latter only while
    nothing has been applied, so balances stay consistent)."""
    inst: Installment = row
    bad = [k for k in body if k not in ("InstallmentDueDate", "OriginalAmount")]
    if bad:
        raise _bad(f"Attribute {bad[0]} of an installment can't be updated.", "JBO-27008", bad[0])
    inv = next(
        i
        for i in ctx.state.invoices.values()
        if any(x is inst for x in i.receivablesInvoiceInstallments)
    )
    due = opt_date(body, "InstallmentDueDate")
    amount = opt_decimal(body, "OriginalAmount")
    if amount is not None:
        if inst.InstallmentBalanceDue != inst.OriginalAmount or amount <= 0:
            raise _bad("The installment amount can't be changed.", "JBO-27024", "OriginalAmount")
        delta = amount - inst.OriginalAmount
        inst.OriginalAmount = inst.InstallmentBalanceDue = amount
        inv.InvoiceBalanceAmount += delta
    if due is not None:
        inst.InstallmentDueDate = due
    ctx.state.touch(inv)
