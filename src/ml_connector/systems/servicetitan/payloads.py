"""Typed inputs for ServiceTitan writes and the request bodies built from them.

Request names are not response names (servicetitan-api.md §6.1, §6.2, §11): a vendor is written
with ``taxRate``, ``restrictedMobileCreation`` and flat ``firstName``/``email``… and read back as
``defaultTaxRate``, ``isMobileCreationRestricted`` and ``contactInfo``; a PO is written with
``memo`` and read back as ``summary``. ServiceTitan drops unknown fields silently, so a wrong name
looks like success: the builders here are the one place those names are spelled, and the contract
test validates every body against the spec's request schemas.

Amounts are :class:`~decimal.Decimal` and go out as JSON numbers (:func:`.session.encode`);
datetimes must be aware and go out as ``YYYY-MM-DDTHH:MM:SSZ``. Optional fields left ``None`` are
omitted, so a PATCH changes only what was given (except PO ``items``, which replace the set).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ml_connector.clock import ensure_aware

CANCEL_REASONS = ("NotRequired", "Duplicate", "Accidental", "VendorIssue", "Other", "JobCanceled")
SYNC_STATUSES = ("Pending", "Posted", "Exported")


@dataclass(frozen=True, kw_only=True)
class AddressInput:
    """``AddressRequest``: every part is required by the spec, so blanks are sent as ``""``."""

    street: str
    city: str
    state: str
    zip: str
    country: str = "USA"
    unit: str = ""

    def to_request(self) -> dict[str, str]:
        return {
            "street": self.street,
            "unit": self.unit,
            "city": self.city,
            "state": self.state,
            "zip": self.zip,
            "country": self.country,
        }


@dataclass(frozen=True, kw_only=True)
class ExternalDataInput:
    """Our marks on a record: key/value pairs under this installation's application guid."""

    application_guid: str
    values: Mapping[str, str]
    #: On updates: ``Merge`` replaces only the keys sent; ``Replace`` drops the others.
    patch_mode: str | None = None

    def to_request(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "applicationGuid": self.application_guid,
            "externalData": [{"key": k, "value": v} for k, v in self.values.items()],
        }
        if self.patch_mode is not None:
            body["patchMode"] = self.patch_mode
        return body


@dataclass(frozen=True, kw_only=True)
class VendorInput:
    """A vendor as F1 writes it (``CreateVendorRequest``; the same fields PATCH an existing one)."""

    name: str
    address: AddressInput
    active: bool = True
    tax_rate: Decimal = Decimal("0")
    restricted_mobile_creation: bool = False
    is_truck_replenishment: bool = False
    memo: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    email: str | None = None
    fax: str | None = None
    delivery_option: str | None = None
    payment_term_id: int | None = None
    remittance_vendor_id: int | None = None
    external: ExternalDataInput | None = None


