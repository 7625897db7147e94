"""A deterministic minimal data set: a starting point for tests and for the full data generator.

Names are stable so tests can refer to them (``SEED`` documents them). It holds at least one of each broken
kind the connector must catch before posting: a disabled, an end-dated and a non-postable account
combination, an inactive customer account, a customer without a site in one business unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .state import FusionState


@dataclass(frozen=True, kw_only=True)
class MinimalSeed:
    business_units: tuple[str, ...] = ("HVAC West BU", "HVAC East BU", "HVAC Central BU")
    transaction_source: str = "ServiceTitan"  # manual numbering: TransactionNumber required
    auto_source: str = "Manual-NES"  # automatic numbering
    transaction_type: str = "Invoice"
    receipt_method: str = "Check"
    revenue: str = "01-100-4000-0000-000"
    receivable: str = "01-100-1200-0000-000"
    freight: str = "01-100-4100-0000-000"
    tax: str = "01-100-2200-0000-000"
    disabled: str = "01-999-4000-0000-000"
    end_dated: str = "01-998-4000-0000-000"
    not_postable: str = "01-T00-4000-0000-000"
    customer: str = "10001"  # active, bill-to sites in West and East
    inactive_customer: str = "10003"
    po_number: str = "1001"


SEED = MinimalSeed()


def seed_minimal(state: FusionState) -> MinimalSeed:
    """Fill an empty ``state``; returns the names it used (the same every time)."""
    bus = [state.add_business_unit(name) for name in SEED.business_units]
    west, east, _central = bus
    state.add_currency("USD", "US Dollar")
    state.add_currency("CAD", "Canadian Dollar")
    state.add_currency("XEU", "Retired Currency", EnabledFlag="N")
    state.add_payment_term("Immediate", 0)
    state.add_payment_term("30 Net", 30)
    state.add_payment_term("45 Net", 45)
    state.add_transaction_type(SEED.transaction_type, Description="Standard invoice")
    state.add_transaction_type("Credit Memo", TransactionTypeClass="CM")
    state.add_transaction_source(SEED.transaction_source, Description="Imported from ServiceTitan")
    state.add_transaction_source(SEED.auto_source, AutomaticNumbering="Y")
    state.add_receipt_method(SEED.receipt_method, RemittanceBankAccountNumber="1000012345")
    state.add_receipt_method("Credit Card", ReceiptClass="Automatic")
    state.add_receipt_method("ACH", ReceiptClass="Automatic")
    for combo, account_type in (
        (SEED.revenue, "R"),
        (SEED.receivable, "A"),
        (SEED.freight, "R"),
        (SEED.tax, "L"),
    ):
        state.add_account_combination(combo.split("-"), AccountType=account_type)
    state.add_account_combination(SEED.disabled.split("-"), EnabledFlag="N")
    state.add_account_combination(SEED.end_dated.split("-"), EndDateActive=date(2025, 12, 31))
    state.add_account_combination(
        SEED.not_postable.split("-"), DetailPostingAllowedFlag="N", SummaryFlag="Y"
    )

    acme = state.add_customer_account("Acme Property Management", number=SEED.customer)
    state.add_customer_site(
        acme.AccountId, west.BusinessUnitName, name="Acme Phoenix", Address="1 Main St, Phoenix AZ"
    )
    state.add_customer_site(
        acme.AccountId, east.BusinessUnitName, name="Acme Atlanta", Address="9 Peach St, Atlanta GA"
    )
    jones = state.add_customer_account("Jones Residence", number="10002")
    state.add_customer_site(
        jones.AccountId, west.BusinessUnitName, name="Jones Home", Address="5 Elm St, Tempe AZ"
    )
    old = state.add_customer_account("Closed Diner LLC", number=SEED.inactive_customer, Status="I")
    state.add_customer_site(
        old.AccountId, west.BusinessUnitName, name="Diner", Address="7 Oak St, Mesa AZ"
    )

    cool = state.add_supplier("Cool Parts Supply", number="5001", TaxpayerId="12-3456789")
    state.add_supplier_address(
        cool.SupplierId,
        "HQ",
        AddressLine1="100 Industrial Way",
        City="Phoenix",
        State="AZ",
        PostalCode="85001",
    )
    state.add_supplier_site(
        cool.SupplierId, "PHX-MAIN", west.BusinessUnitId, SupplierAddressName="HQ"
    )
    state.add_supplier_contact(
        cool.SupplierId, FirstName="Dana", LastName="Ruiz", Email="dana@coolparts.example"
    )
    duct = state.add_supplier("Ductwork Direct", number="5002")
    state.add_supplier_site(duct.SupplierId, "ATL-1", east.BusinessUnitId)
    state.add_supplier(
        "Old Vendor Inc", number="5003", Status="INACTIVE", InactiveDate=date(2025, 6, 30)
    )

    state.add_purchase_order(
        cool.SupplierId,
        west.BusinessUnitId,
        [
            {
                "Item": "CMP-3T",
                "Description": "3-ton compressor",
                "Quantity": 4,
                "Price": "812.50",
                "RequestedDeliveryDate": date(2026, 11, 10),
            },
            {
                "Item": "FLT-20",
                "Description": "20x25 filter",
                "Quantity": 50,
                "Price": "6.25",
                "RequestedDeliveryDate": date(2026, 11, 12),
            },
        ],
        number=SEED.po_number,
        Description="Compressors and filters",
    )
    state.add_purchase_order(
        duct.SupplierId,
        east.BusinessUnitId,
        [{"Item": "DCT-8", "Description": "8in flex duct", "Quantity": 20, "Price": "14.00"}],
        number="1002",
    )
    return SEED
