"""JSON rendering of rows: value formats (reference §3.2), item links (§3.5) and envelopes (§3.4)."""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from .params import FieldSpec, pick
from .tree import Ctx, Node

RESOURCE_ITEM = "application/vnd.oracle.adf.resourceitem+json"
RESOURCE_COLLECTION = "application/vnd.oracle.adf.resourcecollection+json"


def format_datetime(value: datetime) -> str:
    """``2026-11-02T09:51:46.001+00:00`` — milliseconds and an explicit offset, as pods render."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+00:00"


def to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def change_indicator(attrs: dict[str, Any]) -> str:
    """A hex ETag-like string that changes whenever any attribute changes (reference §3.5)."""
    crc = zlib.crc32(repr(sorted(attrs.items(), key=lambda kv: kv[0])).encode())
    return f"ACED0005737200{crc:08X}"


def item_links(
    ctx: Ctx,
    node: Node,
    row: Any,
    href: str,
    attrs: dict[str, Any],
    parent: tuple[Node, str] | None,
) -> list[dict[str, Any]]:
    links: list[dict[str, Any]] = [
        {
            "rel": "self",
            "href": href,
            "name": node.name,
            "kind": "item",
            "properties": {"changeIndicator": change_indicator(attrs)},
        },
        {"rel": "canonical", "href": href, "name": node.name, "kind": "item"},
    ]
    if parent is not None:
        pnode, phref = parent
        links.append({"rel": "parent", "href": phref, "name": pnode.name, "kind": "item"})
    for child in node.children:
        links.append(
            {
                "rel": "child",
                "href": f"{href}/child/{child.name}",
                "name": child.name,
                "kind": "collection",
            }
        )
    for action in node.actions(ctx):
        links.append(
            {"rel": "action", "href": f"{href}/action/{action}", "name": action, "kind": "other"}
        )
    return links


def render_item(
    ctx: Ctx,
    node: Node,
    row: Any,
    href: str,
    *,
    fields: FieldSpec | None,
    expand: dict[str, Any],
    only_data: bool,
    parent: tuple[Node, str] | None = None,
) -> dict[str, Any]:
    """One item; children are embedded when named in ``expand`` (or in ``fields`` as ``Child:A,B``).

    With ``fields`` present, ``expand`` is ignored (reference §3.3).
    """
    attrs = node.attrs(row)
    out = {k: to_json(v) for k, v in pick(fields.top if fields else None, attrs).items()}
    if fields is not None:
        wanted: dict[str, tuple[tuple[str, ...] | None, dict[str, Any]]] = {
            name: (names, {}) for name, names in fields.children.items()
        }
    elif "all" in expand:
        wanted = {c.name: (None, {}) for c in node.children}
    else:
        wanted = {name: (None, sub) for name, sub in expand.items()}
    for child in node.children:
        if child.name not in wanted:
            continue
        names, sub = wanted[child.name]
        child_href = f"{href}/child/{child.name}"
        rows = list(child.rows(ctx, row))
        items = [
            render_item(
                ctx,
                child,
                r,
                f"{child_href}/{child.get(r, child.key)}",
                fields=FieldSpec(top=names) if names is not None else None,
                expand=sub,
                only_data=only_data,
                parent=(node, href),
            )
            for r in rows
        ]
        if ctx.framework >= 3:
            out[child.name] = {
                "items": items,
                "count": len(items),
                "hasMore": False,
                "limit": max(ctx.config.default_limit, len(items)),
                "offset": 0,
                "links": [
                    {"rel": "self", "href": child_href, "name": child.name, "kind": "collection"}
                ],
            }
        else:
            out[child.name] = items
    if not only_data:
        out["links"] = item_links(ctx, node, row, href, attrs, parent)
    return out
