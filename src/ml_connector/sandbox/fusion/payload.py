"""Reading write payloads at the edge, with ADF-style messages for missing or malformed attributes.

Unknown attributes are tolerated (a pod ignores nothing silently, but our simulator must not break on fields
the connector adds later); type errors give ``JBO-27018``-style 400s, missing required ones ``JBO-27014``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ApiError


def _bad_type(name: str, value: Any) -> ApiError:
    return ApiError.bad(
        f"The value {value!r} of attribute {name} is not valid.", code="JBO-27018", path=name
    )


def required(body: Mapping[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None or value == "":
        raise ApiError.bad(f"Attribute {name} is required.", code="JBO-27014", path=name)
    return value


def opt_str(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str | int):
        raise _bad_type(name, value)
    return str(value)


def req_str(body: Mapping[str, Any], name: str) -> str:
    required(body, name)
    value = opt_str(body, name)
    assert value is not None
    return value


def opt_decimal(body: Mapping[str, Any], name: str) -> Decimal | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _bad_type(name, value)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise _bad_type(name, value) from None


def req_decimal(body: Mapping[str, Any], name: str) -> Decimal:
    required(body, name)
    value = opt_decimal(body, name)
    assert value is not None
    return value


def opt_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise _bad_type(name, value) from None


def opt_date(body: Mapping[str, Any], name: str) -> date | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise _bad_type(name, value) from None


def rows_of(body: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _bad_type(name, "<not a list of objects>")
    return list(value)
