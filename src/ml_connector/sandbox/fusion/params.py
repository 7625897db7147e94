"""``orderBy``, ``finder``, ``fields`` and ``expand`` parsing (reference §3.3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError
from .query import MISSING, Getter, split_outside_quotes, unquote

OrderKeys = list[tuple[str, bool]]  # (attribute, descending)


def order_rows(rows: list[Any], order_by: str, get: Getter, known: Callable[[str], bool]) -> None:
    """Sort in place by ``Attr:asc,Other:desc`` (one stable sort per key, last key first)."""
    sort_rows(rows, parse_order(order_by, known), get)


def parse_order(order_by: str, known: Callable[[str], bool]) -> OrderKeys:
    """``Attr:asc,Other:desc`` as (name, descending) pairs; 400 for an unknown attribute."""
    keys: OrderKeys = []
    for part in order_by.split(","):
        name, _, direction = part.strip().partition(":")
        if not known(name):
            raise ApiError.bad(f"Attribute {name} in orderBy is not valid.", code="JBO-25064")
        keys.append((name, direction.strip().lower() == "desc"))
    return keys


def sort_rows(rows: list[Any], keys: OrderKeys, get: Getter) -> None:
    for name, desc in reversed(keys):

        def key(row: Any, attr: str = name) -> tuple[int, Any]:
            return _sort_key(get(row, attr))

        rows.sort(key=key, reverse=desc)


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None or value is MISSING else (1, value)


def parse_finder(text: str) -> tuple[str, dict[str, str]]:
    name, _, rest = text.partition(";")
    variables: dict[str, str] = {}
    for pair in split_outside_quotes(rest, ","):
        if pair.strip():
            var, _, value = pair.partition("=")
            variables[var.strip()] = unquote(value.strip())
    return name.strip(), variables


@dataclass(kw_only=True)
class FieldSpec:
    """``fields=A,B;Child:X,Y`` — top-level attributes and per-child attribute lists."""

    top: tuple[str, ...] | None = None
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)


def parse_fields(text: str | None) -> FieldSpec | None:
    if not text:
        return None
    spec = FieldSpec()
    for part in text.split(";"):
        if ":" in part:
            child, _, names = part.partition(":")
            spec.children[child.strip()] = tuple(n.strip() for n in names.split(",") if n.strip())
        elif part.strip():
            spec.top = tuple(n.strip() for n in part.split(",") if n.strip())
    return spec


ALL = "all"


def parse_expand(text: str | None) -> dict[str, Any]:
    """``expand=all`` → {"all": {}}; ``expand=lines.schedules,x`` → nested dict of child names."""
    tree: dict[str, Any] = {}
    if not text:
        return tree
    for path in text.split(","):
        node = tree
        for name in path.strip().split("."):
            if name:
                node = node.setdefault(name, {})
    return tree


def pick(names: Sequence[str] | None, attrs: dict[str, Any]) -> dict[str, Any]:
    return attrs if names is None else {n: attrs[n] for n in names if n in attrs}
