"""The resource tree of the simulated pod: every resource under ``/fscmRestApi/resources/{version}/``.

Lookup resource names are VERIFIED (reference §4.8 [S78]) except ``paymentTermsLOV`` (INFERRED [S82]);
their attribute names are INFERRED unless the record's docstring says otherwise. Item keys: plain ids, or
``BusinessUnitId`` standing in for the opaque ``finBusinessUnitsLOVUniqID``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from . import activities, procurement, receipts, receivables
from .config import FusionSimConfig
from .query import MISSING
from .records import (
    AccountCombination,
    BusinessUnit,
    Currency,
    PaymentTerm,
    POLine,
    POSchedule,
    ProcessingError,
    PurchaseOrder,
    ReceiptRequest,
    ReceiptRequestLine,
    Record,
    Supplier,
    SupplierAddress,
    SupplierContact,
    SupplierSite,
)
from .records_ar import (
    CustomerSite,
    Installment,
    InvoiceDistribution,
    InvoiceLine,
    ReceiptApplication,
    ReceiptMethod,
    ReceivablesInvoice,
    StandardReceipt,
    TransactionSource,
    TransactionType,
)
from .tree import Ctx, Node


def node(
    name: str, key: str, record: type[Record], rows: Callable[[Ctx, Any], Sequence[Any]], **kw: Any
) -> Node:
    finders = {"PrimaryKey": (key,), **kw.pop("finders", {})}
    return Node(
        name=name,
        key=key,
        attr_names=frozenset(record.attr_names()),
        rows=rows,
        finders=finders,
        **kw,
    )


def _by_int(table: Callable[[Ctx], Mapping[int, Any]]) -> Callable[[Ctx, str], Any]:
    def lookup(ctx: Ctx, key: str) -> Any:
        return table(ctx).get(int(key)) if key.isdigit() else None

    return lookup


def _combinations(config: FusionSimConfig) -> Node:
    labels = config.segment_labels
    index = {label: i for i, label in enumerate(labels)}

    def get(row: Any, name: str) -> Any:
        if name in index:
            segs = row.segments
            return segs[index[name]] if index[name] < len(segs) else None
        return getattr(row, name, MISSING)

    def attrs(row: Any) -> dict[str, Any]:
        out: dict[str, Any] = row.attrs()
        out.update({label: get(row, label) for label in labels})
        return out

    return Node(
        name="accountCombinationsLOV",
        key="_CODE_COMBINATION_ID",
        attr_names=frozenset(AccountCombination.attr_names()) | frozenset(labels),
        rows=lambda ctx, p: list(ctx.state.combinations.values()),
        lookup=_by_int(lambda ctx: ctx.state.combinations),
        get=get,
        attrs=attrs,
        finders={"PrimaryKey": ("_CODE_COMBINATION_ID",)},
    )


def _procurement() -> list[Node]:

    suppliers = node(
        "suppliers",
        "SupplierId",
        Supplier,
        lambda ctx, p: list(ctx.state.suppliers.values()),
        lookup=_by_int(lambda ctx: ctx.state.suppliers),
        table=lambda ctx: ctx.state.suppliers,
        create=procurement.create_supplier,
        update=procurement.update_supplier,
        children=(
            node("addresses", "SupplierAddressId", SupplierAddress, lambda ctx, p: p.addresses),
            node("sites", "SupplierSiteId", SupplierSite, lambda ctx, p: p.sites),
            node("contacts", "SupplierContactId", SupplierContact, lambda ctx, p: p.contacts),
        ),
    )
    schedules = node("schedules", "LineLocationId", POSchedule, lambda ctx, p: p.schedules)
    orders = node(
        "purchaseOrders",
        "POHeaderId",
        PurchaseOrder,
        lambda ctx, p: list(ctx.state.purchase_orders.values()),
        lookup=_by_int(lambda ctx: ctx.state.purchase_orders),
        table=lambda ctx: ctx.state.purchase_orders,
        children=(
            node("lines", "POLineId", POLine, lambda ctx, p: p.lines, children=(schedules,)),
        ),
    )
    errors = node(
        "processingErrors", "InterfaceErrorId", ProcessingError, lambda ctx, p: p.processingErrors
    )
    requests = node(
        "receivingReceiptRequests",
        "HeaderInterfaceId",
        ReceiptRequest,
        lambda ctx, p: list(ctx.state.receipt_requests.values()),
        lookup=_by_int(lambda ctx: ctx.state.receipt_requests),
        create=procurement.create_receipt_request,
        before_read=procurement.maybe_process,
        children=(
            node(
                "lines",
                "InterfaceTransactionId",
                ReceiptRequestLine,
                lambda ctx, p: p.lines,
                children=(errors,),
            ),
        ),
    )
    return [suppliers, orders, requests]


def _receivables() -> list[Node]:

    refuse = receivables.refuse_child_create
    invoices = node(
        "receivablesInvoices",
        "CustomerTransactionId",
        ReceivablesInvoice,
        lambda ctx, p: list(ctx.state.invoices.values()),
        lookup=_by_int(lambda ctx: ctx.state.invoices),
        table=lambda ctx: ctx.state.invoices,
        create=receivables.create_invoice,
        update=receivables.update_invoice,
        children=(
            node(
                "receivablesInvoiceLines",
                "CustomerTransactionLineId",
                InvoiceLine,
                lambda ctx, p: p.receivablesInvoiceLines,
                create=refuse,
            ),
            node(
                "receivablesInvoiceDistributions",
                "DistributionId",
                InvoiceDistribution,
                lambda ctx, p: p.receivablesInvoiceDistributions,
                create=refuse,
            ),
            node(
                "receivablesInvoiceInstallments",
                "InstallmentId",
                Installment,
                lambda ctx, p: p.receivablesInvoiceInstallments,
                create=refuse,
                update=receivables.update_installment,
            ),
        ),
    )
    std_receipts = node(
        "standardReceipts",
        "StandardReceiptId",
        StandardReceipt,
        lambda ctx, p: list(ctx.state.receipts.values()),
        lookup=_by_int(lambda ctx: ctx.state.receipts),
        table=lambda ctx: ctx.state.receipts,
        create=receipts.create_receipt,
        actions=receipts.receipt_actions,
    )
    account_activities = node(
        "receivablesCustomerAccountActivities",
        "AccountId",
        activities.AccountActivity,
        activities.account_activities,
        children=(
            node(
                "standardReceiptApplications",
                "ApplicationId",
                ReceiptApplication,
                lambda ctx, p: p.applications,
            ),
            node(
                "transactionPaymentSchedules",
                "PaymentScheduleId",
                activities.PaymentSchedule,
                lambda ctx, p: p.schedules,
            ),
        ),
    )
    site_activities = node(
        "receivablesCustomerAccountSiteActivities",
        "BillToSiteUseId",
        activities.SiteActivity,
        activities.site_activities,
        finders={
            "CustomerAccountSiteActivitiesFinder": (
                "AccountNumber",
                "BillToSiteNumber",
                "CustomerName",
                "TaxRegistrationNumber",
                "TaxpayerIdentificationNumber",
            )
        },
    )
    return [invoices, std_receipts, account_activities, site_activities]


def _lookups() -> list[Node]:
    return [
        node(
            "finBusinessUnitsLOV",
            "BusinessUnitId",
            BusinessUnit,
            lambda ctx, p: list(ctx.state.business_units.values()),
        ),
        node(
            "transactionTypesLOV",
            "TransactionTypeId",
            TransactionType,
            lambda ctx, p: list(ctx.state.transaction_types.values()),
        ),
        node(
            "transactionSourcesLOV",
            "TransactionSourceId",
            TransactionSource,
            lambda ctx, p: list(ctx.state.transaction_sources.values()),
        ),
        node(
            "receiptMethodsLOV",
            "ReceiptMethodId",
            ReceiptMethod,
            lambda ctx, p: list(ctx.state.receipt_methods.values()),
        ),
        node(
            "currenciesLOV",
            "CurrencyCode",
            Currency,
            lambda ctx, p: list(ctx.state.currencies.values()),
        ),
        node(
            "customerAccountSitesLOV",
            "SiteUseId",
            CustomerSite,
            lambda ctx, p: [s for a in ctx.state.accounts.values() for s in a.sites],
        ),
        node(
            "paymentTermsLOV",
            "TermId",
            PaymentTerm,
            lambda ctx, p: list(ctx.state.payment_terms.values()),
        ),
    ]


def build_registry(config: FusionSimConfig) -> dict[str, Node]:
    nodes = [*_procurement(), *_receivables(), *_lookups(), _combinations(config)]
    return {n.name: n for n in nodes}
