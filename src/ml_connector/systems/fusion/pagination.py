"""Keyset paging and concurrent windows for Fusion collections (DESIGN §3.2 rule 1, §4, §5).

**Why keyset, not offset.** Fusion pages by ``offset`` over a result that can change while it is
read. Ordered by ``LastUpdateDate``, a row updated mid-read moves to the end, every row after it
shifts back by one, and the row that crosses the page boundary is never seen — for good, because
the next run starts after the newest timestamp. So each page here asks for the rows *after* the
last (``LastUpdateDate``, id) seen, ordered by both, with ``offset`` always 0::

    q=(LastUpdateDate>'T' or (LastUpdateDate='T' and SupplierId>N)) and (LastUpdateDate<'UNTIL')
    orderBy=LastUpdateDate:asc,SupplierId:asc

A window that holds more rows than a page at one instant (many rows sharing a ``LastUpdateDate``) is
handled by the id tiebreak: the next page continues within the same instant.

* ``hasMore`` is trusted, never the row count (some pods give 499 rows for ``limit=500``).
* ``until`` (exclusive) caps the read at the run's start; rows changed during the run are read by
  the next run. ``since`` is inclusive; duplicates at the boundary are absorbed by idempotent
  upserts downstream.
* A key that does not move forward raises (:class:`~ml_connector.http.PageGuard`): a server that
  ignores ``q`` would otherwise make us read page 1 forever.
* Rows are checked to be in key order; an out-of-order row means the server did not sort as
  asked, and the page is refused rather than letting the keyset jump past unread rows.

**Windows.** :func:`split_range` cuts ``[since, until)`` into disjoint sub-ranges that
:meth:`FusionClient.read_windows` reads side by side, each paged by key, under the pod's
concurrency cap. ``LastUpdateDate`` is rarely spread evenly (a mass update stamps thousands of
rows within seconds), so equal slices of time can leave one reader with nearly everything; a reader
that still has rows to read while another slot is free hands the upper half of what it has left
to a new reader (:func:`split_point`), until the readers are busy again.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ml_connector.clock import ensure_aware
from ml_connector.http import PageGuard, PaginationLoopError
from ml_connector.systems.fusion import query
from ml_connector.systems.fusion.models import CollectionPage
from ml_connector.systems.parsing import parse_timestamp

MAX_PAGE = 500
STAMP = "LastUpdateDate"

Fetch = Callable[[dict[str, str]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, kw_only=True)
class Window:
    """``[since, until)`` — one slice of a backfill; ``index`` is its position among its siblings."""

    index: int
    since: datetime
    until: datetime


@dataclass(frozen=True, kw_only=True)
class KeysetSpec:
    """What to page: the id attribute, page size, the caller's extra filter and query params."""

    id_attr: str
    page_size: int = MAX_PAGE
    extra_q: str | None = None
    params: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= MAX_PAGE:
            raise ValueError(f"page size must be between 1 and {MAX_PAGE}")


def split_range(since: datetime, until: datetime, windows: int) -> list[Window]:
    """``windows`` disjoint, adjacent windows covering ``[since, until)`` (fewer if the range is
    too short to split at millisecond precision)."""
    since, until = ensure_aware(since), ensure_aware(until)
    if windows < 1:
        raise ValueError("windows must be at least 1")
    if until <= since:
        return [Window(index=0, since=since, until=until)]
    span = until - since
    bounds = [since + span * i / windows for i in range(windows)] + [until]
    bounds = [b.replace(microsecond=b.microsecond // 1000 * 1000) for b in bounds[:-1]] + [until]
    out: list[Window] = []
    for lo, hi in itertools.pairwise(bounds):
        if hi > lo:
            out.append(Window(index=len(out), since=lo, until=hi))
    return out


def split_point(bound: Bound) -> datetime | None:
    """Where to cut what a reader has left, ``(bound.after, bound.until)``, so another reader can
    take the upper part: the middle in time, to the millisecond (Fusion's precision), of what is
    left up to the newest row the window held when its read began (``bound.newest``: a window
    from the year 2000 whose rows were all stamped this morning is cut this morning, not in
    2013); None when nothing is left to share (no more rows, or no millisecond between)."""
    if not bound.more or bound.after is None:
        return None
    last = bound.after[0]
    end = bound.until
    if bound.newest is not None and last < bound.newest < end:
        end = bound.newest + timedelta(milliseconds=1)
    mid = last + (end - last) / 2
    mid = mid.replace(microsecond=mid.microsecond // 1000 * 1000)
    return mid if last < mid < bound.until else None


def _key(item: dict[str, Any], id_attr: str) -> tuple[datetime, int]:
    stamp = parse_timestamp(item.get(STAMP))
    raw_id = item.get(id_attr)
    if not isinstance(stamp, datetime) or raw_id is None:
        raise PaginationLoopError(
            f"fusion keyset pager: a row lacks {STAMP} or {id_attr}; cannot page by key"
        )
    return stamp, int(raw_id)


@dataclass(kw_only=True)
class Bound:
    """A keyset read's moving parts, shared with its caller: ``until`` (exclusive; a caller that
    splits the window lowers it between pages, never below ``after``), the last key read, and
    whether the server said more rows follow."""

    until: datetime
    after: tuple[datetime, int] | None = None
    more: bool = True
    #: the newest ``LastUpdateDate`` in the window when its read began (one look), if known
    newest: datetime | None = None


async def keyset_pages(
    fetch: Fetch,
    spec: KeysetSpec,
    *,
    since: datetime,
    until: datetime,
    what: str,
    bound: Bound | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Raw item pages of ``[since, until)`` in (``LastUpdateDate``, id) order, read by key.

    ``fetch(params)`` performs one GET of the collection and returns the JSON envelope. With a
    ``bound``, each page's query takes its upper end from ``bound.until`` (see :class:`Bound`).
    """
    since = ensure_aware(since)
    bound = bound or Bound(until=until)
    bound.until = ensure_aware(bound.until)
    guard = PageGuard(what=what)
    order = f"{STAMP}:asc,{spec.id_attr}:asc"
    while True:
        params = dict(spec.params)
        params.update(
            {
                "q": query.window(
                    stamp_attr=STAMP,
                    id_attr=spec.id_attr,
                    since=since,
                    until=bound.until,
                    after=bound.after,
                    extra=spec.extra_q,
                ),
                "orderBy": order,
                "limit": str(spec.page_size),
                "offset": "0",
            }
        )
        page = CollectionPage.model_validate(await fetch(params))
        guard.page(rows=len(page.items), has_more=page.hasMore)
        bound.more = page.hasMore
        if page.items:
            keys = [_key(item, spec.id_attr) for item in page.items]
            for earlier, later in itertools.pairwise(keys):
                if not later > earlier:
                    raise PaginationLoopError(
                        f"{what}: rows are not in ({STAMP}, {spec.id_attr}) order "
                        f"({earlier} then {later}); refusing to page by key"
                    )
            if bound.after is not None and not keys[0] > bound.after:
                raise PaginationLoopError(
                    f"{what}: the server returned rows at or before {bound.after}; it ignored "
                    "the q filter"
                )
            guard.key(keys[-1])
            bound.after = keys[-1]
            yield page.items
        if not page.hasMore:
            return
