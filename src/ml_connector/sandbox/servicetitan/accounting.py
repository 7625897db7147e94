"""Accounting invoices, payments and payment types (reference §6.4, §6.5, §7).

Quirks kept: money as strings; ``activeState`` instead of ``active``; ``statuses`` repeated
(``&statuses=Pending&statuses=Posted``); no invoice GET by id (use ``?ids=``); no ``POST /payments``;
``invoices/markasexported`` answers per item (unknown id → ``success: false``); payments change
``syncStatus`` through ``payments/status`` (200, no body).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ml_connector.sandbox.servicetitan.paging import (
    Predicate,
    common_predicates,
    date_param,
    field_equals,
    in_set,
    int_list_param,
    list_param,
    range_predicates,
)
from ml_connector.sandbox.servicetitan.problems import not_found
from ml_connector.sandbox.servicetitan.records import Record
from ml_connector.sandbox.servicetitan.routing import ApiRequest, Op
from ml_connector.sandbox.servicetitan.state_accounting import SYNC_STATUSES
from ml_connector.sandbox.servicetitan.timefmt import parse_dt
from ml_connector.sandbox.servicetitan.validation import F, obj, opt, req, validate

MARK_EXPORTED = F(
    kind="array",
    item=obj(invoiceId=req("int"), externalId=opt("str"), externalMessage=opt("str")),
)
PAYMENT_STATUS = obj(
    paymentIds=req("array", item=req("int")), status=req("enum", enum=SYNC_STATUSES)
)


def _ref_id(name: str) -> Any:
    """Read ``<name>.id`` of a named reference field (``customer``, ``job`` …)."""

    def get(r: Record) -> Any:
        ref = r.fields.get(name)
        return None if ref is None else ref["id"]

    return get


def _when(name: str) -> Any:
    def get(r: Record) -> Any:
        value = r.fields.get(name)
        return parse_dt(value) if isinstance(value, str) else value

    return get


async def list_invoices(api: ApiRequest) -> Any:
    q = api.query
    preds = common_predicates(q, active="activeState")
    for param, field in (
        ("statuses", "syncStatus"),
        ("reviewStatuses", "reviewStatus"),
        ("invoiceConfigurations", "invoiceConfiguration"),
    ):
        wanted = set(list_param(q, param))
        if wanted:
            preds.append(in_set(field, wanted))
    for param, ref in (
        ("batchId", "batch"),
        ("jobId", "job"),
        ("businessUnitId", "businessUnit"),
        ("customerId", "customer"),
    ):
        preds += field_equals(q, param, _ref_id(ref))
    preds += field_equals(q, "number", lambda r: r.fields["referenceNumber"])
    preds += field_equals(q, "adjustmentToId", lambda r: r.fields["adjustmentToId"])
    preds += field_equals(q, "jobNumber", lambda r: (r.fields["job"] or {}).get("number"))
    # ``invoicedOnOrAfter`` / ``invoicedOnBefore`` (sic): not the usual <prefix>OnOrAfter pair.
    invoiced = _when("invoiceDate")
    after, before = date_param(q, "invoicedOnOrAfter"), date_param(q, "invoicedOnBefore")
    if after is not None:
        preds.append(lambda r: (v := invoiced(r)) is not None and v >= after)
    if before is not None:
        preds.append(lambda r: (v := invoiced(r)) is not None and v < before)
    preds += range_predicates(q, "dueDate", _when("dueDate"))
    return api.page("invoices", preds)


async def export_invoices(api: ApiRequest) -> Any:
    return api.export("invoices")


async def mark_exported(api: ApiRequest) -> Any:
    body = await api.json()
    validate(body, MARK_EXPORTED)
    entries = [(e["invoiceId"], e.get("externalId"), e.get("externalMessage")) for e in body]
    return api.state.mark_invoices_exported(entries)


def _payment_predicates(api: ApiRequest) -> list[Predicate]:
    q = api.query
    preds = common_predicates(q, active="activeState")
    invoice_ids = int_list_param(q, "appliedToInvoiceIds")
    if invoice_ids is not None:
        preds.append(lambda r: any(a["appliedTo"] in invoice_ids for a in r.fields["appliedTo"]))
    ref = q.get("appliedToReferenceNumber")
    if ref:
        preds.append(
            lambda r: any(a["appliedToReferenceNumber"] == ref for a in r.fields["appliedTo"])
        )
    preds += field_equals(q, "customerId", _ref_id("customer"))
    preds += field_equals(q, "batchId", _ref_id("batch"))
    units = int_list_param(q, "businessUnitIds")
    if units is not None:
        get_bu = _ref_id("businessUnit")
        preds.append(lambda r: get_bu(r) in units)
    statuses = set(list_param(q, "statuses"))
    if statuses:
        preds.append(lambda r: r.fields["syncStatus"] in statuses)
    paid_after, paid_before = date_param(q, "paidOnAfter"), date_param(q, "paidOnBefore")
    if paid_after is not None:
        preds.append(lambda r: r.fields["date"] >= paid_after)
    if paid_before is not None:
        preds.append(lambda r: r.fields["date"] < paid_before)
    return preds


async def list_payments(api: ApiRequest) -> Any:
    return api.page("payments", _payment_predicates(api))


async def export_payments(api: ApiRequest) -> Any:
    return api.export("payments")


async def payment_status(api: ApiRequest) -> Any:
    body = await api.json()
    validate(body, PAYMENT_STATUS)
    api.state.set_payment_status(body["paymentIds"], body["status"])
    return Response(status_code=200)


async def list_payment_types(api: ApiRequest) -> Any:
    return api.page("payment_types", common_predicates(api.query, active=None))


async def get_payment_type(api: ApiRequest) -> Any:
    ident = api.path_int("id")
    record = api.state.table("payment_types").get(ident)
    if record is None:
        raise not_found("Payment type", ident)
    return api.state.wire("payment_types", record)


def _op(method: str, template: str, scope: str, handler: Any) -> Op:
    return Op(
        method=method, namespace="accounting", template=template, scope=scope, handler=handler
    )


OPS = [
    _op("GET", "/invoices", "tn.acc.invoices:r", list_invoices),
    _op("GET", "/export/invoices", "tn.acc.invoices:r", export_invoices),
    _op("POST", "/invoices/markasexported", "tn.acc.invoices:w", mark_exported),
    _op("GET", "/payments", "tn.acc.payments:r", list_payments),
    _op("GET", "/export/payments", "tn.acc.payments:r", export_payments),
    _op("POST", "/payments/status", "tn.acc.payments:w", payment_status),
    _op("GET", "/payment-types", "tn.acc.paymenttypes:r", list_payment_types),
    _op("GET", "/payment-types/{id}", "tn.acc.paymenttypes:r", get_payment_type),
]
