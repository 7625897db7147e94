"""Building ``q`` expressions with correct quoting (oracle-fusion-api.md §3.1, §3.2).

The client sends ``REST-Framework-Version`` ≥ 2, so ``q`` is read as an expression (``and``, ``or``,
parentheses, ``in``). String literals go in single quotes with an embedded quote doubled
(``O''Brien``), the SQL/ADF convention — double quotes are rejected by pods (§3.1, [S38]); the
doubling rule itself is INFERRED. Timestamps are rendered as pods render them: milliseconds and an
explicit ``+00:00`` (§3.2), so a value read from a response and sent back compares equal.

Values are never pasted into ``q`` unquoted: every literal passes through :func:`literal`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

from ml_connector.clock import ensure_aware

_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def timestamp(value: datetime) -> str:
    """``2026-11-02T09:51:46.001+00:00``; a naive datetime is refused. Sub-millisecond digits are
    dropped (Fusion stores milliseconds), truncating so a bound is never moved past a row."""
    value = ensure_aware(value).astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def literal(value: str | int | Decimal | date | datetime | bool) -> str:
    """One quoted ``q`` literal. Numbers stay bare; everything else is single-quoted."""
    if isinstance(value, bool):
        return "'Y'" if value else "'N'"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime):
        return f"'{timestamp(value)}'"
    if isinstance(value, date):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def attr(name: str) -> str:
    """An attribute name, checked: a name is never built from data."""
    if not _ATTR.match(name):
        raise ValueError(f"{name!r} is not a Fusion attribute name")
    return name


def eq(name: str, value: str | int | Decimal | date | datetime | bool) -> str:
    return f"{attr(name)}={literal(value)}"


def cmp(name: str, op: str, value: str | int | Decimal | date | datetime | bool) -> str:
    if op not in ("=", "<>", ">", ">=", "<", "<="):
        raise ValueError(f"unsupported operator {op!r}")
    return f"{attr(name)}{op}{literal(value)}"


def isin(name: str, values: Iterable[str | int]) -> str:
    items = list(values)
    if not items:
        raise ValueError(f"an empty set for {name} would match nothing")
    return f"{attr(name)} in ({','.join(literal(v) for v in items)})"


def all_of(*clauses: str | None) -> str:
    """``(a) and (b)``; ``None`` clauses are skipped, a single clause is returned as is."""
    parts = [c for c in clauses if c]
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({c})" for c in parts)


def keyset_after(*, stamp_attr: str, id_attr: str, stamp: datetime, last_id: int) -> str:
    """Rows strictly after the position (``stamp``, ``last_id``) in ``stamp_attr, id_attr`` order."""
    ts = literal(stamp)
    return f"{attr(stamp_attr)}>{ts} or ({stamp_attr}={ts} and {attr(id_attr)}>{int(last_id)})"


def window(
    *,
    stamp_attr: str,
    id_attr: str,
    since: datetime,
    until: datetime,
    after: tuple[datetime, int] | None,
    extra: str | None = None,
) -> str:
    """The ``q`` for one keyset page: ``since`` inclusive (first page), after the last key (next
    pages), always before ``until`` (exclusive), plus the caller's ``extra`` filter."""
    lower = (
        cmp(stamp_attr, ">=", since)
        if after is None
        else keyset_after(stamp_attr=stamp_attr, id_attr=id_attr, stamp=after[0], last_id=after[1])
    )
    return all_of(lower, cmp(stamp_attr, "<", until), extra)
