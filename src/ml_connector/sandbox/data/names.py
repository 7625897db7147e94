"""Deterministic, realistic names for an HVAC contractor's world.

Everything here is drawn from a caller's ``random.Random``, so one seed gives one world. Lists are
short on purpose: combinations (prefix x core x suffix, first x last name) give enough distinct
values for 100,000 suppliers, and a running number keeps names unique where they must be.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: The 15 service locations: (city, state, zip). Order is stable: it fixes ids and cost centers.
LOCATIONS: tuple[tuple[str, str, str], ...] = (
    ("Dallas", "TX", "75201"),
    ("Fort Worth", "TX", "76102"),
    ("Houston", "TX", "77002"),
    ("Austin", "TX", "78701"),
    ("San Antonio", "TX", "78205"),
    ("Phoenix", "AZ", "85004"),
    ("Tucson", "AZ", "85701"),
    ("Denver", "CO", "80202"),
    ("Atlanta", "GA", "30303"),
    ("Orlando", "FL", "32801"),
    ("Tampa", "FL", "33602"),
    ("Charlotte", "NC", "28202"),
    ("Nashville", "TN", "37203"),
    ("Las Vegas", "NV", "89101"),
    ("Oklahoma City", "OK", "73102"),
)

_SUPPLIER_PREFIX = (
    "Allied",
    "American",
    "Apex",
    "Arctic",
    "Carrier",
    "Coastal",
    "Comfort",
    "Delta",
    "Desert",
    "Eagle",
    "Frontier",
    "Gulf",
    "Heritage",
    "Lone Star",
    "Metro",
    "Mountain",
    "National",
    "Northern",
    "Pacific",
    "Patriot",
    "Pioneer",
    "Premier",
    "Quality",
    "Red River",
    "Southern",
    "Summit",
    "Sun Belt",
    "Superior",
    "Tri-State",
    "United",
    "Valley",
    "Western",
)
_SUPPLIER_CORE = (
    "HVAC",
    "Air",
    "Refrigeration",
    "Sheet Metal",
    "Duct",
    "Climate",
    "Controls",
    "Comfort Parts",
    "Mechanical",
    "Electric",
    "Filter",
    "Compressor",
    "Coil",
    "Thermostat",
    "Chiller",
    "Boiler",
)
_SUPPLIER_SUFFIX = (
    "Supply",
    "Supply Co",
    "Distributors",
    "Wholesale",
    "Parts Inc",
    "Products LLC",
    "Group",
    "Sales",
    "Equipment Co",
    "Industries",
)
_FIRST = (
    "James",
    "Maria",
    "Robert",
    "Linda",
    "Michael",
    "Patricia",
    "David",
    "Jennifer",
    "Carlos",
    "Elizabeth",
    "Daniel",
    "Susan",
    "Jose",
    "Karen",
    "Thomas",
    "Nancy",
    "Kevin",
    "Lisa",
    "Brian",
    "Angela",
    "Luis",
    "Sandra",
    "Mark",
    "Ashley",
    "Steven",
    "Dorothy",
    "Andrew",
    "Kimberly",
    "Juan",
    "Emily",
    "Ryan",
    "Michelle",
    "Gary",
    "Amanda",
    "Eric",
    "Melissa",
    "Tyler",
    "Stephanie",
)
_LAST = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Nguyen",
)
_COMMERCIAL = (
    "Property Management",
    "Dental Group",
    "Medical Plaza",
    "Self Storage",
    "Apartments",
    "Office Park",
    "Church",
    "Elementary School",
    "Restaurant Group",
    "Hotel",
    "Car Wash",
    "Fitness Center",
    "Veterinary Clinic",
    "Retail Center",
    "Data Center",
    "Warehouse LLC",
)
_STREETS = (
    "Main",
    "Oak",
    "Elm",
    "Maple",
    "Cedar",
    "Pine",
    "Walnut",
    "Park",
    "Lake",
    "Hill",
    "Washington",
    "Lincoln",
    "Jefferson",
    "Highland",
    "Sunset",
    "Ridge",
    "Meadow",
    "Willow",
    "Mesquite",
    "Pecan",
    "Magnolia",
    "Commerce",
    "Industrial",
    "Preston",
    "Camelback",
    "Peachtree",
    "Colfax",
)
_STREET_KINDS = ("St", "Ave", "Blvd", "Dr", "Ln", "Rd", "Pkwy", "Way", "Ct")


@dataclass(frozen=True, kw_only=True)
class Address:
    street: str
    city: str
    state: str
    zip: str


def street(rng: random.Random) -> str:
    return f"{rng.randint(100, 9899)} {rng.choice(_STREETS)} {rng.choice(_STREET_KINDS)}"


def address_in(rng: random.Random, location: tuple[str, str, str]) -> Address:
    """A street address in one of :data:`LOCATIONS` (zip varied in its last two digits)."""
    city, state, zip_ = location
    return Address(
        street=street(rng), city=city, state=state, zip=f"{zip_[:3]}{rng.randint(1, 99):02d}"
    )


def person(rng: random.Random) -> tuple[str, str]:
    return rng.choice(_FIRST), rng.choice(_LAST)


def supplier_name(rng: random.Random, serial: int) -> str:
    """A distributor name; past the first few hundred a branch number keeps names unique."""
    base = f"{rng.choice(_SUPPLIER_PREFIX)} {rng.choice(_SUPPLIER_CORE)} {rng.choice(_SUPPLIER_SUFFIX)}"
    return base if serial < 200 else f"{base} #{serial}"


def customer_name(rng: random.Random, serial: int) -> tuple[str, str]:
    """(name, ServiceTitan customer type): two thirds residential, one third commercial."""
    first, last = person(rng)
    if rng.random() < 0.66:
        return f"{first} {last}", "Residential"
    kind = rng.choice(_COMMERCIAL)
    return f"{last} {kind}" if serial < 500 else f"{last} {kind} {serial}", "Commercial"


def slug(name: str) -> str:
    """An e-mail-safe lower-case token for a name."""
    return "".join(ch for ch in name.lower() if ch.isalnum())[:24] or "x"
