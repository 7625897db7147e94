"""Settings business units (reference §6.7): list (``name`` contains) and by id."""

from __future__ import annotations

from typing import Any

from ml_connector.sandbox.servicetitan.paging import common_predicates, external_predicates
from ml_connector.sandbox.servicetitan.problems import not_found
from ml_connector.sandbox.servicetitan.routing import ApiRequest, Op


async def list_business_units(api: ApiRequest) -> Any:
    preds = common_predicates(api.query) + external_predicates(api.query)
    name = (api.query.get("name") or "").lower()
    if name:
        preds.append(lambda r: name in r.fields["name"].lower())
    return api.page("business_units", preds)


async def get_business_unit(api: ApiRequest) -> Any:
    ident = api.path_int("id")
    record = api.state.table("business_units").get(ident)
    if record is None:
        raise not_found("Business unit", ident)
    return api.state.wire("business_units", record)


OPS = [
    Op(
        method="GET",
        namespace="settings",
        template="/business-units",
        scope="tn.stt.businessunits:r",
        handler=list_business_units,
    ),
    Op(
        method="GET",
        namespace="settings",
        template="/business-units/{id}",
        scope="tn.stt.businessunits:r",
        handler=get_business_unit,
    ),
]
