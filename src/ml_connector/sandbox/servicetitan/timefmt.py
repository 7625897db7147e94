"""Wire formats for time and money (reference §3, §6.4, §11.9).

ServiceTitan writes timestamps in UTC with seven fractional digits and ``Z``; accounting writes money
as strings with a fixed number of decimals while inventory, CRM and jobs use JSON numbers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal


def format_dt(value: datetime) -> str:
    """``2021-07-19T20:35:38.2876004Z``: Python keeps microseconds, the seventh digit is always 0."""
    value = value.astimezone(UTC)
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond:06d}0Z"


def parse_dt(text: str) -> datetime:
    """Parse a filter or body value: a date, or a datetime with ``Z`` or an offset.

    A naive datetime is read as UTC because the API documents its filters as "in UTC". Up to seven
    fractional digits are accepted (the seventh is dropped). Raises ``ValueError``.
    """
    raw = text.strip()
    if not raw:
        raise ValueError("empty date")
    if len(raw) > 19 and raw[19:].count(" ") == 1:
        # An unencoded "+" in a query string arrives as a space: "…T10:00:00 02:00".
        raw = raw[:19] + raw[19:].replace(" ", "+")
    if len(raw) == 10:
        return datetime.combine(date.fromisoformat(raw), time(0), tzinfo=UTC)
    head, dot, tail = raw.partition(".")
    if dot:
        digits = ""
        rest = tail
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        raw = f"{head}.{digits[:6].ljust(6, '0')}{rest}" if digits else head + rest
    raw = raw.replace("z", "Z")
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def money(value: Decimal | int | str) -> str:
    """Accounting amounts: ``"25.69"``."""
    return f"{Decimal(value):.2f}"


def quantity(value: Decimal | int | str) -> str:
    """Accounting quantities: ``"1.0000000000000000000"`` (19 decimals, as seen in S10)."""
    return f"{Decimal(value):.19f}"


def unit_cost(value: Decimal | int | str) -> str:
    """Accounting item costs: ``"0.0000000000"`` (10 decimals, as seen in S10)."""
    return f"{Decimal(value):.10f}"


def number(value: Decimal) -> float | int:
    """A JSON number for inventory/CRM/jobs amounts (integral values stay integers)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)
