"""Mapping decisions: what rule was applied and what was looked up, for every field that needed one.

Every mapping function returns its payload together with the decisions it took, and the flow writes
them into the audit trail, so a person can see *why* a vendor got this address or an invoice line
that revenue account.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class MappingDecision:
    rule: str
    detail: str
    source_value: str | None = None
    target_value: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "detail": self.detail,
            "source_value": self.source_value,
            "target_value": self.target_value,
        }


@dataclass(kw_only=True)
class Decisions:
    """An append-only list of decisions taken while mapping one record."""

    items: list[MappingDecision] = field(default_factory=list)

    def add(
        self,
        rule: str,
        detail: str,
        *,
        source: object | None = None,
        target: object | None = None,
    ) -> None:
        self.items.append(
            MappingDecision(
                rule=rule,
                detail=detail,
                source_value=None if source is None else str(source),
                target_value=None if target is None else str(target),
            )
        )

    def as_list(self) -> list[dict[str, Any]]:
        return [d.as_dict() for d in self.items]


@dataclass(frozen=True, kw_only=True)
class Mapped(Generic[T]):
    """A target payload and the decisions that produced it."""

    payload: T
    decisions: tuple[MappingDecision, ...]

    def decision_dicts(self) -> list[dict[str, Any]]:
        return [d.as_dict() for d in self.decisions]


def _canonical(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def version_hash(payload: Any) -> str:
    """A stable hash of a payload: equal payloads (Decimal 1.0 and 1.00 alike) hash equal."""
    text = json.dumps(_canonical(payload), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
