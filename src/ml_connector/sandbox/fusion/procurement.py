"""Procurement resources: suppliers, purchaseOrders, receivingReceiptRequests (reference §4.1–§4.3).

Receipt requests are processed like the receiving interface: the header stays ``PENDING`` until processed
(immediately, after N GETs, or after N clock seconds; FusionSimConfig), then becomes ``SUCCESS`` or
``ERROR``. Processing is all-or-nothing per header: any line error leaves every schedule unchanged and
puts ``processingErrors`` on the failing lines. A success raises the schedules' ``ReceivedQuantity`` and
moves the PO's ``LastUpdateDate`` (so the PO flow sees the receipt).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from .config import ReceiptProcessing
from .errors import ApiError
from .payload import opt_decimal, opt_int, opt_str, rows_of
from .records import (
    POLine,
    POSchedule,
    ProcessingError,
    PurchaseOrder,
    ReceiptRequest,
    ReceiptRequestLine,
    Supplier,
)
from .tree import Ctx

_SUPPLIER_WRITABLE = frozenset(Supplier.attr_names()) - {
    "SupplierId",
    "SupplierPartyId",
    "SupplierNumber",
    "CreationDate",
    "CreatedBy",
    "LastUpdateDate",
    "LastUpdatedBy",
}


def create_supplier(ctx: Ctx, parent: Any, body: Mapping[str, Any]) -> Supplier:
    """POST /suppliers (optional in the sandbox): header attributes plus ``addresses`` and ``sites``."""
    name = opt_str(body, "Supplier")
    if not name:
        raise ApiError.bad("Attribute Supplier is required.", code="JBO-27014", path="Supplier")
    attrs = {k: v for k, v in body.items() if k in _SUPPLIER_WRITABLE and k != "Supplier"}
    sup = ctx.state.add_supplier(name, **attrs)
    for addr in rows_of(body, "addresses"):
        ctx.state.add_supplier_address(
            sup.SupplierId,
            str(addr.get("AddressName", "Main")),
            **_pick_str(addr, "AddressLine1", "City", "State", "PostalCode", "CountryCode"),
        )
    for site in rows_of(body, "sites"):
        bu_id = opt_int(site, "ProcurementBUId")
        if bu_id is None or bu_id not in ctx.state.business_units:
            raise ApiError.bad(
                "The procurement business unit is not valid.", path="ProcurementBUId"
            )
        ctx.state.add_supplier_site(sup.SupplierId, str(site.get("SupplierSite", "Main")), bu_id)
    return sup


def _pick_str(body: Mapping[str, Any], *names: str) -> dict[str, str]:
    return {n: str(body[n]) for n in names if body.get(n) is not None}


def update_supplier(ctx: Ctx, row: Any, body: Mapping[str, Any]) -> None:
    bad = [k for k in body if k not in _SUPPLIER_WRITABLE]
    if bad:
        raise ApiError.bad(f"Attribute {bad[0]} cannot be updated.", code="JBO-27008", path=bad[0])
    ctx.state.update_supplier(row.SupplierId, **dict(body))


# --- receiving -----------------------------------------------------------------------------------


def create_receipt_request(ctx: Ctx, parent: Any, body: Mapping[str, Any]) -> ReceiptRequest:
    st = ctx.state
    lines = []
    for raw in rows_of(body, "lines"):
        lines.append(
            ReceiptRequestLine(
                InterfaceTransactionId=st.new_id(),
                ReceiptSourceCode=opt_str(raw, "ReceiptSourceCode") or "VENDOR",
                SourceDocumentCode=opt_str(raw, "SourceDocumentCode") or "PO",
                TransactionType=opt_str(raw, "TransactionType") or "RECEIVE",
                AutoTransactCode=opt_str(raw, "AutoTransactCode"),
                OrganizationCode=opt_str(raw, "OrganizationCode"),
                DocumentNumber=opt_str(raw, "DocumentNumber"),
                DocumentLineNumber=opt_int(raw, "DocumentLineNumber"),
                DocumentShipmentLineNumber=opt_int(raw, "DocumentShipmentLineNumber"),
                ItemNumber=opt_str(raw, "ItemNumber"),
                ItemDescription=opt_str(raw, "ItemDescription"),
                Quantity=opt_decimal(raw, "Quantity"),
                UnitOfMeasure=opt_str(raw, "UnitOfMeasure"),
                Amount=opt_decimal(raw, "Amount"),
                POHeaderId=opt_int(raw, "POHeaderId"),
                POLineId=opt_int(raw, "POLineId"),
                POLineLocationId=opt_int(raw, "POLineLocationId"),
            )
        )
    if not lines:
        raise ApiError.bad(
            "A receipt request needs at least one line.", code="JBO-27014", path="lines"
        )
    req = ReceiptRequest(
        HeaderInterfaceId=st.new_id(),
        ReceiptSourceCode=opt_str(body, "ReceiptSourceCode") or "VENDOR",
        OrganizationCode=opt_str(body, "OrganizationCode"),
        VendorName=opt_str(body, "VendorName"),
        VendorNumber=opt_str(body, "VendorNumber"),
        VendorId=opt_int(body, "VendorId"),
        BusinessUnit=opt_str(body, "BusinessUnit"),
        EmployeeId=opt_int(body, "EmployeeId"),
        ReceiptNumber=opt_str(body, "ReceiptNumber"),
        TransactionDate=st.now(),
        lines=lines,
        **st.stamps(),
    )
    st.receipt_requests[req.HeaderInterfaceId] = req
    if ctx.config.receipt_processing is ReceiptProcessing.IMMEDIATE:
        process_receipt_request(ctx, req)
    return req


def maybe_process(ctx: Ctx, rows: Sequence[Any]) -> None:
    """``before_read`` hook: count GETs and process PENDING headers whose time has come."""
    cfg = ctx.config
    for req in rows:
        if not isinstance(req, ReceiptRequest) or req.ProcessingStatusCode != "PENDING":
            continue
        req.gets_seen += 1
        due = cfg.receipt_processing is ReceiptProcessing.IMMEDIATE
        if cfg.receipt_processing is ReceiptProcessing.AFTER_GETS:
            due = req.gets_seen > cfg.receipt_processing_gets
        elif cfg.receipt_processing is ReceiptProcessing.AFTER_SECONDS:
            due = ctx.state.now() >= req.CreationDate + timedelta(
                seconds=cfg.receipt_processing_seconds
            )
        if due:
            process_receipt_request(ctx, req)


def _locate(
    ctx: Ctx, line: ReceiptRequestLine
) -> tuple[PurchaseOrder, POLine, POSchedule] | tuple[str, str, str]:
    """The PO schedule a line receives against, or (column, message name, message)."""
    st = ctx.state
    po = st.purchase_orders.get(line.POHeaderId) if line.POHeaderId else None
    if po is None and line.DocumentNumber:
        po = st.po_by_number(line.DocumentNumber)
    if po is None:
        return (
            "DOCUMENT_NUMBER",
            "RCV_INVALID_PO_NUMBER",
            f"The purchase order {line.DocumentNumber} is not valid.",
        )
    if po.StatusCode not in ("OPEN",):
        return (
            "DOCUMENT_NUMBER",
            "RCV_PO_NOT_OPEN",
            f"The purchase order {po.OrderNumber} is not open for receiving.",
        )
    po_line = next(
        (
            ln
            for ln in po.lines
            if ln.POLineId == line.POLineId or ln.LineNumber == line.DocumentLineNumber
        ),
        None,
    )
    if po_line is None:
        return (
            "DOCUMENT_LINE_NUMBER",
            "RCV_INVALID_PO_LINE",
            f"The line {line.DocumentLineNumber} of purchase order {po.OrderNumber} is not valid.",
        )
    shipment = line.DocumentShipmentLineNumber or 1
    sched = next(
        (
            s
            for s in po_line.schedules
            if s.LineLocationId == line.POLineLocationId or s.ScheduleNumber == shipment
        ),
        None,
    )
    if sched is None:
        return (
            "DOCUMENT_SHIPMENT_LINE_NUMBER",
            "RCV_INVALID_PO_SHIPMENT",
            f"The schedule {shipment} is not valid.",
        )
    if line.ItemNumber and po_line.Item and line.ItemNumber != po_line.Item:
        return (
            "ITEM_NUMBER",
            "RCV_INVALID_ITEM",
            f"The item {line.ItemNumber} does not match the purchase order line.",
        )
    return po, po_line, sched


def process_receipt_request(ctx: Ctx, req: ReceiptRequest) -> None:
    st = ctx.state
    planned: list[tuple[PurchaseOrder, POLine, POSchedule, Decimal]] = []
    failed = False
    for line in req.lines:
        found = _locate(ctx, line)
        error: tuple[str, str, str] | None = None
        if isinstance(found[0], str):
            error = found
        else:
            po, po_line, sched = found
            qty = line.Quantity if line.Quantity is not None else Decimal(0)
            already = sum((p[3] for p in planned if p[2] is sched), Decimal(0))
            if qty <= 0:
                error = (
                    "QUANTITY",
                    "RCV_INVALID_QUANTITY",
                    "The quantity must be greater than zero.",
                )
            elif sched.ReceivedQuantity + already + qty > sched.Quantity:
                error = (
                    "QUANTITY",
                    "RCV_RCPT_QTY_EXCEEDS_TOLERANCE",
                    f"The quantity {qty} exceeds the quantity remaining to receive ({sched.Quantity - sched.ReceivedQuantity - already}).",
                )
            else:
                planned.append((po, po_line, sched, qty))
        if error is not None:
            failed = True
            column, name, message = error
            line.ProcessingStatusCode = "ERROR"
            line.processingErrors.append(
                ProcessingError(
                    InterfaceErrorId=st.new_id(),
                    HeaderInterfaceId=req.HeaderInterfaceId,
                    InterfaceTransactionId=line.InterfaceTransactionId,
                    ColumnName=column,
                    ErrorMessageName=name,
                    ErrorMessage=message,
                )
            )
    if failed:
        req.ProcessingStatusCode = "ERROR"
        for line in req.lines:
            if line.ProcessingStatusCode == "PENDING":
                line.ProcessingStatusCode = "ERROR"  # nothing on the header was received
    else:
        for po, po_line, sched, qty in planned:
            sched.ReceivedQuantity += qty
            sched.ReceivedAmount = sched.ReceivedQuantity * po_line.Price
            st.touch(po)
        for line in req.lines:
            line.ProcessingStatusCode = "SUCCESS"
        req.ProcessingStatusCode = "SUCCESS"
    st.touch(req)
