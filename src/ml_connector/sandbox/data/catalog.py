"""The parts catalog both systems share, and the services the technicians sell.

A Fusion item number is the ServiceTitan pricebook SKU code (plus the mapping's prefix, empty in the
sandbox), which is how a Fusion PO line finds its SKU (F2). :data:`UNMAPPED_ITEM` exists in Fusion
only, so a PO line that orders it has no SKU and goes to attention.

Services have no pricebook table in the simulator; invoice lines of type ``Service`` carry a
stable synthetic ``skuId`` from :data:`SERVICE_SKU_BASE` on.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, kw_only=True)
class Part:
    item_number: str
    description: str
    kind: str  # "material" or "equipment" (the ServiceTitan pricebook table)
    cost: Decimal
    price: Decimal

    @property
    def line_type(self) -> str:
        """The ServiceTitan invoice item ``type`` of this part."""
        return "Equipment" if self.kind == "equipment" else "Material"


@dataclass(frozen=True, kw_only=True)
class Service:
    code: str
    description: str
    price: Decimal


def _part(number: str, description: str, kind: str, cost: str, price: str) -> Part:
    return Part(
        item_number=number,
        description=description,
        kind=kind,
        cost=Decimal(cost),
        price=Decimal(price),
    )


PARTS: tuple[Part, ...] = (
    _part("FLT-16251", "Pleated filter 16x25x1 MERV 8", "material", "4.10", "18.00"),
    _part("FLT-20251", "Pleated filter 20x25x1 MERV 11", "material", "6.25", "24.00"),
    _part("FLT-20254", "Media filter 20x25x4 MERV 13", "material", "21.40", "69.00"),
    _part("CAP-4505", "Run capacitor 45/5 MFD 440V", "material", "11.25", "65.00"),
    _part("CAP-3505", "Run capacitor 35/5 MFD 440V", "material", "9.80", "59.00"),
    _part("CON-30A2P", "Contactor 30A 2-pole 24V coil", "material", "14.60", "89.00"),
    _part("MTR-CF14", "Condenser fan motor 1/4 HP 1075 RPM", "material", "78.00", "289.00"),
    _part("MTR-BL12", "Blower motor 1/2 HP ECM", "material", "212.00", "649.00"),
    _part("IGN-HSI41", "Hot surface igniter 41-410", "material", "18.90", "119.00"),
    _part("FLM-SNS1", "Flame sensor universal", "material", "6.75", "79.00"),
    _part("TXV-R410-3", "TXV R-410A 3 ton", "material", "64.00", "329.00"),
    _part("REF-R410-25", "Refrigerant R-410A 25 lb cylinder", "material", "189.00", "0.00"),
    _part("REF-R454B-20", "Refrigerant R-454B 20 lb cylinder", "material", "245.00", "0.00"),
    _part("TST-T6PRO", "Programmable thermostat T6 Pro", "material", "71.00", "249.00"),
    _part("TST-WIFI", "Wi-Fi smart thermostat", "material", "138.00", "399.00"),
    _part("DCT-FLX6", "Insulated flex duct 6in x 25ft", "material", "32.00", "95.00"),
    _part("DCT-FLX8", "Insulated flex duct 8in x 25ft", "material", "41.00", "119.00"),
    _part("CDP-PUMP", "Condensate pump 115V", "material", "46.00", "189.00"),
    _part("LSET-3878", "Line set 3/8 x 7/8 x 25ft", "material", "118.00", "349.00"),
    _part("DSC-60A", "Disconnect 60A non-fused", "material", "12.50", "69.00"),
    _part("PAD-3636", "Equipment pad 36x36", "material", "22.00", "79.00"),
    _part("AC-2T-16S", "Condenser 2 ton 16 SEER2", "equipment", "1480.00", "3650.00"),
    _part("AC-3T-16S", "Condenser 3 ton 16 SEER2", "equipment", "1850.00", "4200.00"),
    _part("AC-4T-16S", "Condenser 4 ton 16 SEER2", "equipment", "2240.00", "4980.00"),
    _part("HP-3T-18S", "Heat pump 3 ton 18 SEER2", "equipment", "2690.00", "6150.00"),
    _part("FUR-80K-96", "Gas furnace 80k BTU 96% AFUE", "equipment", "1320.00", "3390.00"),
    _part("FUR-100K-96", "Gas furnace 100k BTU 96% AFUE", "equipment", "1460.00", "3690.00"),
    _part("AH-3T-VS", "Air handler 3 ton variable speed", "equipment", "1190.00", "2890.00"),
    _part("COIL-3T-C", "Evaporator coil 3 ton cased", "equipment", "540.00", "1390.00"),
    _part("MS-12K-1Z", "Ductless mini-split 12k single zone", "equipment", "980.00", "2790.00"),
)

#: A Fusion item with no ServiceTitan SKU: a PO line ordering it cannot be mapped (F2 attention).
UNMAPPED_ITEM = _part("ZN-DMPR-08", "Zone damper 8in motorized", "material", "88.00", "0.00")

SERVICE_SKU_BASE = 900001

#: The last service is the installation labor that comes with every equipment line.

SERVICES: tuple[Service, ...] = (
    Service(code="SVC-DIAG", description="Diagnostic service call", price=Decimal("89.00")),
    Service(code="SVC-TUNE-AC", description="AC tune-up", price=Decimal("129.00")),
    Service(code="SVC-TUNE-HT", description="Furnace tune-up", price=Decimal("119.00")),
    Service(code="SVC-LABOR", description="Repair labor (per hour)", price=Decimal("145.00")),
    Service(code="SVC-AFTERHRS", description="After-hours premium", price=Decimal("150.00")),
    Service(code="SVC-DUCTCLN", description="Duct cleaning", price=Decimal("399.00")),
    Service(code="SVC-INSTALL", description="System installation labor", price=Decimal("1200.00")),
)

MATERIALS: tuple[Part, ...] = tuple(p for p in PARTS if p.kind == "material" and p.price > 0)
EQUIPMENT: tuple[Part, ...] = tuple(p for p in PARTS if p.kind == "equipment")
