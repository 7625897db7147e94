"""Inventory purchase orders, PO types, warehouses and receipts (reference §6.2, §6.3, §6.9).

Wire names differ between request and response here too: ``memo`` is read back as ``summary`` and
``vendorInvoiceNumber`` as ``vendorDocumentNumber``; ``shipTo.description`` is not returned. The
rules themselves (status, totals, item replacement, receipts) live in ``state_purchasing``.
"""

from __future__ import annotations

from typing import Any

from ml_connector.sandbox.servicetitan.inventory import ADDRESS
from ml_connector.sandbox.servicetitan.paging import (
    common_predicates,
    external_predicates,
    field_equals,
    getter,
    in_set,
    int_list_param,
    list_param,
    range_predicates,
)
from ml_connector.sandbox.servicetitan.problems import not_found
from ml_connector.sandbox.servicetitan.routing import ApiRequest, Op
from ml_connector.sandbox.servicetitan.state import POItemInput, ReceiptItemInput
from ml_connector.sandbox.servicetitan.validation import (
    F,
    dec,
    dt,
    obj,
    opt,
    req,
    req_dt,
    req_obj,
    validate,
)

REASONS = ("NotRequired", "Duplicate", "Accidental", "VendorIssue", "Other", "JobCanceled")
_ITEM = {
    "skuId": req("int"),
    "description": req("str"),
    "vendorPartNumber": req("str"),
    "quantity": req("decimal"),
    "cost": req("decimal"),
    "budgetCodeId": opt("int"),
}
CREATE_PO = obj(
    vendorId=req("int"),
    typeId=req("int"),
    businessUnitId=req("int"),
    inventoryLocationId=req("int"),
    jobId=opt("int"),
    technicianId=opt("int"),
    projectId=opt("int"),
    budgetCodeId=opt("int"),
    shipTo=req_obj(description=req("str"), address=ADDRESS),
    vendorInvoiceNumber=opt("str"),
    impactsTechnicianPayroll=req("bool"),
    memo=opt("str"),
    date=req("datetime"),
    requiredOn=req("datetime"),
    tax=req("decimal"),
    shipping=req("decimal"),
    items=req("array", item=F(kind="object", fields=_ITEM)),
)
UPDATE_PO = obj(
    **{k: opt(v.kind, fields=v.fields) for k, v in CREATE_PO.fields.items() if k != "items"},
    items=opt("array", item=F(kind="object", fields={"id": req("int"), **_ITEM})),
)
CANCEL = obj(canceledReason=opt("enum", enum=REASONS))
RECEIVE = obj(
    purchaseOrderId=req("int"),
    jobId=opt("int"),
    dateReceived=req("datetime"),
    vendorDocumentNumber=opt("str"),
    memo=opt("str"),
    tax=req("decimal"),
    shipping=req("decimal"),
    budgetCodeId=opt("int"),
    items=req(
        "array",
        item=obj(
            purchaseOrderItemId=opt("int"),
            skuId=req("int"),
            description=opt("str"),
            vendorPartNumber=opt("str"),
            quantity=req("decimal"),
            cost=req("decimal"),
            budgetCodeId=opt("int"),
        ),
    ),
)


def _item(raw: dict[str, Any]) -> POItemInput:
    return POItemInput(
        id=raw.get("id"),
        sku_id=raw["skuId"],
        description=raw["description"],
        vendor_part_number=raw["vendorPartNumber"],
        quantity=dec(raw["quantity"]),
        cost=dec(raw["cost"]),
        budget_code_id=raw.get("budgetCodeId"),
    )


async def list_pos(api: ApiRequest) -> Any:
    q = api.query
    preds = common_predicates(q, active=None)
    statuses = set(list_param(q, "status"))
    if statuses:
        preds.append(lambda r: r.fields["status"] in statuses)
    preds += field_equals(q, "number", lambda r: r.fields["number"])
    for name in ("jobId", "technicianId", "projectId"):
        preds += field_equals(q, name, getter(name))
    job_ids = int_list_param(q, "jobIds")
    if job_ids is not None:
        preds.append(lambda r: r.fields["jobId"] in job_ids)
    preds += range_predicates(q, "date", lambda r: r.fields["date"])
    preds += range_predicates(q, "sent", lambda r: r.fields["sentOn"])
    return api.page("purchase_orders", preds)


async def get_po(api: ApiRequest) -> Any:
    ident = api.path_int("id")
    record = api.state.table("purchase_orders").get(ident)
    if record is None:
        raise not_found("Purchase order", ident)
    return api.state.wire("purchase_orders", record)


async def create_po(api: ApiRequest) -> Any:
    body = await api.json()
    validate(body, CREATE_PO)
    record = api.state.add_purchase_order(
        vendor_id=body["vendorId"],
        type_id=body["typeId"],
        business_unit_id=body["businessUnitId"],
        inventory_location_id=body["inventoryLocationId"],
        items=[_item(i) for i in body["items"]],
        date=req_dt(body["date"]),
        required_on=dt(body["requiredOn"]),
        tax=dec(body["tax"]),
        shipping=dec(body["shipping"]),
        ship_to=body["shipTo"]["address"],
        ship_to_description=body["shipTo"]["description"],
        job_id=body.get("jobId"),
        technician_id=body.get("technicianId"),
        project_id=body.get("projectId"),
        budget_code_id=body.get("budgetCodeId"),
        vendor_invoice_number=body.get("vendorInvoiceNumber"),
        memo=body.get("memo"),
        impacts_technician_payroll=body["impactsTechnicianPayroll"],
    )
    return {"id": record.id}


