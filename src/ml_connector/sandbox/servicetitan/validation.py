"""Request body checks the way ASP.NET model binding does them (reference §3).

Unknown fields are ignored silently; a wrong-typed value or a missing required field gives a 400
whose ``errors`` are keyed by the field path (``vendorId``, ``address.street``,
``items[0].quantity``). Bodies are parsed with ``parse_float=Decimal`` so money stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ml_connector.sandbox.servicetitan.problems import ApiProblem
from ml_connector.sandbox.servicetitan.timefmt import parse_dt

_NET_TYPES = {
    "int": "System.Int64",
    "str": "System.String",
    "bool": "System.Boolean",
    "decimal": "System.Decimal",
    "datetime": "System.DateTime",
    "object": "an object",
    "array": "an array",
    "enum": "an enum value",
}


@dataclass(frozen=True, kw_only=True)
class F:
    """A field: its kind, whether it is required, and nested fields or item spec."""

    kind: str
    required: bool = False
    enum: tuple[str, ...] = ()
    fields: dict[str, F] = field(default_factory=dict)
    item: F | None = None


def req(kind: str, **kw: Any) -> F:
    return F(kind=kind, required=True, **kw)


def opt(kind: str, **kw: Any) -> F:
    return F(kind=kind, **kw)


def _check(value: Any, spec: F, path: str, errors: dict[str, list[str]]) -> None:
    def fail() -> None:
        errors.setdefault(path, []).append(
            f"The JSON value could not be converted to {_NET_TYPES[spec.kind]}."
        )

    kind = spec.kind
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            fail()
    elif kind == "str":
        if not isinstance(value, str):
            fail()
    elif kind == "bool":
        if not isinstance(value, bool):
            fail()
    elif kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
            fail()
    elif kind == "datetime":
        try:
            parse_dt(value) if isinstance(value, str) else fail()
        except ValueError:
            fail()
    elif kind == "enum":
        if not (isinstance(value, str) and value in spec.enum):
            fail()
    elif kind == "object":
        if not isinstance(value, dict):
            fail()
        else:
            _check_fields(value, spec.fields, path, errors)
    elif kind == "array":
        if not isinstance(value, list):
            fail()
        elif spec.item is not None:
            for n, entry in enumerate(value):
                _check(entry, spec.item, f"{path}[{n}]", errors)


def _check_fields(
    body: dict[str, Any], fields: dict[str, F], prefix: str, errors: dict[str, list[str]]
) -> None:
    for name, spec in fields.items():
        path = f"{prefix}.{name}" if prefix else name
        value = body.get(name)
        if value is None:
            if spec.required:
                errors.setdefault(path, []).append(f"The {name} field is required.")
            continue
        _check(value, spec, path, errors)


def validate(body: Any, spec: F) -> None:
    """Raise a 400 :class:`ApiProblem` if ``body`` does not fit ``spec``."""
    errors: dict[str, list[str]] = {}
    if body is None:
        errors["request"] = ["The request field is required."]
    else:
        _check(body, spec, "", errors)
        if "" in errors:
            errors["$"] = errors.pop("")
    if errors:
        raise ApiProblem(400, errors=errors)


def obj(**fields: F) -> F:
    return F(kind="object", fields=fields)


def req_obj(**fields: F) -> F:
    return F(kind="object", required=True, fields=fields)


def dec(value: Any) -> Decimal:
    """A validated decimal field as ``Decimal``."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def dt(value: Any) -> datetime | None:
    return None if value is None else parse_dt(value)


def req_dt(value: Any) -> datetime:
    """A validated, required date-time field."""
    return parse_dt(value)
