"""Typed records and tables with an export index.

A :class:`Record` keeps the bookkeeping every resource shares (id, active, createdOn, modifiedOn,
externalData per application) as typed attributes and the rest of the resource in ``fields``, already
named as the API returns it. Internal-only values (write-only request fields, PO item flags) live in
``hidden`` and never reach the wire.

A :class:`Table` keeps records by id (insertion order = id order, so the default list order costs
nothing) plus a sorted key list of ``(modifiedOn, id)`` maintained with ``bisect``: an export page is
a binary search and a slice, never a re-sort, which keeps 200,000 invoices cheap.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ml_connector.sandbox.servicetitan.timefmt import format_dt, number

ExportKey = tuple[datetime, int]


@dataclass(kw_only=True)
class Record:
    """One resource instance. Mutable on purpose: the state changes it in place and re-indexes."""

    id: int
    created_on: datetime
    modified_on: datetime
    active: bool = True
    fields: dict[str, Any] = field(default_factory=dict)
    external: dict[str, dict[str, str]] = field(default_factory=dict)
    hidden: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> ExportKey:
        return (self.modified_on, self.id)

    def external_pairs(self) -> list[dict[str, str]]:
        return [
            {"key": k, "value": v} for pairs in self.external.values() for k, v in pairs.items()
        ]


_PLAIN = (str, int, bool, float, type(None))


def to_wire(value: Any) -> Any:
    """Decimals become JSON numbers and datetimes ServiceTitan's 7-digit ``Z`` strings."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, datetime):
        return format_dt(value)
    return value


class Table:
    """Records of one resource type."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._rows: dict[int, Record] = {}
        self._index: list[ExportKey] = []

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Record]:
        return iter(self._rows.values())

    def get(self, ident: int) -> Record | None:
        return self._rows.get(ident)

    def insert(self, record: Record) -> Record:
        if record.id in self._rows:
            raise ValueError(f"{self.name} {record.id} exists")
        self._rows[record.id] = record
        bisect.insort(self._index, record.key)
        return record

    def touch(self, record: Record, modified_on: datetime) -> None:
        """Move ``record`` to its new place in the export order."""
        old = record.key
        pos = bisect.bisect_left(self._index, old)
        if pos < len(self._index) and self._index[pos] == old:
            del self._index[pos]
        record.modified_on = modified_on
        bisect.insort(self._index, record.key)

    def after(self, key: ExportKey, limit: int) -> tuple[list[Record], bool]:
        """Up to ``limit`` records strictly after ``key`` in (modifiedOn, id) order, and whether more follow."""
        start = bisect.bisect_right(self._index, key)
        keys = self._index[start : start + limit]
        return [self._rows[k[1]] for k in keys], start + limit < len(self._index)

    def back(self, key: ExportKey, count: int) -> ExportKey:
        """The key ``count`` records before ``key`` (for re-sending recent changes)."""
        pos = bisect.bisect_right(self._index, key) - count
        if pos <= 0:
            return (datetime.min.replace(tzinfo=key[0].tzinfo), -1)
        return self._index[pos - 1]