async def update_po(api: ApiRequest) -> Any:
    ident = api.path_int("id")
    if api.state.table("purchase_orders").get(ident) is None:
        raise not_found("Purchase order", ident)
    body = await api.json()
    validate(body, UPDATE_PO)
    fields: dict[str, Any] = {}
    for name in (
        "vendorId",
        "typeId",
        "businessUnitId",
        "inventoryLocationId",
        "jobId",
        "technicianId",
        "projectId",
        "budgetCodeId",
    ):
        if name in body and (body[name] is not None or name == "budgetCodeId"):
            fields[name] = body[name]
    if body.get("memo") is not None:
        fields["summary"] = body["memo"]
    if body.get("vendorInvoiceNumber") is not None:
        fields["vendorDocumentNumber"] = body["vendorInvoiceNumber"]
    for name in ("date", "requiredOn"):
        if body.get(name) is not None:
            fields[name] = dt(body[name])
    for name in ("tax", "shipping"):
        if body.get(name) is not None:
            fields[name] = dec(body[name])
    hidden: dict[str, Any] = {}
    if body.get("shipTo") is not None:
        fields["shipTo"] = {k: body["shipTo"]["address"].get(k) for k in ADDRESS.fields}
        hidden["shipToDescription"] = body["shipTo"]["description"]
    if body.get("impactsTechnicianPayroll") is not None:
        hidden["impactsTechnicianPayroll"] = body["impactsTechnicianPayroll"]
    items = [_item(i) for i in body["items"]] if body.get("items") is not None else None
    api.state.update_purchase_order(ident, items=items, hidden=hidden, **fields)
    return {"id": ident}


async def cancel_po(api: ApiRequest) -> Any:
    ident = api.path_int("id")
    if api.state.table("purchase_orders").get(ident) is None:
        raise not_found("Purchase order", ident)
    body = await api.json() or {}
    validate(body, CANCEL)
    api.state.cancel_purchase_order(ident, body.get("canceledReason"))
    return {"id": ident}


async def export_pos(api: ApiRequest) -> Any:
    return api.export("purchase_orders")


async def list_po_types(api: ApiRequest) -> Any:
    return api.page("purchase_order_types", common_predicates(api.query))


async def list_warehouses(api: ApiRequest) -> Any:
    return api.page("warehouses", common_predicates(api.query) + external_predicates(api.query))


async def list_receipts(api: ApiRequest) -> Any:
    q = api.query
    preds = common_predicates(q)
    for param, name in (
        ("purchaseOrderIds", "purchaseOrderId"),
        ("vendorIds", "vendorId"),
        ("businessUnitIds", "businessUnitId"),
        ("inventoryLocationIds", "inventoryLocationId"),
    ):
        wanted = int_list_param(q, param)
        if wanted is not None:
            preds.append(in_set(name, wanted))
    for name in ("number", "vendorInvoiceNumber", "billId", "batchId"):
        preds += field_equals(q, name, getter(name))
    sync = set(list_param(q, "syncStatuses"))
    if sync:
        preds.append(lambda r: r.fields["syncStatus"] in sync)
    preds += range_predicates(q, "received", lambda r: r.fields["receivedOn"])
    return api.page("receipts", preds)


async def create_receipt(api: ApiRequest) -> Any:
    body = await api.json()
    validate(body, RECEIVE)
    record = api.state.receive_purchase_order(
        purchase_order_id=body["purchaseOrderId"],
        date_received=req_dt(body["dateReceived"]),
        items=[
            ReceiptItemInput(
                sku_id=i["skuId"],
                quantity=dec(i["quantity"]),
                cost=dec(i["cost"]),
                purchase_order_item_id=i.get("purchaseOrderItemId"),
                description=i.get("description"),
                vendor_part_number=i.get("vendorPartNumber"),
                budget_code_id=i.get("budgetCodeId"),
            )
            for i in body["items"]
        ],
        tax=dec(body["tax"]),
        shipping=dec(body["shipping"]),
        vendor_document_number=body.get("vendorDocumentNumber"),
        memo=body.get("memo"),
        budget_code_id=body.get("budgetCodeId"),
    )
    return {"id": record.id}


async def cancel_receipt(api: ApiRequest) -> Any:
    ident = api.path_int("id")
    if api.state.table("receipts").get(ident) is None:
        raise not_found("Receipt", ident)
    body = await api.json() or {}
    validate(body, CANCEL)
    api.state.cancel_receipt(ident, body.get("canceledReason"))
    return {"id": ident}


def _op(method: str, template: str, scope: str, handler: Any) -> Op:
    return Op(method=method, namespace="inventory", template=template, scope=scope, handler=handler)


_PO_R, _PO_W = "tn.inv.purchaseorders:r", "tn.inv.purchaseorders:w"
OPS = [
    _op("GET", "/purchase-orders", _PO_R, list_pos),
    _op("GET", "/purchase-orders/{id}", _PO_R, get_po),
    _op("POST", "/purchase-orders", _PO_W, create_po),
    _op("PATCH", "/purchase-orders/{id}", _PO_W, update_po),
    _op("PATCH", "/purchase-orders/{id}/cancellation", _PO_W, cancel_po),
    _op("GET", "/export/purchase-orders", _PO_R, export_pos),
    _op("GET", "/purchase-order-types", "tn.inv.purchaseordertypes:r", list_po_types),
    _op("GET", "/warehouses", "tn.inv.warehouses:r", list_warehouses),
    _op("GET", "/receipts", "tn.inv.receipts:r", list_receipts),
    _op("POST", "/receipts", "tn.inv.receipts:w", create_receipt),
    _op("PATCH", "/receipts/{id}/cancellation", "tn.inv.receipts:w", cancel_receipt),
]
