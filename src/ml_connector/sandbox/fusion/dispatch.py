"""Generic request handling over the resource tree: paths, GET/POST/PATCH/actions, paging.

``dispatch`` takes plain values and returns a :class:`Reply`, so the HTTP route and the batch endpoint share
it. Paths follow reference §1: ``{resource}[/{id}[/child/{name}[/{id}…]]][/action/{name}]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, ErrorDetail, Reply
from .params import order_rows, parse_expand, parse_fields, parse_finder
from .query import compile_q
from .render import RESOURCE_COLLECTION, RESOURCE_ITEM, change_indicator, render_item
from .tree import Ctx, Node

ACTION_MEDIA = "application/vnd.oracle.adf.action+json"


@dataclass(kw_only=True)
class Target:
    node: Node
    href: str
    parent_row: Any = None
    parent: tuple[Node, str] | None = None  # parent node and its item href, for links
    row: Any = None  # set when the path names an item
    action: str | None = None


def resolve(ctx: Ctx, registry: Mapping[str, Node], segments: Sequence[str]) -> Target:
    if not segments or segments[0] not in registry:
        raise ApiError.not_found(f"Resource {'/'.join(segments)} not found.")
    node = registry[segments[0]]
    target = Target(node=node, href=f"{ctx.base}/{segments[0]}")
    i = 1
    while i < len(segments):
        key = segments[i]
        row = target.node.find(ctx, target.parent_row, key)
        if row is None:
            raise ApiError.not_found(
                f"The requested resource {target.node.name}/{key} was not found."
            )
        target.row, item_href = row, f"{target.href}/{key}"
        i += 1
        if i == len(segments):
            target.href = item_href
            return target
        kind = segments[i]
        name = segments[i + 1] if i + 1 < len(segments) else ""
        if kind == "action" and i + 2 == len(segments):
            target.href, target.action = item_href, name
            return target
        child = target.node.child(name) if kind == "child" else None
        if child is None:
            raise ApiError.not_found(f"Resource {'/'.join(segments)} not found.")
        target = Target(
            node=child,
            href=f"{item_href}/child/{name}",
            parent_row=row,
            parent=(target.node, item_href),
        )
        i += 2
    return target


def _int_param(params: Mapping[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError.bad(f"The value {raw} of query parameter {name} is not valid.") from None
    if value < 0:
        raise ApiError.bad(f"The value {raw} of query parameter {name} is not valid.")
    return value


def _flag(params: Mapping[str, str], name: str) -> bool:
    return params.get(name, "").lower() == "true"


def _finder_filter(node: Node, text: str) -> tuple[str, dict[str, str]]:
    name, variables = parse_finder(text)
    allowed = node.finders.get(name)
    if allowed is None:
        raise ApiError.bad(f"The finder {name} is not defined for {node.name}.", code="JBO-29114")
    unknown = [v for v in variables if v not in allowed]
    if unknown or not variables:
        raise ApiError.bad(
            f"Finder {name} takes at least one of {', '.join(allowed)}.", code="JBO-29115"
        )
    return name, variables


def get_collection(ctx: Ctx, target: Target, params: Mapping[str, str]) -> Reply:
    node = target.node
    rows = list(node.rows(ctx, target.parent_row))
    if node.before_read is not None:
        node.before_read(ctx, rows)
    if finder := params.get("finder"):
        _, variables = _finder_filter(node, finder)
        clause = ";".join(f"{k}='{v}'" for k, v in variables.items())
        pred = compile_q(clause, framework=1, get=node.get, known=node.known)
        rows = [r for r in rows if pred(r)]
    if q := params.get("q"):
        pred = compile_q(q, framework=ctx.framework, get=node.get, known=node.known)
        rows = [r for r in rows if pred(r)]
    if order_by := params.get("orderBy"):
        order_rows(rows, order_by, node.get, node.known)
    limit = min(_int_param(params, "limit", ctx.config.default_limit), ctx.config.max_limit)
    offset = _int_param(params, "offset", 0)
    page = rows[offset : offset + limit]
    fields = parse_fields(params.get("fields"))
    expand = parse_expand(params.get("expand"))
    only_data = _flag(params, "onlyData")
    items = [
        render_item(
            ctx,
            node,
            r,
            f"{target.href}/{node.get(r, node.key)}",
            fields=fields,
            expand=expand,
            only_data=only_data,
            parent=target.parent,
        )
        for r in page
    ]
    body: dict[str, Any] = {
        "items": items,
        "count": len(items),
        "hasMore": offset + len(items) < len(rows),
        "limit": limit,
        "offset": offset,
    }
    if _flag(params, "totalResults"):
        body["totalResults"] = len(rows)
    body["links"] = [{"rel": "self", "href": target.href, "name": node.name, "kind": "collection"}]
    return Reply(status=200, body=body, content_type=RESOURCE_COLLECTION)


def item_reply(ctx: Ctx, target: Target, params: Mapping[str, str], status: int = 200) -> Reply:
    body = render_item(
        ctx,
        target.node,
        target.row,
        target.href,
        fields=parse_fields(params.get("fields")),
        expand=parse_expand(params.get("expand")),
        only_data=_flag(params, "onlyData"),
        parent=target.parent,
    )
    headers = {"ETag": change_indicator(target.node.attrs(target.row))}
    if status == 201:
        headers["Location"] = target.href
    return Reply(status=status, body=body, content_type=RESOURCE_ITEM, headers=headers)


def describe(ctx: Ctx, node: Node) -> Reply:
    """``GET /{resource}/describe``: attribute names (all queryable here), children and actions.

    A much reduced form of the ADF describe document (shape INFERRED); enough for a client to check that
    an attribute, a child or an action such as ``applyReceipt`` exists on this pod (reference §1).
    """

    def one(n: Node) -> dict[str, Any]:
        return {
            "attributes": [{"name": a, "queryable": True} for a in sorted(n.attr_names)],
            "item": {"actions": [{"name": a} for a in n.actions(ctx)]},
            "children": {c.name: one(c) for c in n.children},
        }

    return Reply(status=200, body={"Resources": {node.name: one(node)}})


def _check_if_match(target: Target, headers: Mapping[str, str]) -> None:
    """A stale ``If-Match`` gives 412 (reference §3.7, ADF JBO-25014)."""
    wanted = headers.get("if-match")
    if wanted is None:
        return
    current = change_indicator(target.node.attrs(target.row))
    if wanted.strip().strip('"') not in (current, "*"):
        raise ApiError(
            412,
            ErrorDetail(
                detail="Another user has changed the row with primary key.", code="JBO-25014"
            ),
        )


def dispatch(
    ctx: Ctx,
    registry: Mapping[str, Node],
    method: str,
    segments: Sequence[str],
    params: Mapping[str, str],
    body: Any,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """Handle one request on the resource tree; raises ApiError for error replies."""
    headers = headers or {}
    if method == "GET" and len(segments) >= 2 and segments[-1] == "describe":
        described = resolve(ctx, registry, segments[:-1])
        if described.row is None:
            return describe(ctx, described.node)
    target = resolve(ctx, registry, segments)
    node = target.node
    if target.action is not None:
        action = node.actions(ctx).get(target.action)
        if action is None:
            raise ApiError.not_found(f"The action {target.action} was not found.")
        if method != "POST":
            raise ApiError(405)
        if ACTION_MEDIA not in headers.get("content-type", ""):
            # reference §1: custom actions take application/vnd.oracle.adf.action+json (415 INFERRED)
            raise ApiError(415, ErrorDetail(detail=f"Use Content-Type {ACTION_MEDIA} for actions."))
        return action(ctx, target.row, body)
    if method == "GET":
        if target.row is None:
            return get_collection(ctx, target, params)
        if node.before_read is not None:
            node.before_read(ctx, [target.row])
        return item_reply(ctx, target, params)
    if not isinstance(body, Mapping):
        raise ApiError.bad("The request body is not a JSON object.", code="JBO-27027")
    if method == "POST" and target.row is None and node.create is not None:
        target.row = node.create(ctx, target.parent_row, body)
        target.href = f"{target.href}/{node.get(target.row, node.key)}"
        return item_reply(ctx, target, params, status=201)
    if method == "PATCH" and target.row is not None and node.update is not None:
        _check_if_match(target, headers)
        node.update(ctx, target.row, body)
        return item_reply(ctx, target, params)
    raise ApiError(405)
