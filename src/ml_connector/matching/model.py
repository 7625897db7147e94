"""What matching keeps of a record, and what it proposes.

:class:`Keys` is all that is held of a record while matching (never its payload), so memory grows
with the number of records times a few short strings. A :class:`Proposal` is one source record's
best candidate, the runners-up a person may pick instead, and the evidence for each.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Entity(enum.StrEnum):
    """What is matched. The value is the link entity the flows use (``links.entity``)."""

    VENDORS = "supplier"  # Fusion supplier (source) → ServiceTitan vendor (target); F1
    CUSTOMERS = "customer"  # ServiceTitan customer (source) → Fusion customer account; F4/F5
    ITEMS = "item"  # Fusion item number (source) → ServiceTitan SKU; F2

    @property
    def label(self) -> str:
        return {"supplier": "vendors", "customer": "customers", "item": "items"}[self.value]

    @classmethod
    def from_label(cls, label: str) -> Entity:
        for entity in cls:
            if label in (entity.label, entity.value):
                return entity
        raise ValueError(f"unknown entity {label!r}: use vendors, customers or items")

    @property
    def systems(self) -> tuple[str, str]:
        """(source system, target system) of the link an accepted proposal becomes."""
        if self is Entity.CUSTOMERS:
            return "servicetitan", "fusion"
        return "fusion", "servicetitan"


class ProposalState(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Kind(enum.StrEnum):
    EXACT = "exact"  # an identifier agreed (supplier number, tax id, account number, SKU code)
    SIMILAR = "similar"  # normalised keys agreed well enough


@dataclass(slots=True, kw_only=True)
class Keys:
    """One record's normalised match keys (see :mod:`.normalise`); empty string = not known."""

    id: str
    label: str
    name: str = ""
    address: str = ""
    postal: str = ""
    phone: str = ""
    domain: str = ""
    exact: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    target_id: str
    target_label: str
    score: float
    kind: Kind
    similarity: float  # of the normalised keys alone (an exact candidate scores 1 whatever it is)
    agreed: tuple[str, ...]
    differed: tuple[str, ...]
    missing: tuple[str, ...]

    def evidence(self) -> dict[str, Any]:
        return {
            "agreed": list(self.agreed),
            "differed": list(self.differed),
            "missing": list(self.missing),
        }

    def brief(self) -> dict[str, Any]:
        return {
            "target_id": self.target_id,
            "target_label": self.target_label,
            "score": round(self.score, 3),
            "kind": self.kind.value,
            **self.evidence(),
        }


@dataclass(slots=True, kw_only=True)
class Proposal:
    """A source record's best candidate, with the others within reach.

    ``ambiguous`` is set when a second candidate scores within the margin of the best, when an
    identifier points at more than one record, or (after the run) when another source record
    chose the same target: such a proposal is never accepted automatically.
    """

    entity: Entity
    source_id: str
    source_label: str
    best: Candidate
    others: list[Candidate] = field(default_factory=list)
    ambiguous: bool = False
    why_ambiguous: str = ""

    @property
    def candidates(self) -> list[Candidate]:
        return [self.best, *self.others]
