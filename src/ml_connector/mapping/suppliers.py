"""F1 mapping: a Fusion supplier → a ServiceTitan vendor (pure; no I/O).

:func:`eligibility` says whether a supplier is ours to sync at all (skipped records get no
attention: they are not broken, just not in scope); :func:`map_supplier` builds the vendor and the
decisions behind every field, or raises :class:`~ml_connector.errors.NeedsAttentionError` when a
person has to fix the supplier first (no usable address). Decisions are appended to the
:class:`Decisions` passed in, so they reach the audit trail even when mapping fails.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from ml_connector.errors import NeedsAttentionError
from ml_connector.mapping.config import SupplierMapping
from ml_connector.mapping.decisions import Decisions
from ml_connector.systems.fusion.models import (
    Supplier,
    SupplierAddress,
    SupplierContact,
    SupplierSite,
)
from ml_connector.systems.servicetitan.payloads import AddressInput, ExternalDataInput, VendorInput

#: The externalData key that marks a vendor as this Fusion supplier (under our application guid).
SUPPLIER_KEY = "fusion.SupplierId"
#: ServiceTitan spells countries out; Fusion sends ISO codes.
COUNTRIES = {"US": "USA", "CA": "CAN", "MX": "MEX"}


def _active(inactive: date | None, today: date) -> bool:
    return inactive is None or inactive > today


def procurement_sites(
    supplier: Supplier, mapping: SupplierMapping, today: date
) -> list[SupplierSite]:
    """Active sites in the configured procurement business units (all BUs when none configured)."""
    wanted = set(mapping.procurement_business_units)
    return [
        s
        for s in supplier.sites
        if _active(s.InactiveDate, today) and (not wanted or (s.ProcurementBU or "") in wanted)
    ]


def eligibility(
    supplier: Supplier, mapping: SupplierMapping, today: date, *, linked: bool
) -> str | None:
    """None when the supplier is synced; otherwise why it is left alone.

    A linked supplier stays in scope whatever happens to it: deactivation must reach the vendor.
    """
    if linked:
        return None
    if not supplier.active_on(today):
        return f"supplier is inactive ({supplier.Status or 'INACTIVE'}) and was never synced"
    if not procurement_sites(supplier, mapping, today):
        bus = ", ".join(mapping.procurement_business_units) or "any business unit"
        return f"supplier has no active site in the procurement business units ({bus})"
    return None


def _has_purpose(address: SupplierAddress, purpose: str) -> bool:
    flag = (
        address.AddressPurposeRemitToFlag
        if purpose == "remit_to"
        else address.AddressPurposeOrderingFlag
    )
    return bool(flag)


def choose_address(
    supplier: Supplier, mapping: SupplierMapping, today: date, decisions: Decisions
) -> SupplierAddress:
    active = [a for a in supplier.addresses if _active(a.InactiveDate, today)]
    purpose = mapping.address_purpose
    for address in active:
        if _has_purpose(address, purpose):
            decisions.add(
                "address",
                f"first active address with purpose {purpose}",
                source=address.AddressName,
                target=address.AddressLine1,
            )
            return address
    if mapping.address_fallback and active:
        address = active[0]
        decisions.add(
            "address",
            f"no active {purpose} address: fell back to the first active address",
            source=address.AddressName,
            target=address.AddressLine1,
        )
        return address
    decisions.add("address", f"no active {purpose} address", source=supplier.SupplierNumber)
    label = purpose.replace("_", "-")
    raise NeedsAttentionError(
        f"supplier_without_{purpose}_address",
        f"supplier {supplier.SupplierNumber} ({supplier.Supplier}) has no active {label} "
        "address to use as the vendor address",
        suggestion=f"add a {label} address to the supplier in Fusion"
        + ("" if mapping.address_fallback else " (or set suppliers.address_fallback = true)"),
    )


def vendor_address(address: SupplierAddress) -> AddressInput:
    country = (address.CountryCode or "US").upper()
    return AddressInput(
        street=" ".join(p for p in (address.AddressLine1, address.AddressLine3) if p) or "",
        unit=address.AddressLine2 or "",
        city=address.City or "",
        state=address.State or address.Province or "",
        zip=address.PostalCode or "",
        country=COUNTRIES.get(country, country),
    )


def primary_contact(supplier: Supplier, today: date) -> SupplierContact | None:
    active = [c for c in supplier.contacts if _active(c.InactiveDate, today)]
    return next((c for c in active if c.PrimaryAdminContactFlag), active[0] if active else None)


def _phone(area: str | None, number: str | None) -> str | None:
    if not number:
        return None
    return f"{area}-{number}" if area else number


def map_supplier(
    supplier: Supplier,
    mapping: SupplierMapping,
    *,
    application_guid: str,
    today: date,
    decisions: Decisions,
) -> VendorInput:
    """The vendor for ``supplier``; raises NeedsAttentionError when it cannot be built right."""
    address = choose_address(supplier, mapping, today, decisions)
    active = supplier.active_on(today)
    decisions.add(
        "active",
        "Status ACTIVE and no InactiveDate on or before today",
        source=f"{supplier.Status}/{supplier.InactiveDate}",
        target=active,
    )
    contact = primary_contact(supplier, today)
    decisions.add(
        "contact",
        "primary contact"
        if contact and contact.PrimaryAdminContactFlag
        else "first active contact",
        source=contact.SupplierContactId if contact else None,
    )
    try:
        tax_rate = Decimal(mapping.default_tax_rate)
    except InvalidOperation:
        tax_rate = Decimal(0)
    decisions.add("tax_rate", "suppliers.default_tax_rate", target=tax_rate)
    sites = procurement_sites(supplier, mapping, today) or list(supplier.sites)
    term_name = next((s.PaymentTerms for s in sites if s.PaymentTerms), None)
    term_id = mapping.payment_terms.get(term_name) if term_name else None
    decisions.add(
        "payment_terms",
        "suppliers.payment_terms[site PaymentTerms]"
        if term_id is not None
        else "site payment terms not mapped: left unset",
        source=term_name,
        target=term_id,
    )
    decisions.add("delivery_option", "suppliers.delivery_option", target=mapping.delivery_option)
    memo = f"Fusion supplier {supplier.SupplierNumber}"
    decisions.add("memo", "supplier number", source=supplier.SupplierNumber, target=memo)
    decisions.add(
        "external_data",
        f"{SUPPLIER_KEY} under this installation's application guid",
        source=supplier.SupplierId,
    )
    return VendorInput(
        name=supplier.Supplier.strip(),
        address=vendor_address(address),
        active=active,
        tax_rate=tax_rate,
        memo=memo,
        first_name=contact.FirstName if contact else None,
        last_name=contact.LastName if contact else None,
        phone=_phone(
            contact.PhoneAreaCode if contact else None, contact.PhoneNumber if contact else None
        )
        or _phone(address.PhoneAreaCode, address.PhoneNumber),
        email=(contact.Email if contact else None) or address.Email,
        fax=address.FaxNumber,
        delivery_option=mapping.delivery_option,
        payment_term_id=term_id,
        external=ExternalDataInput(
            application_guid=application_guid, values={SUPPLIER_KEY: str(supplier.SupplierId)}
        ),
    )
