"""Seeding and changing master data: vendors, business units, customers, jobs, SKUs and lookups.

Each ``add_*`` builds the record in the response shape of the spec (reference §6), filling every
required field with a plausible default, so a seed needs to name only what matters to a test. Extra
keyword arguments are response field names and override the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ml_connector.sandbox.servicetitan.records import Record
from ml_connector.sandbox.servicetitan.state_core import StateCore

ADDRESS_KEYS = ("street", "unit", "city", "state", "zip", "country")
DEFAULT_ADDRESS = {
    "street": "100 Main St",
    "unit": "",
    "city": "Phoenix",
    "state": "AZ",
    "zip": "85001",
    "country": "USA",
}


def address(value: Mapping[str, Any] | None) -> dict[str, Any]:
    src = dict(DEFAULT_ADDRESS if value is None else value)
    return {k: src.get(k) for k in ADDRESS_KEYS}


class MasterDataMixin(StateCore):
    """Adders and generic updates for the resources the flows look up."""

    # -- generic changes ----------------------------------------------------------------------

    def update(
        self, table: str, ident: int, *, active: bool | None = None, **fields: Any
    ) -> Record:
        """Partial update in response field names; bumps ``modifiedOn``. ``KeyError`` if missing."""
        record = self.require(table, ident)
        if active is not None:
            record.active = active
        record.fields.update(fields)
        return self._changed(table, record)

    def set_external(
        self, table: str, ident: int, guid: str, pairs: Mapping[str, str], *, merge: bool = False
    ) -> Record:
        """``externalData`` of one application: ``Replace`` drops keys not sent, ``Merge`` keeps them."""
        record = self.require(table, ident)
        current = dict(record.external.get(guid.lower(), {})) if merge else {}
        current.update(pairs)
        record.external[guid.lower()] = current
        return self._changed(table, record)

    # -- adders -------------------------------------------------------------------------------

    def add_vendor(
        self,
        name: str,
        *,
        active: bool = True,
        tax_rate: Decimal = Decimal("0"),
        restricted_mobile_creation: bool = False,
        is_truck_replenishment: bool = False,
        memo: str = "",
        delivery_option: str = "Manual",
        contact: Mapping[str, str] | None = None,
        address_: Mapping[str, Any] | None = None,
        external: Mapping[str, Mapping[str, str]] | None = None,
        write_only: Mapping[str, Any] | None = None,
    ) -> Record:
        contact = contact or {}
        fields: dict[str, Any] = {
            "name": name,
            "isTruckReplenishment": is_truck_replenishment,
            "isMobileCreationRestricted": restricted_mobile_creation,
            "memo": memo,
            "deliveryOption": delivery_option,
            "defaultTaxRate": Decimal(tax_rate),
            "contactInfo": {
                k: contact.get(k) or "" for k in ("firstName", "lastName", "phone", "email", "fax")
            },
            "address": address(address_),
            "customFields": [],
        }
        ext = {g.lower(): dict(p) for g, p in (external or {}).items()}
        return self._new(
            "vendors", fields, active=active, external=ext, hidden=dict(write_only or {})
        )

    def add_business_unit(self, name: str, *, active: bool = True, **extra: Any) -> Record:
        fields: dict[str, Any] = {
            "name": name,
            "officialName": f"{name} LLC",
            "email": None,
            "currency": "USD",
            "phoneNumber": None,
            "invoiceHeader": None,
            "invoiceMessage": None,
            "defaultTaxRate": Decimal("0.0825"),
            "authorizationParagraph": None,
            "acknowledgementParagraph": None,
            "address": {
                **address(None),
                "latitude": None,
                "longitude": None,
                "isManualCoordinates": False,
                "isMilitary": False,
            },
            "materialSku": None,
            "quickbooksClass": None,
            "accountCode": None,
            "franchiseId": None,
            "conceptCode": None,
            "corporateContractNumber": None,
            "trade": None,
            "division": None,
            "tagTypeIds": [],
            "tenant": None,
            "certifiedSentriconSpecialistCode": None,
            **extra,
        }
        return self._new("business_units", fields, active=active)

    def add_customer(
        self,
        name: str,
        *,
        active: bool = True,
        type_: str = "Commercial",
        address_: Mapping[str, Any] | None = None,
        external: Mapping[str, Mapping[str, str]] | None = None,
        **extra: Any,
    ) -> Record:
        addr = address(address_)
        fields: dict[str, Any] = {
            "name": name,
            "type": type_,
            "address": {
                **{k: addr[k] or "" for k in ADDRESS_KEYS},
                "unit": addr["unit"] or None,
                "latitude": None,
                "longitude": None,
            },
            "customFields": [],
            "balance": Decimal("0"),
            "taxExempt": False,
            "tagTypeIds": [],
            "doNotMail": False,
            "doNotService": False,
            "nationalAccount": False,
            "createdById": 1,
            "mergedToId": None,
            "paymentTermId": None,
            "creditLimit": None,
            "creditLimitBalance": None,
            **extra,
        }
        ext = {g.lower(): dict(p) for g, p in (external or {}).items()}
        return self._new("customers", fields, active=active, external=ext)

    def add_job(
        self,
        *,
        customer_id: int,
        business_unit_id: int,
        job_number: str | None = None,
        job_status: str = "Completed",
        job_type_id: int = 1,
        **extra: Any,
    ) -> Record:
        ident = self.next_id()
        fields: dict[str, Any] = {
            "jobNumber": job_number or str(ident),
            "projectId": None,
            "customerId": customer_id,
            "locationId": customer_id,
            "jobStatus": job_status,
            "completedOn": None,
            "businessUnitId": business_unit_id,
            "jobTypeId": job_type_id,
            "priority": "Normal",
            "campaignId": 1,
            "appointmentCount": 1,
            "firstAppointmentId": 1,
            "lastAppointmentId": 1,
            "recallForId": None,
            "warrantyId": None,
            "jobGeneratedLeadSource": None,
            "noCharge": False,
            "notificationsEnabled": True,
            "createdById": 1,
            "tagTypeIds": [],
            "leadCallId": None,
            "partnerLeadCallId": None,
            "bookingId": None,
            "soldById": None,
            "customerPo": "",
            "invoiceId": 0,
            "membershipId": None,
            "total": None,
            "createdFromEstimateId": None,
            "estimateIds": [],
            "equipmentIds": [],
            "isAutoDispatched": None,
            "summary": None,
            "customFields": [],
            "summaryOfWork": None,
            **extra,
        }
        return self._new("jobs", fields, ident=ident)

    def add_sku(
        self,
        code: str,
        *,
        kind: str = "material",
        description: str = "",
        cost: Decimal = Decimal("0"),
        price: Decimal = Decimal("0"),
        active: bool = True,
        vendor_id: int | None = None,
        **extra: Any,
    ) -> Record:
        """A pricebook material (``kind="material"``) or equipment (``kind="equipment"``)."""
        if kind not in ("material", "equipment"):
            raise ValueError(f"unknown SKU kind {kind!r}")
        vendor = None
        if vendor_id is not None:
            v = self.require("vendors", vendor_id)
            vendor = {
                "id": vendor_id,
                "vendorName": v.fields["name"],
                "vendorId": vendor_id,
                "memo": None,
                "vendorPart": code,
                "cost": Decimal(cost),
                "active": True,
                "primarySubAccount": None,
                "otherSubAccounts": None,
            }
        common: dict[str, Any] = {
            "code": code,
            "displayName": description or code,
            "description": description or code,
            "cost": Decimal(cost),
            "price": Decimal(price),
            "memberPrice": Decimal(price),
            "addOnPrice": Decimal(price),
            "addOnMemberPrice": Decimal(price),
            "hours": Decimal("0"),
            "bonus": Decimal("0"),
            "commissionBonus": Decimal("0"),
            "paysCommission": False,
            "unitOfMeasure": "Each",
            "isInventory": True,
            "account": None,
            "costOfSaleAccount": None,
            "assetAccount": None,
            "primaryVendor": vendor,
            "otherVendors": None,
            "categories": [],
            "assets": [],
            "source": None,
            "externalId": None,
            "displayInAmount": False,
            "generalLedgerAccountId": None,
            "defaultAssetUrl": None,
            "budgetCostCode": None,
            "budgetCostType": None,
            "isCostLocked": None,
            "isPriceLocked": None,
        }
        if kind == "material":
            common.update(
                taxable=True,
                deductAsJobCost=False,
                isConfigurableMaterial=False,
                chargeableByDefault=True,
                variationsOrConfigurableMaterials=None,
                businessUnitId=None,
                createdById=1,
                isOtherDirectCost=False,
                costTypeId=None,
                isChemical=None,
                epaNumber=None,
                activeIngredients=None,
            )
        else:
            warranty = {"duration": 0, "description": None}
            common.update(
                taxable=True,
                manufacturer=None,
                model=None,
                manufacturerWarranty=dict(warranty),
                serviceProviderWarranty=dict(warranty),
                recommendations=[],
                upgrades=[],
                equipmentMaterials=[],
                crossSaleGroup=None,
                isConfigurableEquipment=False,
                variationsOrConfigurableEquipment=None,
                typeId=None,
                dimensions=None,
            )
        common.update(extra)
        table = "materials" if kind == "material" else "equipment"
        return self._new(table, common, active=active)

    def find_sku(self, sku_id: int) -> tuple[str, Record] | None:
        """A SKU by id and its kind (``Material``/``Equipment``), for PO and invoice items."""
        for table, kind in (("materials", "Material"), ("equipment", "Equipment")):
            record = self.tables[table].get(sku_id)
            if record is not None:
                return kind, record
        return None

    def add_po_type(self, name: str, *, active: bool = True, **extra: Any) -> Record:
        fields: dict[str, Any] = {
            "name": name,
            "automaticallyReceive": False,
            "displayToTechnician": True,
            "impactToTechnicianPayroll": False,
            "allowTechniciansToSendPo": False,
            "defaultRequiredDateDaysOffset": 7,
            "skipWeekends": False,
            "excludeTaxFromJobCosting": False,
            "landedCostMethod": "None",
            "includeTaxInFullyLandedCost": False,
            **extra,
        }
        return self._new("purchase_order_types", fields, active=active)

    def add_warehouse(
        self, name: str, *, active: bool = True, address_: Mapping[str, Any] | None = None
    ) -> Record:
        fields: dict[str, Any] = {
            "name": name,
            "address": address(address_),
            "inventoryTemplateId": None,
        }
        return self._new("warehouses", fields, active=active)

    def add_payment_type(self, name: str) -> Record:
        return self._new("payment_types", {"name": name})
