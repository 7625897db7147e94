"""The company's setup on both sides: business units, ledgers' combinations, AR setup, pricebook.

This is the part of the data set the mapping points at, so it is built first and recorded in the
:class:`DataSet`. Two combinations are broken on purpose (one disabled, one end-dated); the
generator keeps ordinary invoices off them so only the invoices made to hit them go to attention.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ml_connector.sandbox.fusion import FusionState
from ml_connector.sandbox.servicetitan import STState

from .catalog import PARTS, UNMAPPED_ITEM
from .manifest import (
    DISABLED_COMBINATION,
    END_DATED_COMBINATION,
    BusinessUnitInfo,
    DataSet,
    PaymentTypeInfo,
    Reason,
)
from .names import LOCATIONS

COMPANY = "01"
#: Item type → natural account segment (revenue).
REVENUE_ACCOUNTS = {"Service": "4000", "Material": "4100", "Equipment": "4200"}
RECEIVABLE_ACCOUNT = "1200"
TAX_ACCOUNT = "2200"
CUSTOMER_ACCOUNT_FIELD = "Fusion Account"
CUSTOMER_FIELD_TYPE_ID = 5001
ORGANIZATION_CODE = "HV1"
CORPORATE_BU = "HVAC Corporate Shared Services BU"
#: Which location's combination is broken, and for which item type (index into LOCATIONS).
DISABLED_AT = (13, "Equipment")  # Las Vegas: equipment revenue combination disabled
END_DATED_AT = (14, "Material")  # Oklahoma City: material revenue combination end-dated
#: (ServiceTitan payment type, Fusion receipt method, remittance bank account)
PAYMENT_TYPES = (
    ("Check", "Check", "1000012345"),
    ("Credit Card", "Credit Card", "1000012346"),
    ("ACH", "ACH", "1000012347"),
    ("Cash", "Cash", "1000012345"),
)
#: Fusion payment terms (name, due days) and the ServiceTitan paymentTermId each maps to.
PAYMENT_TERMS = (("Immediate", 0, 1), ("30 Net", 30, 2), ("45 Net", 45, 3))


def cost_center(index: int) -> str:
    return str(110 + 10 * index)


def combination(cc: str, account: str) -> str:
    return f"{COMPANY}-{cc}-{account}-000-000"


def build_company(fusion: FusionState, st: STState, ds: DataSet) -> None:
    """Create the shared setup in both states and record it in ``ds``."""
    _fusion_ar_setup(fusion)
    _combinations(fusion, ds)
    bus: list[BusinessUnitInfo] = []
    for index, (city, state_code, zip_) in enumerate(LOCATIONS):
        fbu = fusion.add_business_unit(f"HVAC {city} BU")
        addr = {"street": f"{200 + index} Commerce Dr", "unit": "", "city": city}
        addr.update({"state": state_code, "zip": zip_, "country": "USA"})
        st_bu = st.add_business_unit(
            f"HVAC Service - {city}",
            officialName=f"Comfort Air of {city} LLC",
            phoneNumber=f"555-{100 + index:03d}-0100",
            address={
                **addr,
                "latitude": None,
                "longitude": None,
                "isManualCoordinates": False,
                "isMilitary": False,
            },
        )
        warehouse = st.add_warehouse(f"{city} Warehouse", address_=addr)
        bus.append(
            BusinessUnitInfo(
                city=city,
                st_id=st_bu.id,
                st_name=st_bu.fields["name"],
                fusion_id=fbu.BusinessUnitId,
                fusion_name=fbu.BusinessUnitName,
                cost_center=cost_center(index),
                warehouse_id=warehouse.id,
                ship_to_location=f"{city} Warehouse",
            )
        )
    fusion.add_business_unit(CORPORATE_BU)
    ds.business_units = tuple(bus)
    ds.procurement_business_units = tuple(b.fusion_name for b in bus)
    ds.corporate_business_unit = CORPORATE_BU
    ds.payment_types = tuple(
        PaymentTypeInfo(
            st_id=st.add_payment_type(name).id, name=name, receipt_method=method, bank_account=bank
        )
        for name, method, bank in PAYMENT_TYPES
    )
    ds.payment_terms = {name: st_id for name, _days, st_id in PAYMENT_TERMS}
    ds.po_type_id = st.add_po_type("Standard").id
    st.add_po_type("Drop Ship")
    ds.organization_code = ORGANIZATION_CODE
    ds.customer_account_field = CUSTOMER_ACCOUNT_FIELD
    ds.company = COMPANY
    ds.revenue_accounts = dict(REVENUE_ACCOUNTS)
    ds.unmapped_item = UNMAPPED_ITEM.item_number
    ds.st_only_vendors = tuple(
        st.add_vendor(
            name,
            memo="Local purchases; not a Fusion supplier",
            address_={
                "street": street,
                "unit": "",
                "city": city,
                "state": state_code,
                "zip": zip_,
                "country": "USA",
            },
        ).id
        for name, street, (city, state_code, zip_) in (
            ("Counter Sales - Dallas Hardware", "4410 Maple Ave", LOCATIONS[0]),
            ("Petty Cash Vendor", "200 Commerce Dr", LOCATIONS[0]),
            ("Phoenix Sheet Metal Shop", "1820 W Buckeye Rd", LOCATIONS[5]),
        )
    )
    for part in PARTS:
        sku = st.add_sku(
            part.item_number,
            kind=part.kind,
            description=part.description,
            cost=part.cost,
            price=part.price,
        )
        ds.sku_ids[part.item_number] = sku.id


def _fusion_ar_setup(fusion: FusionState) -> None:
    fusion.add_currency("USD", "US Dollar")
    fusion.add_currency("CAD", "Canadian Dollar")
    for name, days, _st_id in PAYMENT_TERMS:
        fusion.add_payment_term(name, days)
    fusion.add_transaction_type("Invoice", Description="Standard invoice")
    fusion.add_transaction_type("Credit Memo", TransactionTypeClass="CM")
    fusion.add_transaction_source("ServiceTitan", Description="Imported from ServiceTitan")
    for _name, method, bank in PAYMENT_TYPES:
        fusion.add_receipt_method(method, RemittanceBankAccountNumber=bank)


def _combinations(fusion: FusionState, ds: DataSet) -> None:
    """Revenue, tax and receivable combinations for every cost center, two of them broken."""
    today = fusion.today()
    broken = {
        combination(cost_center(DISABLED_AT[0]), REVENUE_ACCOUNTS[DISABLED_AT[1]]): Reason(
            kind=DISABLED_COMBINATION,
            message="revenue combination is disabled in Fusion (EnabledFlag N)",
        ),
        combination(cost_center(END_DATED_AT[0]), REVENUE_ACCOUNTS[END_DATED_AT[1]]): Reason(
            kind=END_DATED_COMBINATION,
            message="revenue combination is end-dated in Fusion",
        ),
    }
    fusion.add_account_combination(
        combination("000", RECEIVABLE_ACCOUNT).split("-"), AccountType="A"
    )
    for index in range(len(LOCATIONS)):
        cc = cost_center(index)
        for account in REVENUE_ACCOUNTS.values():
            combo = combination(cc, account)
            reason = broken.get(combo)
            attrs: dict[str, Any] = {"AccountType": "R"}
            if reason is not None and reason.kind == DISABLED_COMBINATION:
                attrs["EnabledFlag"] = "N"
            elif reason is not None:
                attrs["EndDateActive"] = today - timedelta(days=45)
            fusion.add_account_combination(combo.split("-"), **attrs)
        fusion.add_account_combination(combination(cc, TAX_ACCOUNT).split("-"), AccountType="L")
    ds.broken_combinations = broken
