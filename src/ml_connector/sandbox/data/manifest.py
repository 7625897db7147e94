"""The manifest ``populate`` returns: what was created and what the connector should do with it.

Tests, the demo and the soak test compare the simulators' final state with ``DataSet.expected``:
per flow, which source records must reach the target (``eligible``, with the values they must
arrive with), which must land in the attention queue (``attention``, with a :class:`Reason`), and
which the connector must leave alone (``skipped``: not eligible by the mapping's rules, no attention).

Ids are the *source* system's ids: Fusion ``SupplierId``/``POHeaderId`` for F1/F2, ServiceTitan
invoice and payment ids for F4/F5. Money is ``Decimal`` rounded to the cent, as both APIs show it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from .existing import ExistingTenant

# Broken kinds: every one is created at least once at any scale (DESIGN §5 "Sandbox layout").
INACTIVE_SUPPLIER = "inactive_supplier"
SUPPLIER_WITHOUT_SITE = "supplier_without_procurement_site"
SUPPLIER_WITHOUT_REMIT_TO = "supplier_without_remit_to_address"
PO_UNMAPPED_ITEM = "po_line_unmapped_item"
PO_STATUS_NOT_SYNCED = "po_status_not_synced"
UNMAPPED_CUSTOMER = "unmapped_customer"
INACTIVE_ACCOUNT = "inactive_customer_account"
NO_BILL_TO_SITE = "no_bill_to_site_in_business_unit"
DISABLED_COMBINATION = "disabled_gl_combination"
END_DATED_COMBINATION = "end_dated_gl_combination"
NEGATIVE_INVOICE = "negative_adjustment_invoice"
INVOICE_NEEDS_REVIEW = "invoice_needs_review"
INVOICE_EXPORTED = "invoice_already_exported"
PAYMENT_INVOICE_NOT_ELIGIBLE = "payment_invoice_not_eligible"
REFUND_PAYMENT = "refund_payment"
SPLIT_PAYMENT = "payment_applied_to_two_invoices"
PARTIAL_PAYMENT = "partial_payment"

BROKEN_KINDS: tuple[str, ...] = (
    INACTIVE_SUPPLIER,
    SUPPLIER_WITHOUT_SITE,
    SUPPLIER_WITHOUT_REMIT_TO,
    PO_UNMAPPED_ITEM,
    PO_STATUS_NOT_SYNCED,
    UNMAPPED_CUSTOMER,
    INACTIVE_ACCOUNT,
    NO_BILL_TO_SITE,
    DISABLED_COMBINATION,
    END_DATED_COMBINATION,
    NEGATIVE_INVOICE,
    INVOICE_NEEDS_REVIEW,
    INVOICE_EXPORTED,
    PAYMENT_INVOICE_NOT_ELIGIBLE,
    REFUND_PAYMENT,
    SPLIT_PAYMENT,
    PARTIAL_PAYMENT,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Reason:
    """Why a record is not posted as-is: a stable ``kind`` (one of the constants above) and a
    sentence a person can act on."""

    kind: str
    message: str


@dataclass(frozen=True, kw_only=True, slots=True)
class SupplierExpectation:
    supplier_id: int
    number: str
    name: str
    sites: tuple[str, ...]  # "ProcurementBU/SupplierSite" of the sites in the procurement BUs


@dataclass(frozen=True, kw_only=True, slots=True)
class POLineExpectation:
    line_number: int
    sku_code: str
    quantity: Decimal
    price: Decimal


@dataclass(frozen=True, kw_only=True, slots=True)
class POExpectation:
    po_header_id: int
    order_number: str
    supplier_id: int
    business_unit_id: int  # ServiceTitan business unit id
    warehouse_id: int  # ServiceTitan inventory location id
    lines: tuple[POLineExpectation, ...]
    total: Decimal


@dataclass(frozen=True, kw_only=True, slots=True)
class InvoiceExpectation:
    invoice_id: int
    reference_number: str
    customer_id: int
    account_number: str
    business_unit: str  # Fusion BusinessUnit name
    bill_to_site: str  # Fusion bill-to SiteNumber in that business unit
    transaction_type: str  # "Invoice", or "Credit Memo" for a negative invoice
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    combinations: tuple[str, ...]  # revenue combinations the lines post to (all enabled)


@dataclass(frozen=True, kw_only=True, slots=True)
class PaymentExpectation:
    payment_id: int
    total: Decimal
    receipt_method: str
    bank_account: str
    business_unit: str  # Fusion BusinessUnit of the receipt
    account_number: str
    applications: tuple[tuple[int, Decimal], ...]  # (ServiceTitan invoice id, amount applied)


T = TypeVar("T")


@dataclass(kw_only=True)
class Outcomes(Generic[T]):
    """Expected outcome of one flow, keyed by source id (every id is in exactly one of the three)."""

    eligible: dict[int, T] = field(default_factory=dict)
    attention: dict[int, Reason] = field(default_factory=dict)
    skipped: dict[int, Reason] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.eligible) + len(self.attention) + len(self.skipped)

    def by_kind(self) -> dict[str, list[int]]:
        """Attention and skipped ids grouped by reason kind."""
        out: dict[str, list[int]] = defaultdict(list)
        for table in (self.attention, self.skipped):
            for ident, reason in table.items():
                out[reason.kind].append(ident)
        return dict(out)


@dataclass(kw_only=True)
class Expected:
    suppliers: Outcomes[SupplierExpectation] = field(default_factory=Outcomes)
    purchase_orders: Outcomes[POExpectation] = field(default_factory=Outcomes)
    invoices: Outcomes[InvoiceExpectation] = field(default_factory=Outcomes)
    payments: Outcomes[PaymentExpectation] = field(default_factory=Outcomes)


@dataclass(frozen=True, kw_only=True, slots=True)
class BusinessUnitInfo:
    """One service location on both sides."""

    city: str
    st_id: int
    st_name: str  # "HVAC Service - Dallas"
    fusion_id: int
    fusion_name: str  # "HVAC Dallas BU"
    cost_center: str
    warehouse_id: int  # ServiceTitan warehouse of the location
    ship_to_location: str  # Fusion ship-to location of the location's POs


@dataclass(frozen=True, kw_only=True, slots=True)
class PaymentTypeInfo:
    st_id: int
    name: str
    receipt_method: str
    bank_account: str


@dataclass(kw_only=True)
class DataSet:
    """What :func:`~ml_connector.sandbox.data.populate` created. Filled while generating (records
    stream into the states; only ids and expectations are kept here), read-only afterwards."""

    seed: int
    scale: float
    as_of: datetime  # the states' clock when generation started; business dates precede it
    business_units: tuple[BusinessUnitInfo, ...] = ()
    procurement_business_units: tuple[str, ...] = ()
    corporate_business_unit: str = ""  # a Fusion BU outside the mapping
    payment_types: tuple[PaymentTypeInfo, ...] = ()
    payment_terms: dict[str, int] = field(default_factory=dict)  # Fusion term → ST paymentTermId
    po_type_id: int = 0
    organization_code: str = ""
    customer_account_field: str = ""
    company: str = "01"
    revenue_accounts: dict[str, str] = field(default_factory=dict)  # item type → natural account
    broken_combinations: dict[str, Reason] = field(default_factory=dict)
    sku_ids: dict[str, int] = field(default_factory=dict)  # SKU code (= Fusion item) → ST id
    unmapped_item: str = ""
    #: Vendors the tenant had before the connector, linked to no Fusion supplier: F1 leaves them be.
    st_only_vendors: tuple[int, ...] = ()
    expected: Expected = field(default_factory=Expected)
    #: With ``existing_tenant``: the hand-entered look-alikes, their true pairs and the decoys.
    existing: ExistingTenant | None = None
    #: Broken or special kind (``BROKEN_KINDS``) → source ids that carry it. Eligible records can
    #: be special too (a partial payment, a negative invoice posted as a credit memo).
    kinds: dict[str, list[int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def mark(self, kind: str, ident: int) -> None:
        """Record that source record ``ident`` carries broken or special ``kind``."""
        self.kinds.setdefault(kind, []).append(ident)

    def summary(self) -> list[str]:
        """Human-readable lines for ``ml-connector sandbox`` and the demo."""
        lines = [
            f"seed {self.seed}, scale {self.scale:g}: "
            + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in self.counts.items())
        ]
        flows = (
            ("F1 suppliers", self.expected.suppliers),
            ("F2 purchase orders", self.expected.purchase_orders),
            ("F4 invoices", self.expected.invoices),
            ("F5 payments", self.expected.payments),
        )
        for label, outcome in flows:
            lines.append(
                f"{label}: {len(outcome.eligible)} to sync, {len(outcome.attention)} for "
                f"attention, {len(outcome.skipped)} to skip"
            )
        return lines

    def business_unit(self, st_id: int) -> BusinessUnitInfo:
        return next(b for b in self.business_units if b.st_id == st_id)
