"""CRM customers (reference §6.6): list, by id, export; ``balance`` is a JSON number here."""

from __future__ import annotations

from typing import Any

from ml_connector.sandbox.servicetitan.paging import (
    Predicate,
    common_predicates,
    external_predicates,
)
from ml_connector.sandbox.servicetitan.problems import not_found
from ml_connector.sandbox.servicetitan.routing import ApiRequest, Op


def _address_is(part: str, value: str) -> Predicate:
    return lambda r: (r.fields["address"][part] or "").lower() == value


async def list_customers(api: ApiRequest) -> Any:
    q = api.query
    preds = common_predicates(q) + external_predicates(q)
    name = (q.get("name") or "").lower()
    if name:
        preds.append(lambda r: name in r.fields["name"].lower())
    for part in ("street", "city", "state", "zip", "country"):
        value = (q.get(part) or "").lower()
        if value:
            preds.append(_address_is(part, value))
    return api.page("customers", preds)


async def get_customer(api: ApiRequest) -> Any:
    ident = api.path_int("id")
    record = api.state.table("customers").get(ident)
    if record is None:
        raise not_found("Customer", ident)
    return api.state.wire("customers", record)


async def export_customers(api: ApiRequest) -> Any:
    return api.export("customers")


OPS = [
    Op(
        method="GET",
        namespace="crm",
        template="/customers",
        scope="tn.crm.customers:r",
        handler=list_customers,
    ),
    Op(
        method="GET",
        namespace="crm",
        template="/customers/{id}",
        scope="tn.crm.customers:r",
        handler=get_customer,
    ),
    Op(
        method="GET",
        namespace="crm",
        template="/export/customers",
        scope="tn.crm.customers:r",
        handler=export_customers,
    ),
]