def vendor_request(vendor: VendorInput, *, update: bool = False) -> dict[str, Any]:
    """The body of ``POST /vendors`` or, with ``update``, ``PATCH /vendors/{id}``.

    On update the external data is merged, so keys other installations or people set survive.
    """
    body: dict[str, Any] = {
        "name": vendor.name,
        "active": vendor.active,
        "isTruckReplenishment": vendor.is_truck_replenishment,
        "taxRate": vendor.tax_rate,
        "restrictedMobileCreation": vendor.restricted_mobile_creation,
        "address": vendor.address.to_request(),
    }
    optional = {
        "memo": vendor.memo,
        "firstName": vendor.first_name,
        "lastName": vendor.last_name,
        "phone": vendor.phone,
        "email": vendor.email,
        "fax": vendor.fax,
        "deliveryOption": vendor.delivery_option,
        "paymentTermId": vendor.payment_term_id,
        "remittanceVendorId": vendor.remittance_vendor_id,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if vendor.external is not None:
        external = vendor.external
        if update and external.patch_mode is None:
            external = ExternalDataInput(
                application_guid=external.application_guid,
                values=external.values,
                patch_mode="Merge",
            )
        body["externalData"] = external.to_request()
    return body


@dataclass(frozen=True, kw_only=True)
class PurchaseOrderItemInput:
    """A PO line. ``id`` is set on update for lines that already exist in ServiceTitan."""

    sku_id: int
    description: str
    vendor_part_number: str
    quantity: Decimal
    cost: Decimal
    id: int | None = None
    budget_code_id: int | None = None

    def to_request(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "skuId": self.sku_id,
            "description": self.description,
            "vendorPartNumber": self.vendor_part_number,
            "quantity": self.quantity,
            "cost": self.cost,
        }
        if self.id is not None:
            body = {"id": self.id, **body}
        if self.budget_code_id is not None:
            body["budgetCodeId"] = self.budget_code_id
        return body


@dataclass(frozen=True, kw_only=True)
class PurchaseOrderInput:
    """A PO as F2 writes it. ``memo`` carries the Fusion order number (read back as ``summary``),
    which is how a PO whose create answer was lost is found again (DESIGN §3.2 rule 2)."""

    vendor_id: int
    type_id: int
    business_unit_id: int
    inventory_location_id: int
    ship_to: AddressInput
    ship_to_description: str
    date: datetime
    required_on: datetime
    items: tuple[PurchaseOrderItemInput, ...]
    tax: Decimal = Decimal("0")
    shipping: Decimal = Decimal("0")
    impacts_technician_payroll: bool = False
    memo: str | None = None
    vendor_invoice_number: str | None = None
    job_id: int | None = None
    technician_id: int | None = None
    project_id: int | None = None
    budget_code_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def purchase_order_request(order: PurchaseOrderInput, *, update: bool = False) -> dict[str, Any]:
    """The body of ``POST /purchase-orders`` or, with ``update``, ``PATCH /purchase-orders/{id}``.

    On PATCH ``items`` **replaces** the set: every active line missing from it is deactivated, so
    send every line to keep. ``UpdatePurchaseOrderItemRequest`` requires each line's ``id``; how
    the API adds a new line on update is not documented, so a line without an id is refused here
    rather than sent with a guessed id (the flow decides: new PO, or attention).
    """
    if update:
        missing = [item.sku_id for item in order.items if item.id is None]
        if missing:
            raise ValueError(
                "a purchase order update needs the id of every line (UpdatePurchaseOrderItemRequest); "
                f"lines for SKUs {missing} have none"
            )
    body: dict[str, Any] = {
        "vendorId": order.vendor_id,
        "typeId": order.type_id,
        "businessUnitId": order.business_unit_id,
        "inventoryLocationId": order.inventory_location_id,
        "shipTo": {"description": order.ship_to_description, "address": order.ship_to.to_request()},
        "impactsTechnicianPayroll": order.impacts_technician_payroll,
        "date": ensure_aware(order.date),
        "requiredOn": ensure_aware(order.required_on),
        "tax": order.tax,
        "shipping": order.shipping,
        "items": [item.to_request() for item in order.items],
    }
    optional = {
        "memo": order.memo,
        "vendorInvoiceNumber": order.vendor_invoice_number,
        "jobId": order.job_id,
        "technicianId": order.technician_id,
        "projectId": order.project_id,
        "budgetCodeId": order.budget_code_id,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    body.update(order.extra)
    return body


def cancel_request(reason: str) -> dict[str, str]:
    if reason not in CANCEL_REASONS:
        raise ValueError(f"cancel reason {reason!r} is not one of {', '.join(CANCEL_REASONS)}")
    return {"canceledReason": reason}


@dataclass(frozen=True, kw_only=True)
class MarkExported:
    """One entry of ``POST /invoices/markasexported``."""

    invoice_id: int
    external_id: str | None = None
    external_message: str | None = None

    def to_request(self) -> dict[str, Any]:
        body: dict[str, Any] = {"invoiceId": self.invoice_id}
        if self.external_id is not None:
            body["externalId"] = self.external_id
        if self.external_message is not None:
            body["externalMessage"] = self.external_message
        return body


def payment_status_request(payment_ids: list[int], status: str) -> dict[str, Any]:
    if status not in SYNC_STATUSES:
        raise ValueError(f"payment status {status!r} is not one of {', '.join(SYNC_STATUSES)}")
    return {"paymentIds": list(payment_ids), "status": status}
