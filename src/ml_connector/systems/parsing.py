"""Lenient parsers shared by both systems' models (validate at the edge, tolerate drift).

Vendors add fields silently, send flags as ``true`` or ``"Y"``, enums as names or integers, and
money as numbers or strings. These annotated types accept every form seen in the references and
normalise it: money to :class:`~decimal.Decimal` (never float), timestamps to aware UTC, flags to bool.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema


class Lenient(BaseModel):
    """Base for external payloads: unknown fields ignored, names as the API spells them."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def _money(value: Any) -> Any:
    if type(value) is str:
        # the usual form, "145.00": Decimal reads it as it is (surrounding blanks included)
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            return _money_text(value)
        if not parsed.is_finite():
            raise ValueError(f"{value!r} is not a finite amount")
        return parsed
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        return _money_text(value)
    raise ValueError(f"{value!r} is not an amount")


def _money_text(value: str) -> Decimal | None:
    """Text Decimal does not read as it is: blank, or with thousands separators."""
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


class NativeFirst:
    """Validate with pydantic-core's own (Rust) validator first, and only what it refuses with a
    Python function: the usual forms cost no Python call, the rarer ones are still read. When
    both refuse, the one error is ``message``."""

    def __init__(self, native: CoreSchema, lenient: Callable[[Any], Any], message: str) -> None:
        self.native, self.lenient, self.message = native, lenient, message

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.union_schema(
            [
                self.native,
                core_schema.no_info_before_validator_function(self.lenient, handler(source)),
            ],
            mode="left_to_right",
            custom_error_type="lenient_value",
            custom_error_message=self.message,
        )


#: "145.00", 145, 145.0 natively; "1,234.50" and the like through :func:`_money`; never a bool
#: or a non-finite value
Money = Annotated[
    Decimal,
    NativeFirst(
        core_schema.decimal_schema(allow_inf_nan=False),
        _money,
        "not an amount (a finite number, or text of one)",
    ),
]


def parse_timestamp(value: Any) -> Any:
    """ISO-8601 with ``Z`` or an offset and any number of fractional digits (ServiceTitan sends 7;
    beyond 6 they are cut, not rounded); naive values are refused."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            # the usual shapes ("…T12:00:00.1234567Z", "…+00:00"): fromisoformat (C) reads them
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = _timestamp_text(value)
    else:
        raise ValueError(f"{value!r} is not a timestamp")
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (naive timestamps are refused)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value!r} is out of range in UTC") from None


def _timestamp_text(value: str) -> datetime:
    """What fromisoformat refuses as sent: surrounding blanks, a lower-case ``z``."""
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO-8601 timestamp") from None


#: "…Z" and "…+00:00" (with any number of fractional digits) natively; other offsets, a lower-case
#: ``z``, surrounding blanks and datetimes through :func:`parse_timestamp` (moved to UTC); naive
#: values and numbers never. Either way an aware datetime in UTC (its offset 0: the native reading
#: keeps pydantic-core's own zero-offset tzinfo, equal to ``UTC`` in every comparison and format).
UtcDateTime = Annotated[
    datetime,
    NativeFirst(
        core_schema.chain_schema(
            [
                # ISO-8601 text only: pydantic-core would read "1700000000" as a Unix time
                core_schema.str_schema(strict=True, pattern=r"^\d{4}-\d\d-\d\dT"),
                core_schema.datetime_schema(tz_constraint=0),
            ]
        ),
        parse_timestamp,
        "not an ISO-8601 timestamp with a time zone",
    ),
]


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
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | Decimal):
        return str(value)
    return value


LooseStr = Annotated[
    str,
    NativeFirst(
        core_schema.str_schema(strict=True), _text, "not text, a number or a flag (an enum value)"
    ),
]


#: an id as a number or as text of one (" 12 ", "-5"): pydantic-core's lax int reads both
IntId = int
