"""The mapping tables a connection owns (``[connections.NAME.mapping]`` in the config file).

ServiceTitan has no GL mapping, so the connector owns the translation from ServiceTitan business
units, item types and payment types to Fusion business units, account combinations, receipt
methods and bank accounts. These tables are validated for shape here and against live Fusion
data by ``ml-connector check`` and before every posting (DESIGN §3.2 rule 3).

Keys that are ServiceTitan ids are written as strings in TOML (``[...business_units."101"]``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BusinessUnitMap(_Model):
    """One ServiceTitan business unit → where its invoices and receipts land in Fusion."""

    fusion_business_unit: str = Field(
        description="Fusion BusinessUnit name, e.g. 'US1 Business Unit'."
    )
    cost_center: str = Field(description="Cost-center segment value used in revenue combinations.")
    transaction_type: str = Field(
        default="Invoice", description="Receivables TransactionType name."
    )
    credit_memo_transaction_type: str = Field(
        default="Credit Memo", description="TransactionType for negative invoices."
    )
    transaction_source: str = Field(default="ServiceTitan", description="TransactionSource name.")
    receivable_account: str | None = Field(
        default=None, description="Full receivable combination; omitted → AutoAccounting."
    )


class PaymentTypeMap(_Model):
    """One ServiceTitan payment type → a Fusion receipt method and remittance bank account."""

    receipt_method: str
    remittance_bank_account: str


class SupplierMapping(_Model):
    procurement_business_units: list[str] = Field(
        default_factory=list,
        description="Only suppliers with a site in one of these procurement BUs are synced.",
    )
    address_purpose: Literal["remit_to", "ordering"] = Field(
        default="remit_to", description="Which supplier address becomes the vendor address."
    )
    address_fallback: bool = Field(
        default=True,
        description="With no active address of that purpose, use the first active address "
        "(false: the supplier goes to attention instead).",
    )
    default_tax_rate: str = Field(default="0", description="Vendor taxRate when none is mapped.")
    delivery_option: str = Field(default="Manual", description="ServiceTitan deliveryOption.")
    payment_terms: dict[str, int] = Field(
        default_factory=dict, description="Fusion PaymentTerms name → ServiceTitan paymentTermId."
    )


class PurchaseOrderMapping(_Model):
    statuses: list[str] = Field(default_factory=lambda: ["OPEN"])
    po_type_id: int | None = Field(default=None, description="ServiceTitan purchase-order type id.")
    business_units: dict[str, int] = Field(
        default_factory=dict,
        description="Fusion ProcurementBU name → ServiceTitan business unit id.",
    )
    inventory_locations: dict[str, int] = Field(
        default_factory=dict, description="Fusion ship-to location → ServiceTitan warehouse id."
    )
    item_sku_prefix: str = Field(
        default="", description="Prefix added to a Fusion item number to form the SKU code."
    )
    receipt_routing: Literal["receive", "deliver"] = Field(
        default="deliver", description="RECEIVE only, or receive and deliver (AutoTransactCode)."
    )
    organization_code: str = Field(default="", description="Fusion inventory OrganizationCode.")


class ReceivablesMapping(_Model):
    currency: str = Field(default="USD")
    transaction_number_prefix: str = Field(default="ST-")
    business_units: dict[str, BusinessUnitMap] = Field(
        default_factory=dict, description="ServiceTitan business unit id → Fusion targets."
    )
    revenue_accounts: dict[str, str] = Field(
        default_factory=dict,
        description="ServiceTitan GL account number or item type → Fusion natural account segment.",
    )
    default_revenue_account: str | None = Field(
        default=None, description="Natural account when no rule matches; omitted → attention."
    )
    tax_account: str | None = Field(
        default=None,
        description="Natural account for sales tax lines; an invoice with tax and none set → attention.",
    )
    account_template: str = Field(
        default="{company}-{cost_center}-{account}-000-000",
        description="How a combination string is built from segments.",
    )
    company: str = Field(default="01", description="Company (balancing) segment.")
    payment_types: dict[str, PaymentTypeMap] = Field(
        default_factory=dict, description="ServiceTitan payment type id → receipt method + bank."
    )
    customer_account_field: str | None = Field(
        default=None,
        description="ServiceTitan customer custom field holding the Fusion account number.",
    )
    customers: dict[str, str] = Field(
        default_factory=dict, description="ServiceTitan customer id → Fusion account number."
    )
    eligible_review_statuses: list[str] = Field(default_factory=lambda: ["Reviewed"])
    eligible_sync_statuses: list[str] = Field(default_factory=lambda: ["Pending", "Posted"])
    negative_invoices: Literal["credit_memo", "attention"] = Field(default="credit_memo")
    validate_payment_terms: bool = Field(
        default=False, description="paymentTermsLOV is inferred, so the check is off by default."
    )
    apply_method: Literal["apply_action", "attention"] = Field(
        default="apply_action",
        description="applyReceipt action (26C+) or leave unapplied and raise attention.",
    )


class MatchingMapping(_Model):
    """``[...mapping.matching]``: how ``ml-connector match`` links records both sides already have."""

    threshold: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description="Similarity (0–1) at which a candidate is proposed; an unreviewed proposal at "
        "or above it stops F1 and F4 from creating or guessing that record.",
    )
    margin: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="A second candidate scoring within this of the best makes a proposal "
        "ambiguous: it is never accepted automatically.",
    )
    customer_account_field: str | None = Field(
        default=None,
        description="ServiceTitan customer custom field holding the Fusion account number "
        "(default: mapping.receivables.customer_account_field).",
    )
    sku_ignore_case: bool = Field(default=True, description="Compare SKU codes without case.")
    sku_ignore_characters: str = Field(
        default=" -_./", description="Characters removed from SKU codes and item numbers."
    )
    sku_prefix: str | None = Field(
        default=None,
        description="Prefix removed from SKU codes before comparing them with item numbers "
        "(default: mapping.purchase_orders.item_sku_prefix).",
    )


class MappingConfig(_Model):
    suppliers: SupplierMapping = Field(default_factory=SupplierMapping)
    purchase_orders: PurchaseOrderMapping = Field(default_factory=PurchaseOrderMapping)
    matching: MatchingMapping = Field(default_factory=MatchingMapping)
    # last: the starter config ends with its customers table, where a person adds a customer
    receivables: ReceivablesMapping = Field(default_factory=ReceivablesMapping)
