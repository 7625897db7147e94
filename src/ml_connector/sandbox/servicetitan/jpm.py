"""JPM jobs (reference §6.8): list and by id. Jobs have no ``active`` flag on the wire."""

from __future__ import annotations

from typing import Any

from ml_connector.sandbox.servicetitan.paging import (
    common_predicates,
    external_predicates,
    field_equals,
    getter,
    range_predicates,
)
from ml_connector.sandbox.servicetitan.problems import not_found
from ml_connector.sandbox.servicetitan.routing import ApiRequest, Op
from ml_connector.sandbox.servicetitan.timefmt import parse_dt


async def list_jobs(api: ApiRequest) -> Any:
    q = api.query
    preds = common_predicates(q, active=None) + external_predicates(q)
    for name in (
        "customerId",
        "locationId",
        "businessUnitId",
        "invoiceId",
        "projectId",
        "jobStatus",
        "jobTypeId",
        "campaignId",
        "priority",
    ):
        preds += field_equals(q, name, getter(name))
    preds += field_equals(q, "number", getter("jobNumber"))

    def completed(r: Any) -> Any:
        value = r.fields["completedOn"]
        return parse_dt(value) if isinstance(value, str) else value

    preds += range_predicates(q, "completed", completed)
    return api.page("jobs", preds)


async def get_job(api: ApiRequest) -> Any:
    ident = api.path_int("id")
    record = api.state.table("jobs").get(ident)
    if record is None:
        raise not_found("Job", ident)
    return api.state.wire("jobs", record)


OPS = [
    Op(method="GET", namespace="jpm", template="/jobs", scope="tn.jpm.jobs:r", handler=list_jobs),
    Op(
        method="GET", namespace="jpm", template="/jobs/{id}", scope="tn.jpm.jobs:r", handler=get_job
    ),
]
