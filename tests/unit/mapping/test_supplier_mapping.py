"""Pure F1 mapping: eligibility, address by purpose with or without fallback, contact, terms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ml_connector.errors import NeedsAttentionError
from ml_connector.mapping.config import SupplierMapping
from ml_connector.mapping.decisions import Decisions
from ml_connector.mapping.suppliers import SUPPLIER_KEY, eligibility, map_supplier
from ml_connector.systems.fusion.models import Supplier

TODAY = date(2026, 11, 2)
GUID = "guid-1"


def supplier(**over: Any) -> Supplier:
    data: dict[str, Any] = {
        "SupplierId": 300100000000001,
        "Supplier": "Acme HVAC Supply ",
        "SupplierNumber": "5001",
        "Status": "ACTIVE",
        "LastUpdateDate": "2026-11-01T10:00:00+00:00",
        "addresses": [
            {
                "SupplierAddressId": 1,
                "AddressName": "HQ",
                "AddressLine1": "1 Main St",
                "City": "Dallas",
                "State": "TX",
                "PostalCode": "75201",
                "CountryCode": "US",
                "AddressPurposeOrderingFlag": True,
                "AddressPurposeRemitToFlag": False,
            },
            {
                "SupplierAddressId": 2,
                "AddressName": "Remit",
                "AddressLine1": "PO Box 9",
                "City": "Austin",
                "State": "TX",
                "PostalCode": "73301",
                "AddressPurposeRemitToFlag": True,
            },
        ],
        "sites": [
            {"SupplierSiteId": 11, "ProcurementBU": "HVAC Dallas BU", "PaymentTerms": "Net 30"}
        ],
        "contacts": [
            {"SupplierContactId": 21, "FirstName": "Ann", "LastName": "Lee", "Email": "a@x"},
            {
                "SupplierContactId": 22,
                "FirstName": "Bo",
                "LastName": "Ray",
                "PrimaryAdminContactFlag": True,
            },
        ],
    }
    data.update(over)
    return Supplier.model_validate(data)


MAPPING = SupplierMapping(
    procurement_business_units=["HVAC Dallas BU"],
    payment_terms={"Net 30": 7},
    default_tax_rate="0.0825",
)


def test_maps_every_field_with_a_decision_each() -> None:
    decisions = Decisions()
    vendor = map_supplier(
        supplier(), MAPPING, application_guid=GUID, today=TODAY, decisions=decisions
    )
    assert vendor.name == "Acme HVAC Supply"
    assert vendor.address.street == "PO Box 9"  # remit-to, not the first address
    assert vendor.address.country == "USA"
    assert (vendor.first_name, vendor.last_name) == ("Bo", "Ray")  # the primary contact
    assert vendor.payment_term_id == 7
    assert vendor.tax_rate == Decimal("0.0825")
    assert vendor.memo is not None
    assert "5001" in vendor.memo
    assert vendor.active is True
    assert vendor.external is not None
    assert vendor.external.values == {SUPPLIER_KEY: "300100000000001"}
    assert vendor.external.application_guid == GUID
    rules = {d.rule for d in decisions.items}
    assert rules >= {"address", "active", "contact", "payment_terms", "memo", "external_data"}


def test_ordering_purpose_picks_the_ordering_address() -> None:
    mapping = MAPPING.model_copy(update={"address_purpose": "ordering"})
    vendor = map_supplier(
        supplier(), mapping, application_guid=GUID, today=TODAY, decisions=Decisions()
    )
    assert vendor.address.street == "1 Main St"


def test_no_remit_to_falls_back_or_goes_to_attention() -> None:
    only_ordering = supplier(addresses=[supplier().addresses[0].model_dump()])
    vendor = map_supplier(
        only_ordering, MAPPING, application_guid=GUID, today=TODAY, decisions=Decisions()
    )
    assert vendor.address.street == "1 Main St"
    strict = MAPPING.model_copy(update={"address_fallback": False})
    decisions = Decisions()
    with pytest.raises(NeedsAttentionError) as err:
        map_supplier(only_ordering, strict, application_guid=GUID, today=TODAY, decisions=decisions)
    assert err.value.reason == "supplier_without_remit_to_address"
    assert decisions.items[-1].rule == "address"


def test_inactive_supplier_maps_to_an_inactive_vendor() -> None:
    retired = supplier(Status="INACTIVE", InactiveDate="2026-10-01")
    vendor = map_supplier(
        retired, MAPPING, application_guid=GUID, today=TODAY, decisions=Decisions()
    )
    assert vendor.active is False


def test_eligibility() -> None:
    assert eligibility(supplier(), MAPPING, TODAY, linked=False) is None
    retired = supplier(Status="INACTIVE", InactiveDate="2026-10-01")
    assert eligibility(retired, MAPPING, TODAY, linked=False) is not None
    assert eligibility(retired, MAPPING, TODAY, linked=True) is None  # deactivation propagates
    elsewhere = supplier(sites=[{"SupplierSiteId": 12, "ProcurementBU": "Corporate BU"}])
    assert eligibility(elsewhere, MAPPING, TODAY, linked=False) is not None
    assert eligibility(elsewhere, SupplierMapping(), TODAY, linked=False) is None  # empty = all
    closed_site = supplier(
        sites=[
            {"SupplierSiteId": 13, "ProcurementBU": "HVAC Dallas BU", "InactiveDate": "2026-01-01"}
        ]
    )
    assert eligibility(closed_site, MAPPING, TODAY, linked=False) is not None
