"""Page indexes of the big top-level collections (suppliers, purchase orders, invoices, receipts).

A collection GET used to run ``q`` over every row and sort what was left, for every page: about
0.25 s of CPU per page at 100,000 suppliers. The readers' pages are narrow in two orders: by
(``LastUpdateDate``, id) — the keyset pages, ``LastUpdateDate`` windows with an id tie-break — and by
id — offset pages ordered by the item key. :class:`PageIndex` keeps both orders for one table (a
dict keyed by id whose insertion order is the collection's natural order) and answers a page by
walking only the rows inside the range ``q`` allows, in the page's order, until the page and one row
more (for ``hasMore``) are found. Every candidate still goes through the full ``q`` predicate, so the
answer is the full scan's: same rows, same order, same ``hasMore`` and ``totalResults``
(reference §3.3, §3.4). What the index cannot answer falls back to the full scan (``dispatch.py``).

The index follows the table lazily. ``LastUpdateDate`` assignments are noted by the records
(:data:`~.records.STAMPS`); at each read the index repositions the rows noted since its last read, and
rebuilds from the table when it fell too far behind, when the table object was replaced (a batch
rollback), or when its row count no longer matches (a row added without a stamp being set).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from .query import MISSING, AllOf, AnyOf, Cmp, Nothing, Shape, coerce
from .records import STAMPS

STAMP = "LastUpdateDate"
#: past this many noted changes (or a 50th of the table) one sort is cheaper than moving rows one by one
_REBUILD_AT = 500


# --- ranges read from a query's shape ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Span:
    """Values ``lo..hi`` (None = unbounded on that side); ``empty`` when no value can match."""

    lo: Any = None
    lo_incl: bool = True
    hi: Any = None
    hi_incl: bool = True
    empty: bool = False


EMPTY = Span(empty=True)


def _above(a: Span, b: Span) -> bool:
    """Is ``a``'s lower bound tighter than ``b``'s?"""
    if b.lo is None:
        return a.lo is not None
    if a.lo is None:
        return False
    return bool(a.lo > b.lo or (a.lo == b.lo and not a.lo_incl and b.lo_incl))


def _below(a: Span, b: Span) -> bool:
    """Is ``a``'s upper bound tighter than ``b``'s?"""
    if b.hi is None:
        return a.hi is not None
    if a.hi is None:
        return False
    return bool(a.hi < b.hi or (a.hi == b.hi and not a.hi_incl and b.hi_incl))


def _meet(a: Span, b: Span) -> Span:
    if a.empty or b.empty:
        return EMPTY
    lo = a if _above(a, b) else b
    hi = a if _below(a, b) else b
    return Span(lo=lo.lo, lo_incl=lo.lo_incl, hi=hi.hi, hi_incl=hi.hi_incl)


def _hull(a: Span, b: Span) -> Span:
    if a.empty:
        return b
    if b.empty:
        return a
    lo = b if _above(a, b) else a
    hi = b if _below(a, b) else a
    return Span(lo=lo.lo, lo_incl=lo.lo_incl, hi=hi.hi, hi_incl=hi.hi_incl)


def span_of(shape: Shape, attr: str, like: Any) -> Span | None:
    """The values of ``attr`` a row matching ``shape`` can have; None when ``shape`` does not bound it.

    ``like`` is a value of the attribute's type: literals are converted by the same :func:`coerce` the
    predicate uses, so a literal that does not convert bounds to nothing, as it matches nothing.
    """
    if isinstance(shape, Nothing):
        return EMPTY
    if isinstance(shape, Cmp):
        if shape.attr != attr or shape.op in ("!=", "<>"):
            return None
        value = coerce(shape.literal, like)
        if value is MISSING:
            return EMPTY
        if shape.op == "=":
            return Span(lo=value, hi=value)
        if shape.op in (">", ">="):
            return Span(lo=value, lo_incl=shape.op == ">=")
        return Span(hi=value, hi_incl=shape.op == "<=")
    if isinstance(shape, AllOf):
        out: Span | None = None
        for part in shape.parts:
            span = span_of(part, attr, like)
            if span is not None:
                out = span if out is None else _meet(out, span)
        return out
    if isinstance(shape, AnyOf):
        spans = [span_of(part, attr, like) for part in shape.parts]
        out = EMPTY
        for span in spans:
            if span is None:
                return None
            out = _hull(out, span)
        return out
    return None


# --- the index ---------------------------------------------------------------------------------


def _aware(value: Any) -> TypeGuard[datetime]:
    return isinstance(value, datetime) and value.utcoffset() is not None


class PageIndex:
    """(``LastUpdateDate``, id) and id orders of one table, kept in step with it lazily."""

    def __init__(self, key: str) -> None:
        self.key = key  # the id attribute, e.g. SupplierId; the table's keys are its values
        self._table: Mapping[Any, Any] | None = None
        self._seen = -1  # STAMPS.count at the last sync
        self.by_stamp: list[tuple[datetime, int]] = []
        self.ids: list[int] = []  # ascending
        self._stamp_of: dict[int, datetime] = {}
        self.usable = False  # every key an int, every stamp an aware datetime
        self.natural_is_id = False  # the table's insertion order is ascending id
        self.rebuilds = 0

    # --- keeping in step ---------------------------------------------------------------------

    def sync(self, table: Mapping[Any, Any]) -> None:
        count, noted = STAMPS.since(self._seen)
        if (
            table is not self._table
            or noted is None
            or len(noted) > max(_REBUILD_AT, len(table) // 50)
        ):
            self._rebuild(table, count)
            return
        self._seen = count
        if noted and not self._apply(table, noted):
            self._rebuild(table, count)
            return
        if len(self._stamp_of) != len(table) or (
            self.ids and next(reversed(table)) != self.ids[-1] and self.natural_is_id
        ):
            self._rebuild(table, count)

    def _rebuild(self, table: Mapping[Any, Any], count: int) -> None:
        self.rebuilds += 1
        self._table, self._seen = table, count
        self.by_stamp, self.ids, self._stamp_of = [], [], {}
        self.usable = False
        items = list(table.items())  # one step: a writer in another thread cannot cut into it
        keys = [k for k, _ in items]
        if not all(type(k) is int for k in keys):
            return
        stamp_of: dict[int, datetime] = {}
        for k, row in items:
            stamp = getattr(row, STAMP, None)
            if not _aware(stamp) or getattr(row, self.key, None) != k:
                return
            stamp_of[k] = stamp
        self._stamp_of = stamp_of
        self.by_stamp = sorted((s, k) for k, s in stamp_of.items())
        self.natural_is_id = all(a < b for a, b in itertools.pairwise(keys))
        self.ids = keys if self.natural_is_id else sorted(keys)
        self.usable = True

    def _apply(self, table: Mapping[Any, Any], noted: list[Any]) -> bool:
        """Move or add the noted rows of this table; False when a rebuild is needed."""
        if not self.usable:
            return False
        done: set[int] = set()
        for record in noted:
            if id(record) in done:
                continue
            done.add(id(record))
            k = getattr(record, self.key, None)
            if type(k) is not int or table.get(k) is not record:
                continue  # another table's row, or not (yet) in this one
            stamp = getattr(record, STAMP, None)
            if not _aware(stamp):
                return False
            old = self._stamp_of.get(k)
            if old is None:  # a new row: the table appended it
                if self.ids and k < self.ids[-1]:
                    self.natural_is_id = False
                bisect.insort(self.ids, k)
            else:
                at = bisect.bisect_left(self.by_stamp, (old, k))
                if at == len(self.by_stamp) or self.by_stamp[at] != (old, k):
                    return False
                del self.by_stamp[at]
            bisect.insort(self.by_stamp, (stamp, k))
            self._stamp_of[k] = stamp
        return True

    # --- ranges ------------------------------------------------------------------------------

    def stamp_range(self, span: Span | None) -> tuple[int, int]:
        """Positions ``[start, end)`` in :attr:`by_stamp` of the rows whose stamp is in ``span``."""
        return _range(self.by_stamp, span, lambda v, after: (v, math.inf if after else -math.inf))

    def id_range(self, span: Span | None) -> tuple[int, int]:
        """Positions ``[start, end)`` in :attr:`ids` of the ids in ``span``."""
        return _range(self.ids, span, None)

    def stamp_rows(self, table: Mapping[Any, Any], start: int, end: int) -> Iterator[Any]:
        by_stamp = self.by_stamp
        for i in range(start, end):
            yield table[by_stamp[i][1]]

    def id_rows(self, table: Mapping[Any, Any], start: int, end: int) -> Iterator[Any]:
        ids = self.ids
        for i in range(start, end):
            yield table[ids[i]]


def _range(seq: list[Any], span: Span | None, probe: Any) -> tuple[int, int]:
    """Bisect ``seq`` for ``span``: on values directly (``probe`` None), or on ``probe(value, after)``,
    a key that sorts just before (``after`` False) or just after every entry holding ``value``."""
    if span is None:
        return 0, len(seq)
    if span.empty:
        return 0, 0

    def first_at_or_after(value: Any, inclusive: bool) -> int:
        if probe is not None:
            return bisect.bisect_left(seq, probe(value, not inclusive))
        return (bisect.bisect_left if inclusive else bisect.bisect_right)(seq, value)

    start = 0 if span.lo is None else first_at_or_after(span.lo, span.lo_incl)
    end = len(seq) if span.hi is None else first_at_or_after(span.hi, not span.hi_incl)
    return start, max(start, end)
