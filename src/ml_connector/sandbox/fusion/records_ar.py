"""Typed records of the Receivables side: customers, transaction setup, invoices, receipts.

Field names are Fusion attribute names (reference §4.4–§4.6, §4.8). Names not confirmed by the reference
are marked INFERRED in the class docstring; the connector must not rely on them without ``/describe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .records import HIDDEN, Record, Stamped


@dataclass(kw_only=True, slots=True)
class TransactionType(Record):
    """transactionTypesLOV row (key VERIFIED; ``Name`` INFERRED [S82]; others INFERRED)."""

    TransactionTypeId: int
    Name: str
    Description: str = ""
    TransactionTypeClass: str = "INV"
    StartDate: date | None = None
    EndDate: date | None = None


@dataclass(kw_only=True, slots=True)
class TransactionSource(Record):
    """transactionSourcesLOV row (key VERIFIED; ``Name`` INFERRED [S82]).

    ``AutomaticNumbering`` INFERRED: with it a missing TransactionNumber is generated (reference §4.4).
    """

    TransactionSourceId: int
    Name: str
    Description: str = ""
    AutomaticNumbering: str = "N"


@dataclass(kw_only=True, slots=True)
class ReceiptMethod(Record):
    """receiptMethodsLOV row (key VERIFIED [S78]; other names INFERRED)."""

    ReceiptMethodId: int
    Name: str
    ReceiptClass: str = "Manual"
    RemittanceBankAccountNumber: str | None = None
    StartDate: date | None = None
    EndDate: date | None = None


@dataclass(kw_only=True, slots=True)
class CustomerSite(Record):
    """customerAccountSitesLOV row: a bill-to site use in one business unit (key VERIFIED; rest INFERRED)."""

    SiteUseId: int
    SiteUseCode: str = "BILL_TO"
    SiteNumber: str
    SiteName: str
    AccountId: int
    AccountNumber: str
    BusinessUnit: str
    Address: str = ""
    Status: str = "A"


@dataclass(kw_only=True, slots=True)
class CustomerAccount(Record):
    """A customer account (no REST create on real pods, reference §4.6; seeded through FusionState)."""

    AccountId: int
    AccountNumber: str
    CustomerId: int
    CustomerName: str
    Status: str = "A"  # TCA A/I (VERIFIED [S56])
    TaxpayerIdentificationNumber: str | None = None
    sites: list[CustomerSite] = field(default_factory=list, metadata=HIDDEN)


@dataclass(kw_only=True, slots=True)
class InvoiceLine(Record):
    CustomerTransactionLineId: int
    LineNumber: int
    Description: str | None = None
    ItemNumber: str | None = None
    MemoLine: str | None = None
    Quantity: Decimal | None = None
    UnitSellingPrice: Decimal | None = None
    UnitOfMeasure: str | None = None
    LineAmount: Decimal
    TaxClassificationCode: str | None = None


@dataclass(kw_only=True, slots=True)
class InvoiceDistribution(Record):
    DistributionId: int
    AccountClass: str
    AccountCombination: str
    Amount: Decimal | None = None
    AccountedAmount: Decimal | None = None
    Percent: Decimal | None = None
    InvoiceLineNumber: int | None = None
    Comments: str | None = None


@dataclass(kw_only=True, slots=True)
class Installment(Record):
    """receivablesInvoiceInstallments row; ``InstallmentId`` is the payment schedule id that
    ``applyReceipt`` takes (reference §4.5). Amount attribute names INFERRED."""

    InstallmentId: int
    InstallmentSequenceNumber: int = 1
    InstallmentDueDate: date
    OriginalAmount: Decimal
    InstallmentBalanceDue: Decimal
    InstallmentStatus: str = "Open"


@dataclass(kw_only=True, slots=True)
class ReceivablesInvoice(Stamped):
    """receivablesInvoices header (reference §4.4)."""

    CustomerTransactionId: int
    TransactionNumber: str
    TransactionType: str
    TransactionSource: str
    BusinessUnit: str
    TransactionDate: date
    AccountingDate: date | None = None
    DueDate: date | None = None
    BillingDate: date | None = None
    InvoiceCurrencyCode: str
    BillToCustomerName: str | None = None
    BillToCustomerNumber: str
    BillToSite: str | None = None
    BillToPartyId: int | None = None
    ShipToCustomerNumber: str | None = None
    ShipToSite: str | None = None
    PaymentTerms: str | None = None
    PurchaseOrder: str | None = None
    CrossReference: str | None = None
    DocumentNumber: str | None = None
    Comments: str | None = None
    InternalNotes: str | None = None
    FreightAmount: Decimal | None = None
    EnteredAmount: Decimal = Decimal(0)
    InvoiceBalanceAmount: Decimal = Decimal(0)
    InvoiceStatus: str = "Complete"
    InvoicePrinted: str = "N"
    OriginalPrintDate: date | None = None
    LastPrintDate: date | None = None
    DeliveryMethod: str | None = None
    Email: str | None = None
    receivablesInvoiceLines: list[InvoiceLine] = field(default_factory=list, metadata=HIDDEN)
    receivablesInvoiceDistributions: list[InvoiceDistribution] = field(
        default_factory=list, metadata=HIDDEN
    )
    receivablesInvoiceInstallments: list[Installment] = field(default_factory=list, metadata=HIDDEN)
    account_id: int = field(default=0, metadata=HIDDEN)
    bill_to_site_use_id: int = field(default=0, metadata=HIDDEN)


@dataclass(kw_only=True, slots=True)
class ReceiptApplication(Record):
    """standardReceiptApplications row (reference §4.5, VERIFIED [S53])."""

    ApplicationId: int
    StandardReceiptId: int
    ReceiptNumber: str
    ApplicationAmount: Decimal
    EnteredCurrency: str
    ApplicationDate: date
    AccountingDate: date
    ApplicationStatus: str = "APP"
    ProcessStatus: str = "PROCESSED"
    IsLatestApplication: str = "Y"
    ReferenceInstallmentId: int
    ReferenceTransactionId: int
    ReferenceTransactionNumber: str
    ReferenceTransactionStatus: str = "Open"
    account_id: int = field(default=0, metadata=HIDDEN)


@dataclass(kw_only=True, slots=True)
class StandardReceipt(Stamped):
    """standardReceipts item (reference §4.5)."""

    StandardReceiptId: int
    ReceiptNumber: str
    BusinessUnit: str
    ReceiptMethod: str
    ReceiptDate: date
    AccountingDate: date | None = None
    Amount: Decimal
    Currency: str
    CustomerAccountNumber: str | None = None
    CustomerName: str | None = None
    CustomerSite: str | None = None
    RemittanceBankAccountNumber: str | None = None
    Comments: str | None = None
    State: str = "Cleared"
    Status: str = "UNAPP"
    UnappliedAmount: Decimal = Decimal(0)
    DocumentNumber: str | None = None
    account_id: int | None = field(default=None, metadata=HIDDEN)
