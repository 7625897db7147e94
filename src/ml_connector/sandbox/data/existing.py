"""An existing tenant: records both systems had before the connector, typed by hand on each side.

``populate(..., existing_tenant=True)`` adds, on top of the default data set (which it leaves as it
is), ServiceTitan vendors that are Fusion suppliers entered by hand, and ServiceTitan customers
and Fusion customer accounts that are the same customer, each with the drift people leave:
abbreviations, punctuation and case, a moved address, a typo, a missing postal code; some carry an
identifier (the supplier number or tax id in the vendor's memo, the account number in
``externalData``). Decoys look alike but are not the same: two branches of one supplier in
different cities, two different customers with the same name. :class:`ExistingTenant` lists the
true pairs and the decoys, so a test can score ``ml-connector match`` against them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ml_connector.sandbox.fusion import FusionState
from ml_connector.sandbox.servicetitan import STState

from .manifest import DataSet
from .names import LOCATIONS, address_in, street

#: Another integration's ``externalData`` application guid (it keeps the Fusion account number).
OTHER_APP = "5e1f0c3a-0000-4000-8000-00000000a11e"
#: Drift applied to hand-entered vendors, in turn (one supplier each, round robin).
VENDOR_DRIFTS = (
    "abbreviation",
    "punctuation",
    "moved_address",
    "typo",
    "missing_postal_code",
    "supplier_number_in_memo",
    "tax_id_in_memo",
)
CUSTOMER_DRIFTS = (
    "punctuation",
    "typo",
    "missing_postal_code",
    "abbreviated_address",
    "legal_suffix",
    "account_number_in_external_data",
)
#: Long words written short, as people do (every pair is undone by the name rules).
_SHORT = {
    "Distributors": "Dist.",
    "Supply": "Supp.",
    "Mechanical": "Mech.",
    "Electric": "Elec.",
    "Company": "Co.",
    "Products LLC": "Products",
    "Supply Co": "Supply Company",
    "Parts Inc": "Parts, Incorporated",
    "Equipment Co": "Equipment Co., Inc.",
}
_ADDRESS_LONG = {" St": " Street", " Ave": " Avenue", " Blvd": " Boulevard", " Dr": " Drive"}


@dataclass(frozen=True, kw_only=True, slots=True)
class TruePair:
    """``source_id`` → ``target_id`` is what the accepted link must be (link entity ids)."""

    entity: str  # "supplier" (Fusion SupplierId → ST vendor id) or "customer" (ST id → account)
    source_id: str
    target_id: str
    drift: str
    exact: bool  # an identifier makes this pair an exact match


@dataclass(frozen=True, kw_only=True, slots=True)
class Decoy:
    entity: str
    record_id: str  # the look-alike: an ST vendor id or an ST customer id
    resembles: str  # the source id it looks like
    why: str


@dataclass(kw_only=True)
class ExistingTenant:
    pairs: list[TruePair] = field(default_factory=list)
    decoys: list[Decoy] = field(default_factory=list)

    def pairs_of(self, entity: str) -> dict[str, str]:
        return {p.source_id: p.target_id for p in self.pairs if p.entity == entity}


def _typo(rng: random.Random, name: str) -> str:
    """Swap two adjacent letters inside the longest word (never its first letter)."""
    words = name.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    word = words[i]
    if len(word) >= 4:
        j = rng.randrange(1, len(word) - 2)
        word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    words[i] = word
    return " ".join(words)


def _abbreviate(name: str) -> str:
    for long, short in _SHORT.items():
        if long in name:
            return name.replace(long, short, 1)
    return name.replace(" and ", " & ") + " Inc."


def _punctuate(name: str) -> str:
    return name.upper().replace(" ", ", ", 1) if " " in name else name.upper() + "."


def _lengthen(address: str) -> str:
    for short, long in _ADDRESS_LONG.items():
        if address.endswith(short):
            return address[: -len(short)] + long
    return address


class ExistingTenantBuilder:
    def __init__(
        self, fusion: FusionState, st: STState, ds: DataSet, seed: int, *, vendors: int = 14
    ) -> None:
        self.fusion, self.st, self.ds = fusion, st, ds
        self.rng = random.Random(f"{seed}:existing-tenant")
        self.vendors = vendors
        self.out = ExistingTenant()

    def build(self) -> ExistingTenant:
        self._vendors()
        self._customers()
        return self.out

    # --- vendors ---------------------------------------------------------------------------------

    def _vendors(self) -> None:
        eligible = sorted(self.ds.expected.suppliers.eligible)
        chosen = eligible[: min(self.vendors, len(eligible))]
        for n, sup_id in enumerate(chosen):
            drift = VENDOR_DRIFTS[n % len(VENDOR_DRIFTS)]
            vendor_id = self.vendor_like(sup_id, drift)
            self.out.pairs.append(
                TruePair(
                    entity="supplier",
                    source_id=str(sup_id),
                    target_id=str(vendor_id),
                    drift=drift,
                    exact=drift.endswith("_in_memo"),
                )
            )
        # decoys: another branch of a supplier that has a hand-entered vendor, in another city;
        # the first also quotes the supplier number, so that number points at two vendors
        for k, sup_id in enumerate(chosen[5:7]):
            sup = self.fusion.suppliers[sup_id]
            home = sup.addresses[0]
            city, state, zip_ = next(loc for loc in LOCATIONS if loc[0] != home.City)
            addr = address_in(self.rng, (city, state, zip_))
            domain = (home.Email or "x@branch.example").split("@", 1)[1]
            record = self.st.add_vendor(
                f"{sup.Supplier} - {city} Branch",
                memo=f"Fusion supplier {sup.SupplierNumber} ({city} branch)" if k == 0 else "",
                contact={
                    "phone": f"555-{self.rng.randint(200, 999)}-{self.rng.randint(1000, 9999)}",
                    "email": f"{city.lower().replace(' ', '')}@{domain}",
                },
                address_={
                    "street": addr.street,
                    "city": addr.city,
                    "state": addr.state,
                    "zip": addr.zip,
                    "country": "USA",
                },
            )
            self.out.decoys.append(
                Decoy(
                    entity="supplier",
                    record_id=str(record.id),
                    resembles=str(sup_id),
                    why=f"a branch of {sup.Supplier} in {city}"
                    + (" quoting the same supplier number" if k == 0 else ""),
                )
            )

    def vendor_like(self, sup_id: int, drift: str) -> int:
        """A ServiceTitan vendor typed by hand after Fusion supplier ``sup_id``, with ``drift``."""
        sup = self.fusion.suppliers[sup_id]
        home = sup.addresses[0]
        contact = sup.contacts[0] if sup.contacts else None
        name = sup.Supplier
        street_, zip_ = home.AddressLine1 or "", home.PostalCode or ""
        memo = ""
        if drift == "abbreviation":
            name = _abbreviate(name)
        elif drift == "punctuation":
            name = _punctuate(name)
        elif drift == "moved_address":
            street_ = street(self.rng)
            zip_ = f"{zip_[:3]}{(int(zip_[3:] or 0) + 7) % 100:02d}"
        elif drift == "typo":
            name = _typo(self.rng, name)
        elif drift == "missing_postal_code":
            zip_ = ""
            street_ = _lengthen(street_)
        elif drift == "supplier_number_in_memo":
            name = name.lower()
            memo = f"Fusion supplier #{sup.SupplierNumber}"
        elif drift == "tax_id_in_memo":
            name = _abbreviate(name)
            memo = f"EIN {sup.TaxpayerId} - pay by check"
        record = self.st.add_vendor(
            name,
            memo=memo,
            contact={
                "firstName": contact.FirstName or "" if contact else "",
                "lastName": contact.LastName or "" if contact else "",
                "phone": home.PhoneNumber or "",
                "email": home.Email or "",
            },
            address_={
                "street": street_,
                "city": home.City or "",
                "state": home.State or "",
                "zip": zip_,
                "country": "USA",
            },
        )
        return int(record.id)

    # --- customers -------------------------------------------------------------------------------

    def _account(self, name: str, street_: str, loc: tuple[str, str, str], zip_: str) -> str:
        serial = len(self.fusion.accounts)
        number, site_number = f"9{300001 + serial}", f"9{400001 + serial}"
        acct = self.fusion.add_customer_account(name, number=number, Status="A")
        bu = next(b for b in self.ds.business_units if b.city == loc[0])
        self.fusion.add_customer_site(
            acct.AccountId,
            bu.fusion_name,
            name=f"{name} ({loc[0]})",
            number=site_number,
            Address=f"{street_}, {loc[0]} {loc[1]} {zip_}",
        )
        return number

    def _st_customer(
        self,
        name: str,
        street_: str,
        loc: tuple[str, str, str],
        zip_: str,
        external: dict[str, dict[str, str]] | None = None,
    ) -> int:
        record = self.st.add_customer(
            name,
            type_="Residential" if len(name.split()) == 2 else "Commercial",
            address_={
                "street": street_,
                "unit": "",
                "city": loc[0],
                "state": loc[1],
                "zip": zip_,
                "country": "USA",
            },
            external=external,
        )
        return int(record.id)

    def _customers(self) -> None:
        rng = self.rng
        people = [
            "Harold Beaumont",
            "Priscilla Okafor",
            "Desmond Villanueva",
            "Bernadette Castellano",
            "Thaddeus Whitfield",
            "Marguerite Delacroix",
        ]
        businesses = ["Beaumont Dental Group", "Okafor Self Storage", "Castellano Hotel"]
        names = [*people, *businesses]
        for n, name in enumerate(names):
            drift = CUSTOMER_DRIFTS[n % len(CUSTOMER_DRIFTS)]
            loc = LOCATIONS[(n * 4) % len(LOCATIONS)]
            addr = address_in(rng, loc)
            number = self._account(name, addr.street, loc, addr.zip)
            st_name, st_street, st_zip = name, addr.street, addr.zip
            external: dict[str, dict[str, str]] | None = None
            if drift == "punctuation":
                st_name = name.upper().replace(" ", ", ", 1)
            elif drift == "typo":
                st_name = _typo(rng, name)
            elif drift == "missing_postal_code":
                st_zip = ""
            elif drift == "abbreviated_address":
                st_street = _lengthen(addr.street)
            elif drift == "legal_suffix":
                st_name = f"{name}, LLC"
            elif drift == "account_number_in_external_data":
                external = {OTHER_APP: {"fusionAccountNumber": number}}
            st_id = self._st_customer(st_name, st_street, loc, st_zip, external)
            self.out.pairs.append(
                TruePair(
                    entity="customer",
                    source_id=str(st_id),
                    target_id=number,
                    drift=drift,
                    exact=drift == "account_number_in_external_data",
                )
            )
        # decoys: another customer with the same name as a true pair's, elsewhere, and a Fusion
        # account with the same name as a true pair's in another city (two different customers)
        for k, name in enumerate(people[:2]):
            loc = LOCATIONS[(k * 4 + 2) % len(LOCATIONS)]
            addr = address_in(rng, loc)
            st_id = self._st_customer(name, addr.street, loc, addr.zip)
            self.out.decoys.append(
                Decoy(
                    entity="customer",
                    record_id=str(st_id),
                    resembles=name,
                    why=f"another {name}, in {loc[0]}, with no Fusion account",
                )
            )
        loc = LOCATIONS[9]
        addr = address_in(rng, loc)
        number = self._account(people[2], addr.street, loc, addr.zip)
        self.out.decoys.append(
            Decoy(
                entity="customer",
                record_id=number,
                resembles=people[2],
                why=f"a Fusion account of another {people[2]}, in {loc[0]}",
            )
        )


def add_existing_tenant(fusion: FusionState, st: STState, ds: DataSet, seed: int) -> ExistingTenant:
    """Add the hand-entered records and decoys (after the default data set) and say which is which."""
    return ExistingTenantBuilder(fusion, st, ds, seed).build()


def add_lookalike_vendors(
    fusion: FusionState, st: STState, ds: DataSet, seed: int, supplier_ids: list[int]
) -> dict[str, str]:
    """One hand-entered vendor per supplier (drift in turn, as :data:`VENDOR_DRIFTS`): the
    benchmark's other side. Returns Fusion SupplierId → ServiceTitan vendor id."""
    builder = ExistingTenantBuilder(fusion, st, ds, seed)
    return {
        str(sup_id): str(builder.vendor_like(sup_id, VENDOR_DRIFTS[n % len(VENDOR_DRIFTS)]))
        for n, sup_id in enumerate(supplier_ids)
    }
