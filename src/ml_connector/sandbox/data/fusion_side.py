"""Fusion procurement data for F1 and F2: suppliers with addresses, sites, contacts, and POs.

ServiceTitan starts with no vendors and no POs: creating them is the connector's job. Records are
added one at a time straight into the state (streaming), and only ids and expectations are kept.

Broken kinds made here: an inactive supplier, a supplier whose only site is in a BU outside the
mapping, a supplier with no remit-to address, a PO line ordering an item with no SKU, and POs in
statuses the mapping does not sync.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ml_connector.sandbox.fusion import FusionState

from . import manifest as m
from .catalog import PARTS, UNMAPPED_ITEM, Part
from .company import PAYMENT_TERMS
from .manifest import DataSet, POExpectation, POLineExpectation, Reason, SupplierExpectation
from .names import LOCATIONS, address_in, person, slug, supplier_name
from .plan import Plan

#: PO statuses the mapping leaves alone (``purchase_orders.statuses`` is ``["OPEN"]``).
UNSYNCED_STATUSES = (
    ("CLOSED", "Closed"),
    ("CANCELED", "Canceled"),
    ("INCOMPLETE", "Incomplete"),
    ("PENDING APPROVAL", "Pending Approval"),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Site:
    bu_index: int
    site_id: int
    name: str


class ProcurementBuilder:
    def __init__(self, fusion: FusionState, ds: DataSet, plan: Plan, seed: int) -> None:
        self.fusion = fusion
        self.ds = ds
        self.plan = plan
        self.rng = random.Random(f"{seed}:procurement")
        self.today = fusion.today()
        self.suppliers_made = 0
        self.pos_made = 0
        self.good: list[tuple[int, tuple[_Site, ...]]] = []  # eligible suppliers and their sites
        self.names: set[str] = set()

    # --- suppliers -------------------------------------------------------------------------------

    def build(self) -> None:
        expected = self.ds.expected.suppliers
        for _ in range(self.plan.suppliers):
            sup_id, sites, name, number = self._supplier()
            self.good.append((sup_id, sites))
            expected.eligible[sup_id] = SupplierExpectation(
                supplier_id=sup_id,
                number=number,
                name=name,
                sites=tuple(
                    f"{self.ds.business_units[s.bu_index].fusion_name}/{s.name}" for s in sites
                ),
            )
        for _ in range(self.plan.broken_each):
            self._broken_suppliers()
        self._purchase_orders()

    def _supplier(
        self, *, remit_to: bool = True, corporate_only: bool = False, **attrs: Any
    ) -> tuple[int, tuple[_Site, ...], str, str]:
        rng = self.rng
        serial = self.suppliers_made
        self.suppliers_made += 1
        name = supplier_name(rng, serial)
        if name in self.names:  # Fusion supplier names are unique
            name = f"{name} #{serial}"
        self.names.add(name)
        domain = f"{slug(name)}.example"
        number = str(5001 + serial)
        sup = self.fusion.add_supplier(
            name,
            number=number,
            TaxpayerId=f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}",
            CorporateWebsite=f"https://www.{domain}",
            **attrs,
        )
        home = rng.randrange(len(LOCATIONS))
        addr = address_in(rng, LOCATIONS[home])
        self.fusion.add_supplier_address(
            sup.SupplierId,
            "HQ",
            AddressLine1=addr.street,
            City=addr.city,
            State=addr.state,
            PostalCode=addr.zip,
            Email=f"orders@{domain}",
            PhoneNumber=f"555-{rng.randint(200, 999)}-{rng.randint(1000, 9999)}",
            AddressPurposeRemitToFlag=remit_to,
        )
        first, last = person(rng)
        self.fusion.add_supplier_contact(
            sup.SupplierId,
            FirstName=first,
            LastName=last,
            Email=f"{first.lower()}.{last.lower()}@{domain}",
        )
        term_name, _days, _ = rng.choice(PAYMENT_TERMS)
        term = self.fusion.payment_term_named(term_name)
        sites: list[_Site] = []
        if corporate_only:
            corp = self.fusion.business_unit_named(self.ds.corporate_business_unit)
            assert corp is not None
            self.fusion.add_supplier_site(
                sup.SupplierId, "CORP-MAIN", corp.BusinessUnitId, SupplierAddressName="HQ"
            )
        else:
            indexes = {home} | ({rng.randrange(len(LOCATIONS))} if rng.random() < 0.3 else set())
            for index in sorted(indexes):
                bu = self.ds.business_units[index]
                site_name = f"{bu.city[:3].upper()}-{'MAIN' if index == home else 'BRANCH'}"
                site = self.fusion.add_supplier_site(
                    sup.SupplierId,
                    site_name,
                    bu.fusion_id,
                    SupplierAddressName="HQ",
                    PaymentTerms=term_name,
                    PaymentTermsId=term.TermId if term else None,
                )
                sites.append(_Site(bu_index=index, site_id=site.SupplierSiteId, name=site_name))
        return sup.SupplierId, tuple(sites), name, number

    def _broken_suppliers(self) -> None:
        ds, skipped = self.ds, self.ds.expected.suppliers.skipped
        inactive_on = self.today - timedelta(days=60)
        sup_id, *_ = self._supplier(Status="INACTIVE", InactiveDate=inactive_on)
        skipped[sup_id] = Reason(
            kind=m.INACTIVE_SUPPLIER, message=f"supplier is inactive since {inactive_on}"
        )
        ds.mark(m.INACTIVE_SUPPLIER, sup_id)
        sup_id, *_ = self._supplier(corporate_only=True)
        skipped[sup_id] = Reason(
            kind=m.SUPPLIER_WITHOUT_SITE,
            message=f"supplier has no site in the procurement BUs (only in {ds.corporate_business_unit})",
        )
        ds.mark(m.SUPPLIER_WITHOUT_SITE, sup_id)
        sup_id, *_ = self._supplier(remit_to=False)
        ds.expected.suppliers.attention[sup_id] = Reason(
            kind=m.SUPPLIER_WITHOUT_REMIT_TO,
            message="supplier has no remit-to address to use as the vendor address",
        )
        ds.mark(m.SUPPLIER_WITHOUT_REMIT_TO, sup_id)

    # --- purchase orders -------------------------------------------------------------------------

    def _purchase_orders(self) -> None:
        outcomes = self.ds.expected.purchase_orders
        for _ in range(self.plan.purchase_orders):
            sup_id, site, parts = self._pick_order()
            po_id, expectation = self._po(sup_id, site, parts)
            outcomes.eligible[po_id] = expectation
        for _ in range(self.plan.broken_each):
            sup_id, site, parts = self._pick_order()
            po_id, _ = self._po(sup_id, site, [*parts, (UNMAPPED_ITEM, Decimal(2))])
            outcomes.attention[po_id] = Reason(
                kind=m.PO_UNMAPPED_ITEM,
                message=f"item {UNMAPPED_ITEM.item_number} has no ServiceTitan SKU",
            )
            self.ds.mark(m.PO_UNMAPPED_ITEM, po_id)
            for code, label in UNSYNCED_STATUSES:
                sup_id, site, parts = self._pick_order()
                po_id, _ = self._po(sup_id, site, parts, StatusCode=code, Status=label)
                outcomes.skipped[po_id] = Reason(
                    kind=m.PO_STATUS_NOT_SYNCED, message=f"PO status {code} is not synced"
                )
                self.ds.mark(m.PO_STATUS_NOT_SYNCED, po_id)

    def _pick_order(self) -> tuple[int, _Site, list[tuple[Part, Decimal]]]:
        rng = self.rng
        sup_id, sites = self.good[rng.randrange(len(self.good))]
        site = sites[rng.randrange(len(sites))]
        parts = rng.sample(PARTS, rng.randint(1, 4))
        return sup_id, site, [(p, Decimal(rng.choice((1, 2, 4, 6, 10, 12, 24)))) for p in parts]

    def _po(
        self, sup_id: int, site: _Site, parts: list[tuple[Part, Decimal]], **attrs: Any
    ) -> tuple[int, POExpectation]:
        bu = self.ds.business_units[site.bu_index]
        need_by = self.today + timedelta(days=self.rng.randint(3, 21))
        lines = [_po_line(part, qty, need_by, bu.ship_to_location) for part, qty in parts]
        self.pos_made += 1
        po = self.fusion.add_purchase_order(
            sup_id,
            bu.fusion_id,
            lines,
            number=str(100000 + self.pos_made),
            SupplierSiteId=site.site_id,
            SupplierSite=site.name,
            Description=f"Stock replenishment {bu.city}",
            Buyer="Jordan Blake",
            **attrs,
        )
        expectation = POExpectation(
            po_header_id=po.POHeaderId,
            order_number=po.OrderNumber,
            supplier_id=sup_id,
            business_unit_id=bu.st_id,
            warehouse_id=bu.warehouse_id,
            lines=tuple(
                POLineExpectation(
                    line_number=n, sku_code=part.item_number, quantity=qty, price=part.cost
                )
                for n, (part, qty) in enumerate(parts, start=1)
            ),
            total=po.Ordered,
        )
        return po.POHeaderId, expectation


def _po_line(part: Part, qty: Decimal, need_by: date, ship_to: str) -> dict[str, Any]:
    return {
        "Item": part.item_number,
        "Description": part.description,
        "Category": "HVAC Equipment" if part.kind == "equipment" else "HVAC Parts",
        "Quantity": qty,
        "Price": part.cost,
        "RequestedDeliveryDate": need_by,
        "schedule": {"ShipToLocation": ship_to},
    }
