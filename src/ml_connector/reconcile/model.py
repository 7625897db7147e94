"""What a reconciliation is made of: the period, a status per record, the rows and their counts.

Values only (no I/O), so the CLI, the dashboard and the demo share them and tests build them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from ml_connector.errors import ConfigError

KINDS = ("invoice", "payment")
_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, kw_only=True)
class Period:
    """A calendar month: ``start`` inclusive, ``end`` exclusive (the first day of the next month)."""

    start: date
    end: date

    @property
    def label(self) -> str:
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = date(year, month, 1)
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return cls(start=start, end=end)

    @classmethod
    def parse(cls, text: str) -> Period:
        """``"2026-11"`` → November 2026; anything else is a :class:`ConfigError` saying why."""
        found = _PERIOD.match(text.strip())
        if found is None:
            raise ConfigError(f"--period {text!r} is not a month: use YYYY-MM, e.g. 2026-11")
        year, month = int(found.group(1)), int(found.group(2))
        if not 1 <= month <= 12 or year < 1:
            raise ConfigError(f"--period {text!r} is not a month: the month must be 01 to 12")
        return cls.month(year, month)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end

    def __str__(self) -> str:
        return self.label


class ReconStatus(StrEnum):
    MATCHED = "matched"
    MISSING = "missing in Fusion"
    MISMATCH = "amount mismatch"
    DUPLICATED = "duplicated"
    ATTENTION = "in attention"
    ONLY_IN_FUSION = "only in Fusion"


#: statuses that make ``reconcile`` exit 1: something differs and nobody is tracking it
PROBLEMS = frozenset(
    {
        ReconStatus.MISSING,
        ReconStatus.MISMATCH,
        ReconStatus.DUPLICATED,
        ReconStatus.ONLY_IN_FUSION,
    }
)


@dataclass(kw_only=True)
class ReconRow:
    """One ServiceTitan record (or one Fusion document no record explains) and its status.

    ``reference`` is the Fusion business key the flows write: ``TransactionNumber`` for an
    invoice, ``ReceiptNumber`` for a payment. Amounts are to the cent; ``fusion_amount`` is the
    sum over ``fusion_ids`` when there are several."""

    kind: str
    status: ReconStatus
    servicetitan_id: str | None
    reference: str
    date: date | None
    servicetitan_amount: Decimal | None
    fusion_ids: list[str] = field(default_factory=list)
    fusion_amount: Decimal | None = None
    detail: str = ""
    attention_id: int | None = None

    @property
    def problem(self) -> bool:
        return self.status in PROBLEMS


@dataclass(kw_only=True)
class Reconciliation:
    connection: str
    period: Period
    rows: list[ReconRow]
    generated_at: datetime

    def counts(self) -> dict[str, dict[str, int]]:
        """kind → status → number of rows; every kind and status present (zeros included)."""
        seen = Counter((r.kind, r.status) for r in self.rows)
        return {kind: {s.value: seen[(kind, s)] for s in ReconStatus} for kind in KINDS}

    @property
    def problems(self) -> list[ReconRow]:
        return [r for r in self.rows if r.problem]

    def totals(self) -> dict[str, dict[str, Decimal]]:
        """kind → side (``servicetitan`` / ``fusion``) → amount over all rows."""
        out: dict[str, dict[str, Decimal]] = {}
        for kind in KINDS:
            rows = [r for r in self.rows if r.kind == kind]
            out[kind] = {
                "servicetitan": sum(
                    (r.servicetitan_amount or Decimal(0) for r in rows), Decimal("0.00")
                ),
                "fusion": sum((r.fusion_amount or Decimal(0) for r in rows), Decimal("0.00")),
            }
        return out
