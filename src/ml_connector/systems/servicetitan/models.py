"""Typed ServiceTitan resources, as the v2 APIs name them (servicetitan-api.md §6, the OpenAPI specs).

Parse leniently (§11): unknown fields ignored, nearly everything optional, enums as text (they arrive
as names or integers), money to Decimal whether it comes as a string (accounting) or a number
(inventory, CRM). Timestamps are aware UTC.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ml_connector.systems.parsing import IntId, Lenient, LooseStr, Money, UtcDateTime


class ExternalDataItem(Lenient):
    key: str
    value: str


class Address(Lenient):
    street: str | None = None
    unit: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None


class IdName(Lenient):
    id: IntId
    name: LooseStr | None = None


class ContactInfo(Lenient):
    firstName: str | None = None
    lastName: str | None = None
    phone: str | None = None
    email: str | None = None
    fax: str | None = None


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


class Vendor(Lenient):
    id: IntId
    name: str
    active: bool = True
    memo: str | None = None
    deliveryOption: LooseStr | None = None
    defaultTaxRate: Money | None = None
    isTruckReplenishment: bool | None = None
    isMobileCreationRestricted: bool | None = None
    contactInfo: ContactInfo | None = None
    address: Address | None = None
    createdOn: UtcDateTime | None = None
    modifiedOn: UtcDateTime | None = None
    externalData: list[ExternalDataItem] = Field(default_factory=list)

    _lists = field_validator("externalData", mode="before")(_none_to_list)

    def external(self, key: str) -> str | None:
        for item in self.externalData:
            if item.key == key:
                return item.value
        return None


class PurchaseOrderItem(Lenient):
    id: IntId
    skuId: IntId | None = None
    skuCode: str | None = None
    skuName: str | None = None
    skuType: LooseStr | None = None
    description: str | None = None
    vendorPartNumber: str | None = None
    quantity: Money | None = None
    quantityReceived: Money | None = None
    cost: Money | None = None
    total: Money | None = None
    status: LooseStr | None = None
    createdOn: UtcDateTime | None = None
    modifiedOn: UtcDateTime | None = None


class PurchaseOrder(Lenient):
    id: IntId
    number: str
    status: LooseStr
    typeId: IntId | None = None
    vendorId: IntId | None = None
    businessUnitId: IntId | None = None
    inventoryLocationId: IntId | None = None
    jobId: IntId | None = None
    summary: str | None = None
    vendorDocumentNumber: str | None = None
    date: UtcDateTime | None = None
    requiredOn: UtcDateTime | None = None
    sentOn: UtcDateTime | None = None
    receivedOn: UtcDateTime | None = None
    total: Money | None = None
    tax: Money | None = None
    shipping: Money | None = None
    shipTo: Address | None = None
    createdOn: UtcDateTime | None = None
    modifiedOn: UtcDateTime | None = None
    items: list[PurchaseOrderItem] = Field(default_factory=list)

    _lists = field_validator("items", mode="before")(_none_to_list)


class ReceiptItem(Lenient):
    id: IntId
    skuId: IntId | None = None
    code: str | None = None
    name: str | None = None
    description: str | None = None
    quantity: Money | None = None
    cost: Money | None = None
    purchaseOrderItemId: IntId | None = None


class Receipt(Lenient):
    id: IntId
    active: bool = True
    number: str | None = None
    vendorInvoiceNumber: str | None = None
    memo: str | None = None
    purchaseOrderId: IntId | None = None
    vendorId: IntId | None = None
    businessUnitId: IntId | None = None
    inventoryLocationId: IntId | None = None
    receiptAmount: Money | None = None
    taxAmount: Money | None = None
    shippingAmount: Money | None = None
    receivedOn: UtcDateTime | None = None
    createdOn: UtcDateTime | None = None
    modifiedOn: UtcDateTime | None = None
    syncStatus: LooseStr | None = None
    items: list[ReceiptItem] = Field(default_factory=list)

    _lists = field_validator("items", mode="before")(_none_to_list)


class GLAccount(Lenient):
    id: IntId | None = None
    name: str | None = None
    number: str | None = None
    type: LooseStr | None = None
    detailType: LooseStr | None = None


class InvoiceItem(Lenient):
    id: IntId
    description: str | None = None
    quantity: Money | None = None
    cost: Money | None = None
    totalCost: Money | None = None
    price: Money | None = None
    total: Money | None = None
    type: LooseStr | None = None
    skuId: IntId | None = None
    skuName: str | None = None
    taxable: bool | None = None
    order: int | None = None
    generalLedgerAccount: GLAccount | None = None
    businessUnit: IdName | None = None
    modifiedOn: UtcDateTime | None = None


class BatchRef(Lenient):
    id: IntId | None = None
    number: LooseStr | None = None
    name: str | None = None


class JobRef(Lenient):
    id: IntId
    number: str | None = None
    type: str | None = None


class CustomField(Lenient):
    name: str | None = None
    value: Any = None
    typeId: IntId | None = None


class Invoice(Lenient):
    id: IntId
    syncStatus: LooseStr | None = None
    referenceNumber: str | None = None
    invoiceDate: UtcDateTime | None = None
    dueDate: UtcDateTime | None = None
    subTotal: Money | None = None
    salesTax: Money | None = None
    total: Money | None = None
    balance: Money | None = None
    invoiceType: IdName | None = None
    customer: IdName | None = None
    location: IdName | None = None
    businessUnit: IdName | None = None
    customerAddress: Address | None = None
    termName: str | None = None
    batch: BatchRef | None = None
    job: JobRef | None = None
    summary: str | None = None
    reviewStatus: LooseStr | None = None
    sentStatus: LooseStr | None = None
    active: bool = True
    adjustmentToId: IntId | None = None
    invoiceConfiguration: LooseStr | None = None
    createdOn: UtcDateTime | None = None
    modifiedOn: UtcDateTime | None = None
    items: list[InvoiceItem] = Field(default_factory=list)
    customFields: list[CustomField] = Field(default_factory=list)

    _lists = field_validator("items", "customFields", mode="before")(_none_to_list)


class PaymentApplication(Lenient):
    appliedId: IntId | None = None
    appliedTo: IntId
    appliedAmount: Money
    appliedOn: UtcDateTime | None = None
    appliedBy: str | None = None
    appliedToReferenceNumber: str | None = None


class Payment(Lenient):
    id: IntId
    active: bool = True
    syncStatus: LooseStr | None = None
    referenceNumber: str | None = None
    date: UtcDateTime | None = None
    type: str | None = None
    typeId: LooseStr | None = None
    total: Money | None = None
    unappliedAmount: Money | None = None
    memo: str | None = None
    checkNumber: str | None = None
    authCode: str | None = None
    refundedPaymentId: IntId | None = None
    customer: IdName | None = None
    businessUnit: IdName | None = None
    batch: BatchRef | None = None
    createdOn: UtcDateTime | None = None
    modifiedOn: UtcDateTime | None = None
    appliedTo: list[PaymentApplication] = Field(default_factory=list)

    _lists = field_validator("appliedTo", mode="before")(_none_to_list)


class Customer(Lenient):
    id: IntId
    name: str
    active: bool = True
    type: LooseStr | None = None
    address: Address | None = None
    balance: Money | None = None
    customFields: list[CustomField] = Field(default_factory=list)
    externalData: list[ExternalDataItem] = Field(default_factory=list)
    mergedToId: IntId | None = None
    createdOn: UtcDateTime | None = None
    modifiedOn: UtcDateTime | None = None

    _lists = field_validator("customFields", "externalData", mode="before")(_none_to_list)

    def custom_field(self, name: str) -> str | None:
        for field in self.customFields:
            if field.name == name and field.value not in (None, ""):
                return str(field.value)
        return None

    def external(self, key: str) -> str | None:
        for item in self.externalData:
            if item.key == key:
                return item.value
        return None


class BusinessUnit(Lenient):
    id: IntId
    name: str
    active: bool = True
    officialName: str | None = None
    currency: str | None = None
    modifiedOn: UtcDateTime | None = None


class PaymentType(Lenient):
    id: IntId
    name: str
    modifiedOn: UtcDateTime | None = None


class Sku(Lenient):
    """A pricebook material or equipment (``skuType`` says which)."""

    id: IntId
    code: str
    displayName: str | None = None
    description: str | None = None
    active: bool = True
    cost: Money | None = None
    price: Money | None = None
    skuType: str = "Material"


class Job(Lenient):
    id: IntId
    jobNumber: str | None = None
    customerId: IntId | None = None
    businessUnitId: IntId | None = None
    jobStatus: LooseStr | None = None
    modifiedOn: UtcDateTime | None = None


class Page(Lenient):
    page: int
    pageSize: int
    hasMore: bool
    totalCount: int | None = None
    data: list[dict[str, Any]]


class ExportPage(Lenient):
    hasMore: bool
    continueFrom: str | None = None
    data: list[dict[str, Any]]


class MarkExportedResult(Lenient):
    invoiceId: IntId
    success: bool
    errorMessage: str | None = None


class PurchaseOrderType(Lenient):
    id: IntId
    name: str
    active: bool = True
    automaticallyReceive: bool | None = None
    modifiedOn: UtcDateTime | None = None


class Warehouse(Lenient):
    id: IntId
    name: str
    active: bool = True
    address: Address | None = None
    modifiedOn: UtcDateTime | None = None


class ModificationResult(Lenient):
    """What creates and updates answer: ``{"id": n}`` (reference §3)."""

    id: IntId
