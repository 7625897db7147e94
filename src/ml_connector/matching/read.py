"""Each side's records as match keys: what is read from a supplier, vendor, customer, account
site or SKU, and where each system keeps the identifiers that make a match exact.

* Vendors: a Fusion supplier's number and tax registration (``TaxRegistrationNumber``,
  ``TaxpayerId``) are exact when a ServiceTitan vendor carries one in its ``memo`` or in any
  ``externalData`` value (another integration's, or ours: ``fusion.SupplierId``).
* Customers: a Fusion account number is exact when a ServiceTitan customer carries it in the
  configured custom field or in ``externalData`` (``fusionAccountNumber`` or any value).
* Items: an item number equals a SKU code after the configured SKU normalisation.
"""

from __future__ import annotations

import re
from datetime import date

from ml_connector.mapping.config import MappingConfig, MatchingMapping
from ml_connector.mapping.suppliers import SUPPLIER_KEY
from ml_connector.systems.fusion import models as fusion
from ml_connector.systems.servicetitan import models as st

from . import normalise as n
from .model import Keys

_LABEL = 120  # display names are cut here; they are for people, not for matching


def _label(text: str | None) -> str:
    return (text or "").strip()[:_LABEL]


def _address(supplier: fusion.Supplier, today: date) -> fusion.SupplierAddress | None:
    active = [a for a in supplier.addresses if a.active_on(today)]
    for address in active:
        if address.AddressPurposeRemitToFlag:
            return address
    return active[0] if active else (supplier.addresses[0] if supplier.addresses else None)


def supplier_keys(supplier: fusion.Supplier, today: date) -> Keys:
    address = _address(supplier, today)
    phone = ""
    domain = ""
    if address is not None:
        phone = n.phone_key(f"{address.PhoneAreaCode or ''}{address.PhoneNumber or ''}")
        domain = n.email_domain(address.Email)
    for contact in supplier.contacts:
        phone = phone or n.phone_key(f"{contact.PhoneAreaCode or ''}{contact.PhoneNumber or ''}")
        domain = domain or n.email_domain(contact.Email)
    exact = {
        n.exact_key(v)
        for v in (supplier.SupplierNumber, supplier.TaxRegistrationNumber, supplier.TaxpayerId)
    }
    exact.add("SID" + str(supplier.SupplierId))  # our own externalData mark, if a vendor has it
    exact.discard("")
    return Keys(
        id=str(supplier.SupplierId),
        label=_label(supplier.Supplier),
        name=n.name_key(supplier.Supplier),
        address=n.address_key(address.AddressLine1 if address else None),
        postal=n.postal_key(address.PostalCode if address else None),
        phone=phone,
        domain=domain,
        exact=tuple(sorted(exact)),
    )


def vendor_keys(vendor: st.Vendor) -> Keys:
    exact = n.identifiers_in_text(vendor.memo)
    for item in vendor.externalData:
        if item.key == SUPPLIER_KEY:
            exact.add("SID" + n.exact_key(item.value))
        else:
            exact.update(n.identifiers_in_text(item.value))
    contact = vendor.contactInfo
    address = vendor.address
    return Keys(
        id=str(vendor.id),
        label=_label(vendor.name),
        name=n.name_key(vendor.name),
        address=n.address_key(address.street if address else None),
        postal=n.postal_key(address.zip if address else None),
        phone=n.phone_key(contact.phone if contact else None),
        domain=n.email_domain(contact.email if contact else None),
        exact=tuple(sorted(exact)),
    )


_POSTAL_AT_END = re.compile(r"(\d{5}(?:-\d{4})?|[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d)\s*$")


def site_keys(site: fusion.CustomerAccountSite) -> Keys | None:
    """A Fusion bill-to site as its account's keys (an account with several sites is indexed
    once per site; candidates are merged per account). None without an account number."""
    if not site.AccountNumber:
        return None
    one_line = (site.BillToSiteAddress or "").strip()
    street = one_line.split(",", 1)[0] if "," in one_line else ""
    postal = _POSTAL_AT_END.search(one_line)
    return Keys(
        id=site.AccountNumber,
        label=_label(site.CustomerName),
        name=n.name_key(site.CustomerName),
        address=n.address_key(street),
        postal=n.postal_key(postal.group(1) if postal else None),
        exact=(n.exact_key(site.AccountNumber),),
    )


def customer_field(mapping: MappingConfig) -> str | None:
    return mapping.matching.customer_account_field or mapping.receivables.customer_account_field


def customer_keys(customer: st.Customer, field: str | None) -> Keys:
    exact: set[str] = set()
    if field:
        exact.add(n.exact_key(customer.custom_field(field)))
    for item in customer.externalData:
        exact.add(n.exact_key(item.value))
    exact.discard("")
    address = customer.address
    return Keys(
        id=str(customer.id),
        label=_label(customer.name),
        name=n.name_key(customer.name),
        address=n.address_key(address.street if address else None),
        postal=n.postal_key(address.zip if address else None),
        exact=tuple(sorted(exact)),
    )


def sku_settings(mapping: MappingConfig) -> tuple[MatchingMapping, str]:
    m = mapping.matching
    prefix = m.sku_prefix if m.sku_prefix is not None else mapping.purchase_orders.item_sku_prefix
    return m, prefix


def item_keys(item_number: str, description: str | None, mapping: MappingConfig) -> Keys:
    m, _ = sku_settings(mapping)
    key = n.sku_key(
        item_number, ignore_case=m.sku_ignore_case, ignore_characters=m.sku_ignore_characters
    )
    return Keys(
        id=item_number, label=_label(description or item_number), exact=(key,) if key else ()
    )


def sku_keys(sku: st.Sku, mapping: MappingConfig) -> Keys:
    m, prefix = sku_settings(mapping)
    key = n.sku_key(
        sku.code,
        ignore_case=m.sku_ignore_case,
        ignore_characters=m.sku_ignore_characters,
        prefix=prefix,
    )
    return Keys(id=str(sku.id), label=_label(sku.code), exact=(key,) if key else ())
