"""Generic request handling over the resource tree: paths, GET/POST/PATCH/actions, paging.

``dispatch`` takes plain values and returns a :class:`Reply`, so the HTTP route and the batch endpoint share
it. Paths follow reference §1: ``{resource}[/{id}[/child/{name}[/{id}…]]][/action/{name}]``.

A page of a big top-level collection is answered from its page index (``index.py``): the rows in the
range ``q`` allows, walked in page order when the order is the index's; the answer is the full scan's
(reference §3.3, §3.4), which is still what every other collection, finder and order gets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError, ErrorDetail, Reply
from .index import STAMP, span_of
from .params import OrderKeys, parse_expand, parse_fields, parse_finder, parse_order, sort_rows
from .query import Predicate, Shape, compile_cond, compile_q
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


@dataclass(kw_only=True)
class Selection:
    """The rows of one collection page, and what the envelope says about the rest."""

    page: list[Any]
    total: int  # rows matching in all; exact when has_more is False or the count was asked for
    has_more: bool


def _slice(rows: list[Any], offset: int, limit: int) -> Selection:
    page = rows[offset : offset + limit]
    return Selection(page=page, total=len(rows), has_more=offset + len(page) < len(rows))


def _scan(
    rows: list[Any], pred: Predicate | None, order: OrderKeys | None, node: Node
) -> list[Any]:
    """The full scan: every row through the predicate, then one stable sort per orderBy key."""
    if pred is not None:
        rows = [r for r in rows if pred(r)]
    if order:
        sort_rows(rows, order, node.get)
    return rows


def _walk(
    rows: Iterator[Any], pred: Predicate | None, offset: int, limit: int, *, count_all: bool
) -> Selection:
    """Rows already in page order: the matches ``offset``..``offset+limit``, then one more for
    ``hasMore`` (or all of them when the total is asked for)."""
    page: list[Any] = []
    matched, stop = 0, offset + limit
    for row in rows:
        if pred is None or pred(row):
            if offset <= matched < stop:
                page.append(row)
            matched += 1
            if matched > stop and not count_all:
                break
    return Selection(page=page, total=matched, has_more=matched > offset + len(page))


_LIKE_STAMP = datetime(2000, 1, 1, tzinfo=UTC)  # a value of LastUpdateDate's type, for span_of


def _indexed(
    ctx: Ctx,
    node: Node,
    table: Mapping[Any, Any],
    pred: Predicate | None,
    shape: Shape | None,
    order: OrderKeys | None,
    *,
    offset: int,
    limit: int,
    count_all: bool,
) -> Selection:
    """The full scan's answer, from the page index: only rows in the range ``q`` allows are read."""
    index = ctx.state.page_index(node.name, node.key, table)
    if not index.usable:
        return _slice(_scan(list(node.rows(ctx, None)), pred, order, node), offset, limit)
    stamps = index.stamp_range(None if shape is None else span_of(shape, STAMP, _LIKE_STAMP))
    ids = index.id_range(None if shape is None else span_of(shape, node.key, 0))
    order = order or []
    # (LastUpdateDate, id) order: by the stamp, ties by id (explicit, or the natural order)
    if order[:1] == [(STAMP, False)] and (
        order[1:2] == [(node.key, False)] or (len(order) == 1 and index.natural_is_id)
    ):
        if pred is None:
            return _positions(index.stamp_rows, table, stamps, offset, limit)
        return _walk(index.stamp_rows(table, *stamps), pred, offset, limit, count_all=count_all)
    by_id = order[:1] == [(node.key, False)] or (not order and index.natural_is_id)
    if by_id and (stamps[1] - stamps[0]) * 4 >= ids[1] - ids[0]:
        if pred is None:
            return _positions(index.id_rows, table, ids, offset, limit)
        return _walk(index.id_rows(table, *ids), pred, offset, limit, count_all=count_all)
    if not by_id and not index.natural_is_id:
        return _slice(_scan(list(node.rows(ctx, None)), pred, order, node), offset, limit)
    # the narrower range, in natural (= id) order, through the full scan's filter and sort
    if stamps[1] - stamps[0] < ids[1] - ids[0]:
        keys = sorted(k for _, k in index.by_stamp[stamps[0] : stamps[1]])
        candidates = [table[k] for k in keys]
    else:
        candidates = list(index.id_rows(table, *ids))
    return _slice(_scan(candidates, pred, order, node), offset, limit)


def _positions(
    rows: Callable[[Mapping[Any, Any], int, int], Iterator[Any]],
    table: Mapping[Any, Any],
    span: tuple[int, int],
    offset: int,
    limit: int,
) -> Selection:
    """No ``q``: the page is positions ``offset``.. of the range, no predicate to run."""
    start, end = span
    first = min(end, start + offset)
    page = list(rows(table, first, min(end, first + limit)))
    total = end - start
    return Selection(page=page, total=total, has_more=offset + len(page) < total)


def get_collection(ctx: Ctx, target: Target, params: Mapping[str, str]) -> Reply:
    node = target.node
    table: Mapping[Any, Any] | None = None
    indexed = node.table is not None and node.before_read is None and not params.get("finder")
    if indexed and node.table is not None and target.parent_row is None:
        table = node.table(ctx)
    rows: list[Any] = []
    if table is None:
        rows = list(node.rows(ctx, target.parent_row))
        if node.before_read is not None:
            node.before_read(ctx, rows)
        if finder := params.get("finder"):
            _, variables = _finder_filter(node, finder)
            clause = ";".join(f"{k}='{v}'" for k, v in variables.items())
            by_finder = compile_q(clause, framework=1, get=node.get, known=node.known)
            rows = [r for r in rows if by_finder(r)]
    pred: Predicate | None = None
    shape: Shape | None = None
    if q := params.get("q"):
        pred, shape = compile_cond(q, framework=ctx.framework, get=node.get, known=node.known)
    order = parse_order(order_by, node.known) if (order_by := params.get("orderBy")) else None
    limit = min(_int_param(params, "limit", ctx.config.default_limit), ctx.config.max_limit)
    offset = _int_param(params, "offset", 0)
    if table is None:
        found = _slice(_scan(rows, pred, order, node), offset, limit)
    else:
        found = _indexed(
            ctx,
            node,
            table,
            pred,
            shape,
            order,
            offset=offset,
            limit=limit,
            count_all=_flag(params, "totalResults"),
        )
    page = found.page
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
        "hasMore": found.has_more,
        "limit": limit,
        "offset": offset,
    }
    if _flag(params, "totalResults"):
        body["totalResults"] = found.total
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
