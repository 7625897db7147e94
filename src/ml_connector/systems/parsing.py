"""Lenient parsers shared by both systems' models (validate at the edge, tolerate drift).

Vendors add fields silently, send flags as ``true`` or ``"Y"``, enums as names or integers, and
money as numbers or strings. These annotated types accept every form seen in the references and
normalise it: money to :class:`~decimal.Decimal` (never float), timestamps to aware UTC, flags to bool.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict


class Lenient(BaseModel):
    """Base for external payloads: unknown fields ignored, names as the API spells them."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def _money(value: Any) -> Any:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text:
            return None
        try:
            parsed = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not an amount") from None
        if not parsed.is_finite():
            raise ValueError(f"{value!r} is not a finite amount")
        return parsed
    raise ValueError(f"{value!r} is not an amount")


Money = Annotated[Decimal, BeforeValidator(_money)]


_PLAIN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)\Z")


def parse_timestamp(value: Any) -> Any:
    """ISO-8601 with ``Z`` or an offset and up to 7 fractional digits; naive values are refused."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and _PLAIN.match(value):
        # the usual shape, "2026-11-02T12:00:00.123+00:00" or "…Z" with at most 6 digits after
        # the point: fromisoformat (C) reads it as it is
        parsed = datetime.fromisoformat(value)
    elif isinstance(value, str):
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        if "." in text:
            head, _, rest = text.partition(".")
            digits = ""
            i = 0
            while i < len(rest) and rest[i].isdigit():
                digits += rest[i]
                i += 1
            text = f"{head}.{(digits + '000000')[:6]}{rest[i:]}"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 timestamp") from None
    else:
        raise ValueError(f"{value!r} is not a timestamp")
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (naive timestamps are refused)")
    return parsed.astimezone(UTC)


UtcDateTime = Annotated[datetime, BeforeValidator(parse_timestamp)]


def _date(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ValueError(f"{value!r} is not a date") from None
    raise ValueError(f"{value!r} is not a date")


DateOnly = Annotated[date, BeforeValidator(_date)]


def _flag(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().upper()
        if text in ("Y", "YES", "TRUE", "T", "1", "A"):
            return True
        if text in ("N", "NO", "FALSE", "F", "0", "I", ""):
            return False
    if isinstance(value, int):
        return bool(value)
    raise ValueError(f"{value!r} is not a flag")


Flag = Annotated[bool, BeforeValidator(_flag)]


def _text(value: Any) -> Any:
    """Enums arrive as names or as integers (reference §11.8): keep either as text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


LooseStr = Annotated[str, BeforeValidator(_text)]


def _id(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


IntId = Annotated[int, BeforeValidator(_id)]
