"""The simulator's in-memory state: tables, ids, change stamps and listeners.

Every change goes through :meth:`StateCore._changed`, which gives the record a new ``modifiedOn``
and re-indexes it. Stamps come from the injected clock but are forced strictly increasing (1 µs
apart at least), so two changes within one fake-clock instant still have an order and an export
token never skips a record changed "at the same time" (reference §5).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ml_connector.clock import Clock, SystemClock
from ml_connector.sandbox.servicetitan.records import Record, Table, to_wire

Listener = Callable[[str, dict[str, Any]], None]

#: Tables and which bookkeeping fields their wire shape carries: (active, createdOn, externalData).
TABLES: dict[str, tuple[bool, bool, bool]] = {
    "vendors": (True, True, True),
    "purchase_orders": (False, True, False),
    "purchase_order_types": (True, True, False),
    "warehouses": (True, True, True),
    "receipts": (True, True, False),
    "materials": (True, True, True),
    "equipment": (True, True, True),
    "invoices": (True, True, False),
    "payments": (True, True, False),
    "payment_types": (False, True, False),
    "customers": (True, True, True),
    "business_units": (True, True, True),
    "jobs": (False, True, True),
}


class StateCore:
    """Tables, the id sequence, stamps and change listeners shared by the resource mixins."""

    def __init__(
        self, *, clock: Clock | None = None, tenant_id: int = 0, first_id: int = 1001
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.tenant_id = tenant_id
        self.tables: dict[str, Table] = {name: Table(name) for name in TABLES}
        self._next_id = first_id
        self._last_stamp: datetime | None = None
        self._listeners: list[Listener] = []
        # JSON-ready copies of records, dropped on every change: exports of large tables spend
        # most of their time converting records, and most records do not change between reads.
        self._wire_cache: dict[tuple[str, int], dict[str, Any]] = {}

    # -- ids, stamps, listeners -------------------------------------------------------------

    def next_id(self) -> int:
        """One id sequence for every resource: ids are unique across types, as SKU ids must be."""
        ident = self._next_id
        self._next_id += 1
        return ident

    def stamp(self) -> datetime:
        now = self.clock.now()
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + timedelta(microseconds=1)
        self._last_stamp = now
        return now

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event_type, entity)`` after an invoice or payment is created or changed.

        ``event_type`` is ``invoice.created``, ``invoice.updated``, ``payment.created`` or
        ``payment.updated``; ``entity`` is the record exactly as the API returns it.
        """
        self._listeners.append(listener)

    def _notify(self, table: str, record: Record, created: bool) -> None:
        kind = {"invoices": "invoice", "payments": "payment"}.get(table)
        if kind is None or not self._listeners:
            return
        entity = self.wire(table, record)
        for listener in list(self._listeners):
            listener(f"{kind}.{'created' if created else 'updated'}", entity)

    # -- records -------------------------------------------------------------------------------

    def table(self, name: str) -> Table:
        return self.tables[name]

    def _new(
        self,
        table: str,
        fields: dict[str, Any],
        *,
        active: bool = True,
        ident: int | None = None,
        created_on: datetime | None = None,
        external: dict[str, dict[str, str]] | None = None,
        hidden: dict[str, Any] | None = None,
    ) -> Record:
        stamp = self.stamp()
        record = Record(
            id=ident if ident is not None else self.next_id(),
            created_on=created_on or stamp,
            modified_on=stamp,
            active=active,
            fields=fields,
            external=external or {},
            hidden=hidden or {},
        )
        self.tables[table].insert(record)
        self._notify(table, record, created=True)
        return record

    def _changed(self, table: str, record: Record) -> Record:
        self._wire_cache.pop((table, record.id), None)
        self.tables[table].touch(record, self.stamp())
        self._notify(table, record, created=False)
        return record

    def wire(self, table: str, record: Record) -> dict[str, Any]:
        """The record as the API returns it (JSON-ready; a fresh top-level dict, shared nested
        values: do not mutate those). Changes must go through ``_changed`` to be seen."""
        cached = self._wire_cache.get((table, record.id))
        if cached is None:
            cached = self._wire_cache[(table, record.id)] = self._build_wire(table, record)
        return dict(cached)

    def _build_wire(self, table: str, record: Record) -> dict[str, Any]:
        with_active, with_created, with_external = TABLES[table]
        out: dict[str, Any] = {"id": record.id}
        if with_active:
            out["active"] = record.active
        out.update(record.fields)
        if with_created:
            out["createdOn"] = record.created_on
        out["modifiedOn"] = record.modified_on
        if with_external:
            out["externalData"] = record.external_pairs()
        return dict(to_wire(out))

    def require(self, table: str, ident: int) -> Record:
        record = self.tables[table].get(ident)
        if record is None:
            raise KeyError(f"{table} {ident} not found")
        return record

    def snapshot(self, table: str) -> list[dict[str, Any]]:
        """All records of a table, inactive included, for the admin endpoint and tests."""
        return [self.wire(table, r) for r in self.tables[table]]


class Invalid(Exception):
    """A request the API refuses with 400 and ``errors`` keyed by ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Conflict(Exception):
    """A request the API refuses with 409 (e.g. editing a PO that is already received)."""
