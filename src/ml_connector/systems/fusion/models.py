"""Typed Fusion resources, as the REST API names them (oracle-fusion-api.md §4).

Only the attributes the flows use are declared; everything else is ignored on read. Ids are the
15–18-digit integers Fusion uses; date-only business fields stay :class:`~datetime.date` (they are in
the pod's time zone, not UTC); who-columns are aware UTC.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, field_validator

from ml_connector.systems.parsing import (
    DateOnly,
    Flag,
    IntId,
    Lenient,
    LooseStr,
    Money,
    UtcDateTime,
)

NEVER = date(4712, 12, 31)  # Fusion's "no end date"


def _children(value: Any) -> Any:
    """Expanded children: a bare array (framework < 3) or a collection object (≥ 3)."""
    if isinstance(value, dict):
        return value.get("items", [])
    return value or []


class Link(Lenient):
    rel: str
    href: str
    name: str | None = None
    kind: str | None = None


class FusionRecord(Lenient):
    links: list[Link] = Field(default_factory=list)

    def link(self, rel: str, name: str | None = None) -> str | None:
        for link in self.links:
            if link.rel == rel and (name is None or link.name == name):
                return link.href
        return None


# --- procurement ---------------------------------------------------------------------------


class SupplierAddress(FusionRecord):
    SupplierAddressId: IntId
    AddressName: str | None = None
    AddressLine1: str | None = None
    AddressLine2: str | None = None
    AddressLine3: str | None = None
    City: str | None = None
    State: str | None = None
    Province: str | None = None
    PostalCode: str | None = None
    CountryCode: str | None = None
    Country: str | None = None
    AddressPurposeOrderingFlag: Flag | None = None
    AddressPurposeRemitToFlag: Flag | None = None
    InactiveDate: DateOnly | None = None
    Status: str | None = None
    PhoneAreaCode: str | None = None
    PhoneNumber: str | None = None
    Email: str | None = None
    FaxNumber: str | None = None

    def active_on(self, day: date) -> bool:
        return self.InactiveDate is None or self.InactiveDate > day


class SupplierSite(FusionRecord):
    SupplierSiteId: IntId
    SupplierSite: str | None = None
    ProcurementBUId: IntId | None = None
    ProcurementBU: str | None = None
    SupplierAddressId: IntId | None = None
    SupplierAddressName: str | None = None
    InactiveDate: DateOnly | None = None
    SitePurposePurchasingFlag: Flag | None = None
    SitePurposePayFlag: Flag | None = None
    PaymentTermsId: IntId | None = None
    PaymentTerms: str | None = None


class SupplierContact(FusionRecord):
    SupplierContactId: IntId
    FirstName: str | None = None
    LastName: str | None = None
    Email: str | None = None
    PhoneNumber: str | None = None
    PhoneAreaCode: str | None = None
    FaxNumber: str | None = None
    PrimaryAdminContactFlag: Flag | None = None
    InactiveDate: DateOnly | None = None
    Status: str | None = None


class Supplier(FusionRecord):
    SupplierId: IntId
    Supplier: str
    SupplierNumber: str
    AlternateName: str | None = None
    Status: str | None = None
    InactiveDate: DateOnly | None = None
    TaxRegistrationNumber: str | None = None
    TaxpayerId: str | None = None
    SupplierTypeCode: str | None = None
    BusinessRelationshipCode: str | None = None
    CreationDate: UtcDateTime | None = None
    LastUpdateDate: UtcDateTime
    addresses: list[SupplierAddress] = Field(default_factory=list)
    sites: list[SupplierSite] = Field(default_factory=list)
    contacts: list[SupplierContact] = Field(default_factory=list)

    _unwrap = field_validator("addresses", "sites", "contacts", mode="before")(_children)

    def active_on(self, day: date) -> bool:
        if (self.Status or "ACTIVE").upper() != "ACTIVE":
            return False
        return self.InactiveDate is None or self.InactiveDate > day


class PurchaseOrderSchedule(FusionRecord):
    LineLocationId: IntId
    ScheduleNumber: int | None = None
    Quantity: Money | None = None
    ReceivedQuantity: Money | None = None
    BilledQuantity: Money | None = None
    RequestedDeliveryDate: DateOnly | None = None
    PromisedDeliveryDate: DateOnly | None = None
    DestinationTypeCode: str | None = None
    ShipToLocationCode: str | None = None
    ShipToLocation: str | None = None
    StatusCode: str | None = None


class PurchaseOrderLine(FusionRecord):
    POLineId: IntId
    LineNumber: int
    Item: str | None = None
    ItemDescription: str | None = None
    Description: str | None = None
    Quantity: Money | None = None
    Price: Money | None = None
    Amount: Money | None = None
    UOMCode: str | None = None
    UOM: str | None = None
    SupplierItem: str | None = None
    LineType: str | None = None
    StatusCode: str | None = None
    schedules: list[PurchaseOrderSchedule] = Field(default_factory=list)

    _unwrap = field_validator("schedules", mode="before")(_children)


class PurchaseOrder(FusionRecord):
    POHeaderId: IntId
    OrderNumber: str
    StatusCode: str | None = None
    Status: str | None = None
    SupplierId: IntId | None = None
    Supplier: str | None = None
    SupplierSiteId: IntId | None = None
    SupplierSite: str | None = None
    ProcurementBUId: IntId | None = None
    ProcurementBU: str | None = None
    CurrencyCode: str | None = None
    Description: str | None = None
    Ordered: Money | None = None
    TotalTax: Money | None = None
    Total: Money | None = None
    CreationDate: UtcDateTime | None = None
    LastUpdateDate: UtcDateTime
    lines: list[PurchaseOrderLine] = Field(default_factory=list)

    _unwrap = field_validator("lines", mode="before")(_children)


class ReceiptProcessingError(FusionRecord):
    InterfaceErrorId: IntId
    ErrorMessage: str | None = None
    ErrorMessageName: str | None = None
    ColumnName: str | None = None


class ReceivingReceiptLine(FusionRecord):
    InterfaceTransactionId: IntId
    DocumentNumber: str | None = None
    DocumentLineNumber: int | None = None
    Quantity: Money | None = None
    ProcessingStatusCode: str | None = None
    TransactionStatusCode: str | None = None
    processingErrors: list[ReceiptProcessingError] = Field(default_factory=list)

    _unwrap = field_validator("processingErrors", mode="before")(_children)


class ReceivingReceiptRequest(FusionRecord):
    HeaderInterfaceId: IntId
    ReceiptNumber: str | None = None
    ProcessingStatusCode: str | None = None
    ReceiptSourceCode: str | None = None
    VendorNumber: str | None = None
    BusinessUnit: str | None = None
    TransactionDate: UtcDateTime | None = None
    lines: list[ReceivingReceiptLine] = Field(default_factory=list)

    _unwrap = field_validator("lines", mode="before")(_children)


# --- receivables -------------------------------------------------------------------------


class ReceivablesInvoiceInstallment(FusionRecord):
    InstallmentId: IntId
    InstallmentNumber: int | None = None
    InstallmentDueDate: DateOnly | None = None
    OriginalAmount: Money | None = None
    InstallmentBalanceDue: Money | None = None


class ReceivablesInvoiceLine(FusionRecord):
    CustomerTransactionLineId: IntId | None = None
    LineNumber: int
    Description: str | None = None
    Quantity: Money | None = None
    UnitSellingPrice: Money | None = None
    LineAmount: Money | None = None


class ReceivablesInvoice(FusionRecord):
    CustomerTransactionId: IntId
    TransactionNumber: str
    TransactionSource: str | None = None
    TransactionType: str | None = None
    BusinessUnit: str | None = None
    CrossReference: str | None = None
    TransactionDate: DateOnly | None = None
    AccountingDate: DateOnly | None = None
    DueDate: DateOnly | None = None
    InvoiceCurrencyCode: str | None = None
    BillToCustomerNumber: str | None = None
    BillToSite: str | None = None
    EnteredAmount: Money | None = None
    InvoiceBalanceAmount: Money | None = None
    InvoiceStatus: str | None = None
    CreationDate: UtcDateTime | None = None
    LastUpdateDate: UtcDateTime | None = None
    receivablesInvoiceLines: list[ReceivablesInvoiceLine] = Field(default_factory=list)
    receivablesInvoiceInstallments: list[ReceivablesInvoiceInstallment] = Field(
        default_factory=list
    )

    _unwrap = field_validator(
        "receivablesInvoiceLines", "receivablesInvoiceInstallments", mode="before"
    )(_children)


class StandardReceipt(FusionRecord):
    StandardReceiptId: IntId
    ReceiptNumber: str
    BusinessUnit: str | None = None
    ReceiptMethod: str | None = None
    ReceiptDate: DateOnly | None = None
    Amount: Money | None = None
    UnappliedAmount: Money | None = None
    Currency: str | None = None
    CustomerAccountNumber: str | None = None
    CustomerSite: str | None = None
    RemittanceBankAccountNumber: str | None = None
    State: str | None = None
    Status: str | None = None
    Comments: str | None = None


class ReceiptApplication(FusionRecord):
    ApplicationId: IntId
    StandardReceiptId: IntId | None = None
    ReceiptNumber: str | None = None
    ApplicationAmount: Money | None = None
    ApplicationStatus: str | None = None
    ReferenceInstallmentId: IntId | None = None
    ReferenceTransactionId: IntId | None = None
    ReferenceTransactionNumber: str | None = None


class CustomerAccountSite(FusionRecord):
    """A bill-to site from ``receivablesCustomerAccountSiteActivities``."""

    BillToSiteUseId: IntId
    BillToSiteNumber: str | None = None
    AccountId: IntId | None = None
    AccountNumber: str | None = None
    CustomerName: str | None = None
    BusinessUnit: str | None = None
    Status: str | None = None
    BillToSiteAddress: str | None = None
    TaxpayerIdentificationNumber: str | None = None
    TaxRegistrationNumber: str | None = None


class CustomerAccount(FusionRecord):
    """An account from ``receivablesCustomerAccountActivities``."""

    AccountId: IntId
    AccountNumber: str
    CustomerId: IntId | None = None
    CustomerName: str | None = None
    Status: str | None = None
    TotalOpenReceivablesForAccount: Money | None = None


class AccountCombination(FusionRecord):
    """A row of ``accountCombinationsLOV``; segment attributes are tenant-named (kept in ``segments``)."""

    CodeCombinationId: IntId = Field(alias="_CODE_COMBINATION_ID")
    ChartOfAccountsId: IntId | None = Field(default=None, alias="_CHART_OF_ACCOUNTS_ID")
    EnabledFlag: Flag | None = None
    DetailPostingAllowedFlag: Flag | None = None
    SummaryFlag: Flag | None = None
    AccountType: str | None = None
    StartDateActive: DateOnly | None = None
    EndDateActive: DateOnly | None = None

    def usable_on(self, day: date) -> tuple[bool, str]:
        """Enabled, postable and in its date range on ``day``; else False and why."""
        if self.EnabledFlag is False:
            return False, "disabled"
        if self.DetailPostingAllowedFlag is False:
            return False, "detail posting not allowed"
        if self.SummaryFlag is True:
            return False, "a summary account"
        if self.StartDateActive is not None and self.StartDateActive > day:
            return False, f"not active until {self.StartDateActive.isoformat()}"
        if self.EndDateActive is not None and self.EndDateActive < day:
            return False, f"end-dated {self.EndDateActive.isoformat()}"
        return True, "usable"


class NamedLookup(FusionRecord):
    """Rows of the LOV resources (business units, transaction types/sources, receipt methods…)."""

    Name: LooseStr | None = None
    BusinessUnitName: str | None = None
    BusinessUnitId: IntId | None = None
    CurrencyCode: str | None = None
    EnabledFlag: Flag | None = None
    StartDate: DateOnly | None = None
    EndDate: DateOnly | None = None
    # customerAccountSitesLOV rows (INFERRED attribute names, reference §4.8)
    SiteUseId: IntId | None = None
    SiteNumber: LooseStr | None = None
    SiteName: str | None = None
    AccountNumber: LooseStr | None = None
    BusinessUnit: str | None = None
    Status: str | None = None

    @property
    def label(self) -> str:
        return self.Name or self.BusinessUnitName or self.CurrencyCode or self.SiteNumber or ""

    def active_on(self, day: date) -> bool:
        """Enabled (when the row says), in its date range, and not status ``I``/``INACTIVE``."""
        if self.EnabledFlag is False:
            return False
        if (self.Status or "A").upper() in ("I", "INACTIVE"):
            return False
        if self.StartDate is not None and self.StartDate > day:
            return False
        return self.EndDate is None or self.EndDate >= day


class CollectionPage(Lenient):
    """The collection envelope (§3.4)."""

    items: list[dict[str, Any]]
    count: int
    hasMore: bool
    limit: int | None = None
    offset: int | None = None
    totalResults: int | None = None


__all__ = [
    "AccountCombination",
    "CollectionPage",
    "CustomerAccount",
    "CustomerAccountSite",
    "NamedLookup",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PurchaseOrderSchedule",
    "ReceiptApplication",
    "ReceivablesInvoice",
    "ReceivablesInvoiceInstallment",
    "ReceivablesInvoiceLine",
    "ReceivingReceiptLine",
    "ReceivingReceiptRequest",
    "StandardReceipt",
    "Supplier",
    "SupplierAddress",
    "SupplierContact",
    "SupplierSite",
]
