"""Pricebook materials and equipment (reference §6.2: PO items point at these SKUs).

The specs give these lists no ``code`` parameter; ``searchText`` is what they offer. The simulator
matches ``searchText`` case-insensitively against code, display name and description, and also
honours ``code`` as an exact match so SKU lookup by code is cheap in tests; a client must not rely
on ``code`` against the real API (it would be ignored there, returning every SKU).
"""

from __future__ import annotations

from typing import Any

from ml_connector.sandbox.servicetitan.paging import common_predicates, external_predicates
from ml_connector.sandbox.servicetitan.problems import not_found
from ml_connector.sandbox.servicetitan.routing import ApiRequest, Op


def _lister(table: str) -> Any:
    async def handler(api: ApiRequest) -> Any:
        q = api.query
        preds = common_predicates(q) + external_predicates(q)
        text = (q.get("searchText") or "").lower()
        if text:
            preds.append(
                lambda r: any(
                    text in (r.fields[k] or "").lower()
                    for k in ("code", "displayName", "description")
                )
            )
        code = q.get("code")
        if code:
            preds.append(lambda r: r.fields["code"] == code)
        return api.page(table, preds)

    return handler


def _getter(table: str, what: str) -> Any:
    async def handler(api: ApiRequest) -> Any:
        ident = api.path_int("id")
        record = api.state.table(table).get(ident)
        if record is None:
            raise not_found(what, ident)
        return api.state.wire(table, record)

    return handler


OPS = [
    Op(
        method="GET",
        namespace="pricebook",
        template="/materials",
        scope="tn.pb.materials:r",
        handler=_lister("materials"),
    ),
    Op(
        method="GET",
        namespace="pricebook",
        template="/materials/{id}",
        scope="tn.pb.materials:r",
        handler=_getter("materials", "Material"),
    ),
    Op(
        method="GET",
        namespace="pricebook",
        template="/equipment",
        scope="tn.pb.equipment:r",
        handler=_lister("equipment"),
    ),
    Op(
        method="GET",
        namespace="pricebook",
        template="/equipment/{id}",
        scope="tn.pb.equipment:r",
        handler=_getter("equipment", "Equipment"),
    ),
]
