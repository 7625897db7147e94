"""Typed records of the simulated pod: procurement side and shared setup (business units, currencies).

Dataclass field names are the Fusion attribute names on purpose (reference §4), so a record renders
without a mapping table and ``q``/``orderBy`` address attributes by the same name. Child collections are
fields marked ``hidden``; they are served as child resources, never as attributes. Attribute lists are
VERIFIED where the reference says so and INFERRED otherwise (see reference §4.1, §4.2, §4.3).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

HIDDEN: dict[str, Any] = {"hidden": True}
NEVER = date(4712, 12, 31)  # Fusion's "no end date" (reference §4.1)


@dataclass(kw_only=True, slots=True)
class Record:
    """Base of every record: knows its attribute names (all non-hidden fields)."""

    @classmethod
    def attr_names(cls) -> tuple[str, ...]:
        return _attr_names(cls)

    def attrs(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.attr_names()}


_WHO = ("CreationDate", "CreatedBy", "LastUpdateDate", "LastUpdatedBy")
_ATTR_NAMES: dict[type[Record], tuple[str, ...]] = {}


def _attr_names(cls: type[Record]) -> tuple[str, ...]:
    names = _ATTR_NAMES.get(cls)
    if names is None:
        visible = [f.name for f in fields(cls) if not f.metadata.get("hidden")]
        # who-columns come first in the dataclass (base class) but last on the wire, as on pods
        names = tuple(n for n in visible if n not in _WHO) + tuple(n for n in visible if n in _WHO)
        _ATTR_NAMES[cls] = names
    return names


@dataclass(kw_only=True, slots=True)
class Stamped(Record):
    """Who-columns; ``LastUpdateDate`` moves on every change (FusionState.touch).

    Every assignment to ``LastUpdateDate`` (by ``touch``, a test, a copy) is noted in :data:`STAMPS`,
    so the page indexes (``index.py``) can follow rows that move without a full re-sort.
    """

    CreationDate: datetime
    CreatedBy: str = "INTEGRATION.USER"
    LastUpdateDate: datetime
    LastUpdatedBy: str = "INTEGRATION.USER"


class StampLog:
    """The records whose ``LastUpdateDate`` was last assigned, newest last, and how many ever were.

    Shared by every state in the process; a reader that fell more than ``keep`` notes behind is told
    so (``None``) and starts over from the data.
    """

    def __init__(self, keep: int = 1 << 16) -> None:
        self._lock = threading.Lock()
        self._recent: deque[Stamped] = deque(maxlen=keep)
        self.count = 0

    def note(self, record: Stamped) -> None:
        with self._lock:
            self._recent.append(record)
            self.count += 1

    def since(self, count: int) -> tuple[int, list[Stamped] | None]:
        """The count now and the records noted after ``count`` (None if some were dropped)."""
        with self._lock:
            missed = self.count - count
            if missed > len(self._recent):
                return self.count, None
            return self.count, list(itertools.islice(reversed(self._recent), missed))


STAMPS = StampLog()


class _NotedSlot:
    """Stands in for the ``LastUpdateDate`` slot of :class:`Stamped`: reads pass through, writes are
    noted in :data:`STAMPS`."""

    def __init__(self, slot: Any) -> None:
        self._slot = slot

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        return self if obj is None else self._slot.__get__(obj, owner)

    def __set__(self, obj: Stamped, value: Any) -> None:
        self._slot.__set__(obj, value)
        STAMPS.note(obj)

    def __delete__(self, obj: Any) -> None:
        self._slot.__delete__(obj)


setattr(Stamped, "LastUpdateDate", _NotedSlot(Stamped.__dict__["LastUpdateDate"]))  # noqa: B010


# --- setup -------------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class BusinessUnit(Record):
    """finBusinessUnitsLOV row (attribute names INFERRED [S82])."""

    BusinessUnitId: int
    BusinessUnitName: str
    PrimaryLedgerId: int | None = None
    LegalEntityId: int | None = None
    Status: str = "A"


@dataclass(kw_only=True, slots=True)
class Currency(Record):
    """currenciesLOV row (key ``CurrencyCode`` VERIFIED; others INFERRED)."""

    CurrencyCode: str
    Name: str
    Precision: int = 2
    EnabledFlag: str = "Y"


@dataclass(kw_only=True, slots=True)
class PaymentTerm(Record):
    """paymentTermsLOV row (resource and attributes INFERRED [S82]); ``DueDays`` drives due dates."""

    TermId: int
    Name: str
    Description: str = ""
    DueDays: int = 0


@dataclass(kw_only=True, slots=True)
class AccountCombination(Record):
    """accountCombinationsLOV row (reference §4.7). Segment attributes are added at render time."""

    _CODE_COMBINATION_ID: int
    _CHART_OF_ACCOUNTS_ID: int
    EnabledFlag: str = "Y"
    DetailPostingAllowedFlag: str = "Y"
    DetailBudgetingAllowedFlag: str = "Y"
    SummaryFlag: str = "N"
    AccountType: str = "R"
    StartDateActive: date | None = None
    EndDateActive: date | None = None
    segments: tuple[str, ...] = field(default=(), metadata=HIDDEN)


# --- suppliers ---------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class SupplierAddress(Stamped):
    SupplierAddressId: int
    AddressName: str
    CountryCode: str = "US"
    Country: str = "United States"
    AddressLine1: str | None = None
    AddressLine2: str | None = None
    City: str | None = None
    State: str | None = None
    PostalCode: str | None = None
    Email: str | None = None
    PhoneNumber: str | None = None
    AddressPurposeOrderingFlag: bool = True
    AddressPurposeRemitToFlag: bool = True
    AddressPurposeRFQOrBiddingFlag: bool = False
    Status: str = "ACTIVE"
    InactiveDate: date | None = None


@dataclass(kw_only=True, slots=True)
class SupplierSite(Stamped):
    SupplierSiteId: int
    SupplierSite: str
    ProcurementBUId: int
    ProcurementBU: str
    SupplierAddressId: int | None = None
    SupplierAddressName: str | None = None
    SitePurposePurchasingFlag: bool = True
    SitePurposePayFlag: bool = True
    PaymentTermsId: int | None = None
    PaymentTerms: str | None = None
    Status: str = "ACTIVE"
    InactiveDate: date | None = None


@dataclass(kw_only=True, slots=True)
class SupplierContact(Stamped):
    SupplierContactId: int
    FirstName: str | None = None
    LastName: str | None = None
    Email: str | None = None
    PhoneNumber: str | None = None
    Status: str = "ACTIVE"


@dataclass(kw_only=True, slots=True)
class Supplier(Stamped):
    """suppliers item (attribute names VERIFIED from a live capture [S31])."""

    SupplierId: int
    SupplierPartyId: int
    Supplier: str
    SupplierNumber: str
    AlternateName: str | None = None
    TaxOrganizationTypeCode: str = "CORPORATION"
    TaxOrganizationType: str = "Corporation"
    SupplierTypeCode: str | None = "SUPPLIER"
    SupplierType: str | None = "Supplier"
    BusinessRelationshipCode: str = "SPEND_AUTHORIZED"
    BusinessRelationship: str = "Spend Authorized"
    Status: str = "ACTIVE"
    InactiveDate: date | None = None
    TaxpayerCountryCode: str | None = "US"
    TaxpayerId: str | None = None
    OneTimeSupplierFlag: bool = False
    CorporateWebsite: str | None = None
    PreferredFunctionalCurrencyCode: str | None = None
    addresses: list[SupplierAddress] = field(default_factory=list, metadata=HIDDEN)
    sites: list[SupplierSite] = field(default_factory=list, metadata=HIDDEN)
    contacts: list[SupplierContact] = field(default_factory=list, metadata=HIDDEN)


# --- purchase orders ---------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class POSchedule(Record):
    """purchaseOrders lines.schedules (names VERIFIED from live-pod code [S77])."""

    LineLocationId: int
    ScheduleNumber: int
    Quantity: Decimal
    ReceivedQuantity: Decimal = Decimal(0)
    BilledQuantity: Decimal = Decimal(0)
    ReceivedAmount: Decimal = Decimal(0)
    BilledAmount: Decimal = Decimal(0)
    RequestedDeliveryDate: date | None = None
    PromisedDeliveryDate: date | None = None
    DestinationTypeCode: str = "EXPENSE"
    DestinationType: str = "Expense"
    InvoiceMatchOption: str = "Order"
    ShipToLocation: str | None = None
    ScheduleStatus: str = "OPEN"


@dataclass(kw_only=True, slots=True)
class POLine(Record):
    POLineId: int
    LineNumber: int
    LineType: str = "Goods"
    Item: str | None = None
    Description: str | None = None
    Category: str | None = None
    Quantity: Decimal = Decimal(0)
    UOMCode: str = "Ea"
    UOM: str = "Each"
    Price: Decimal = Decimal(0)
    Amount: Decimal = Decimal(0)
    StatusCode: str = "OPEN"
    schedules: list[POSchedule] = field(default_factory=list, metadata=HIDDEN)


@dataclass(kw_only=True, slots=True)
class PurchaseOrder(Stamped):
    """purchaseOrders item; keyed by POHeaderId (reference §3.6, §4.2)."""

    POHeaderId: int
    OrderNumber: str
    StatusCode: str = "OPEN"
    Status: str = "Open"
    SupplierId: int
    Supplier: str
    SupplierSiteId: int | None = None
    SupplierSite: str | None = None
    ProcurementBUId: int
    ProcurementBU: str
    BillToBUId: int | None = None
    BillToBU: str | None = None
    BuyerId: int | None = None
    Buyer: str | None = None
    CurrencyCode: str = "USD"
    Currency: str = "US Dollar"
    Description: str | None = None
    Ordered: Decimal = Decimal(0)
    lines: list[POLine] = field(default_factory=list, metadata=HIDDEN)


# --- receiving ---------------------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class ProcessingError(Record):
    """Line child ``processingErrors`` keyed by InterfaceErrorId (reference §4.3; names INFERRED)."""

    InterfaceErrorId: int
    HeaderInterfaceId: int
    InterfaceTransactionId: int
    ColumnName: str | None = None
    ErrorMessageName: str
    ErrorMessage: str
    TableName: str = "RCV_TRANSACTIONS_INTERFACE"


@dataclass(kw_only=True, slots=True)
class ReceiptRequestLine(Record):
    InterfaceTransactionId: int
    ReceiptSourceCode: str = "VENDOR"
    SourceDocumentCode: str = "PO"
    TransactionType: str = "RECEIVE"
    AutoTransactCode: str | None = "DELIVER"
    OrganizationCode: str | None = None
    DocumentNumber: str | None = None
    DocumentLineNumber: int | None = None
    DocumentShipmentLineNumber: int | None = None
    ItemNumber: str | None = None
    ItemDescription: str | None = None
    Quantity: Decimal | None = None
    UnitOfMeasure: str | None = None
    Amount: Decimal | None = None
    POHeaderId: int | None = None
    POLineId: int | None = None
    POLineLocationId: int | None = None
    ProcessingStatusCode: str = "PENDING"
    processingErrors: list[ProcessingError] = field(default_factory=list, metadata=HIDDEN)


@dataclass(kw_only=True, slots=True)
class ReceiptRequest(Stamped):
    """receivingReceiptRequests header keyed by HeaderInterfaceId (reference §4.3)."""

    HeaderInterfaceId: int
    ReceiptSourceCode: str = "VENDOR"
    OrganizationCode: str | None = None
    VendorName: str | None = None
    VendorNumber: str | None = None
    VendorId: int | None = None
    BusinessUnit: str | None = None
    EmployeeId: int | None = None
    ReceiptNumber: str | None = None
    TransactionDate: datetime | None = None
    ProcessingStatusCode: str = "PENDING"
    InsertAndProcessFlag: bool = True
    lines: list[ReceiptRequestLine] = field(default_factory=list, metadata=HIDDEN)
    gets_seen: int = field(default=0, metadata=HIDDEN)
