"""What a technician sells on one job: the invoice lines of one ServiceTitan invoice.

Every invoice has one service; most add a part or two, some an equipment change-out with its
installation labor. Ordinary invoices never put an item type on a location whose revenue
combination for that type is broken (``company.DISABLED_AT``/``END_DATED_AT``); ``force`` makes an
invoice that does, for the attention cases.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from .catalog import EQUIPMENT, MATERIALS, SERVICE_SKU_BASE, SERVICES
from .company import DISABLED_AT, END_DATED_AT

_FORBIDDEN = {DISABLED_AT, END_DATED_AT}  # (location index, item type)
_INSTALL = len(SERVICES) - 1


@dataclass(frozen=True, kw_only=True, slots=True)
class Line:
    type: str  # ServiceTitan invoice item type: Service, Material or Equipment
    sku_id: int
    description: str
    quantity: Decimal
    price: Decimal
    cost: Decimal = Decimal("0")


def service_line(index: int, quantity: Decimal = Decimal(1)) -> Line:
    svc = SERVICES[index]
    return Line(
        type="Service",
        sku_id=SERVICE_SKU_BASE + index,
        description=svc.description,
        quantity=quantity,
        price=svc.price,
    )


def pick_lines(
    rng: random.Random, sku_ids: Mapping[str, int], bu_index: int, force: str | None = None
) -> list[Line]:
    """Lines for one invoice at location ``bu_index``; ``force`` = an item type it must contain."""
    svc_index = rng.randrange(_INSTALL)  # installation labor only comes with equipment
    hours = rng.randint(1, 3) if SERVICES[svc_index].code == "SVC-LABOR" else 1
    lines = [service_line(svc_index, Decimal(hours))]
    roll = rng.random()
    equipment = force == "Equipment" or (
        force is None and roll < 0.15 and (bu_index, "Equipment") not in _FORBIDDEN
    )
    material = force == "Material" or (
        force is None and roll < 0.75 and (bu_index, "Material") not in _FORBIDDEN
    )
    if equipment:
        unit = EQUIPMENT[rng.randrange(len(EQUIPMENT))]
        lines.append(service_line(_INSTALL))
        lines.append(
            Line(
                type="Equipment",
                sku_id=sku_ids[unit.item_number],
                description=unit.description,
                quantity=Decimal(1),
                price=unit.price,
                cost=unit.cost,
            )
        )
    if material:
        for part in rng.sample(MATERIALS, rng.randint(1, 2)):
            lines.append(
                Line(
                    type="Material",
                    sku_id=sku_ids[part.item_number],
                    description=part.description,
                    quantity=Decimal(rng.choice((1, 1, 2, 4))),
                    price=part.price,
                    cost=part.cost,
                )
            )
    return lines
