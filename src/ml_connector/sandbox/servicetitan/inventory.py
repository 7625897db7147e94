"""Inventory vendors (reference §6.1).

Request and response names differ: ``taxRate`` → ``defaultTaxRate``, ``restrictedMobileCreation`` →
``isMobileCreationRestricted``, flat ``firstName``/``lastName``/``phone``/``email``/``fax`` → nested
``contactInfo``. ``paymentTermId``, ``remittanceVendorId``, ``tags``, ``vendorContacts`` and
``vendorQuickbooksItem`` are write-only: kept, never returned. No DELETE.
"""

from __future__ import annotations

from typing import Any

from ml_connector.sandbox.servicetitan.paging import common_predicates, external_predicates
from ml_connector.sandbox.servicetitan.problems import not_found
from ml_connector.sandbox.servicetitan.routing import ApiRequest, Op
from ml_connector.sandbox.servicetitan.validation import F, dec, obj, opt, req, req_obj, validate

DELIVERY = (
    "Manual",
    "EmailAsExcel",
    "EmailAsPdf",
    "EmailAsPdfRollupView",
    "Electronic",
    "MarkAsSent",
    "EmailAsExcelAndPdf",
    "VendorPortal",
)
CONTACT = ("firstName", "lastName", "phone", "email", "fax")
WRITE_ONLY = (
    "vendorQuickbooksItem",
    "paymentTermId",
    "remittanceVendorId",
    "tags",
    "vendorContacts",
)
ADDRESS = req_obj(**{k: req("str") for k in ("street", "unit", "city", "state", "zip", "country")})
_PAIR = F(kind="object", fields={"key": req("str"), "value": req("str")})


def _vendor_fields(required: bool) -> F:
    r = req if required else opt
    return obj(
        name=r("str"),
        active=r("bool"),
        memo=opt("str"),
        **{k: opt("str") for k in CONTACT},
        isTruckReplenishment=r("bool"),
        deliveryOption=opt("enum", enum=DELIVERY),
        taxRate=r("decimal"),
        restrictedMobileCreation=r("bool"),
        vendorQuickbooksItem=opt("str"),
        paymentTermId=opt("int"),
        remittanceVendorId=opt("int"),
        address=ADDRESS if required else obj(**ADDRESS.fields),
        externalData=obj(
            applicationGuid=req("str"),
            externalData=req("array", item=_PAIR),
            patchMode=opt("enum", enum=("Replace", "Merge")),
        ),
        tags=opt("array", item=obj(tagTypeId=req("int"))),
        vendorContacts=opt("array", item=obj(id=opt("int"), name=req("str"), email=req("str"))),
    )


CREATE = _vendor_fields(True)
UPDATE = _vendor_fields(False)


def _external(body: dict[str, Any]) -> tuple[str, dict[str, str], bool] | None:
    ext = body.get("externalData")
    if not ext:
        return None
    pairs = {p["key"]: p["value"] for p in ext["externalData"]}
    return ext["applicationGuid"], pairs, ext.get("patchMode") == "Merge"


async def list_vendors(api: ApiRequest) -> Any:
    preds = common_predicates(api.query) + external_predicates(api.query)
    return api.page("vendors", preds)


async def get_vendor(api: ApiRequest) -> Any:
    ident = api.path_int("id")
    record = api.state.table("vendors").get(ident)
    if record is None:
        raise not_found("Vendor", ident)
    return api.state.wire("vendors", record)


async def create_vendor(api: ApiRequest) -> Any:
    body = await api.json()
    validate(body, CREATE)
    ext = _external(body)
    record = api.state.add_vendor(
        body["name"],
        active=body["active"],
        tax_rate=dec(body["taxRate"]),
        restricted_mobile_creation=body["restrictedMobileCreation"],
        is_truck_replenishment=body["isTruckReplenishment"],
        memo=body.get("memo") or "",
        delivery_option=body.get("deliveryOption") or "Manual",
        contact={k: body.get(k) or "" for k in CONTACT},
        address_=body["address"],
        external={ext[0]: ext[1]} if ext else None,
        write_only={k: body[k] for k in WRITE_ONLY if body.get(k) is not None},
    )
    return {"id": record.id}


async def update_vendor(api: ApiRequest) -> Any:
    ident = api.path_int("id")
    record = api.state.table("vendors").get(ident)
    if record is None:
        raise not_found("Vendor", ident)
    body = await api.json()
    validate(body, UPDATE)
    changes: dict[str, Any] = {}
    renames = {
        "name": "name",
        "memo": "memo",
        "isTruckReplenishment": "isTruckReplenishment",
        "deliveryOption": "deliveryOption",
        "restrictedMobileCreation": "isMobileCreationRestricted",
    }
    for src, dst in renames.items():
        if body.get(src) is not None:
            changes[dst] = body[src]
    if body.get("taxRate") is not None:
        changes["defaultTaxRate"] = dec(body["taxRate"])
    if any(body.get(k) is not None for k in CONTACT):
        contact = dict(record.fields["contactInfo"])
        contact.update({k: body[k] for k in CONTACT if body.get(k) is not None})
        changes["contactInfo"] = contact
    if body.get("address") is not None:
        address = dict(record.fields["address"])
        address.update({k: v for k, v in body["address"].items() if k in address})
        changes["address"] = address
    record.hidden.update({k: body[k] for k in WRITE_ONLY if body.get(k) is not None})
    api.state.update("vendors", ident, active=body.get("active"), **changes)
    ext = _external(body)
    if ext:
        api.state.set_external("vendors", ident, ext[0], ext[1], merge=ext[2])
    return {"id": ident}


OPS = [
    Op(
        method="GET",
        namespace="inventory",
        template="/vendors",
        scope="tn.inv.vendors:r",
        handler=list_vendors,
    ),
    Op(
        method="GET",
        namespace="inventory",
        template="/vendors/{id}",
        scope="tn.inv.vendors:r",
        handler=get_vendor,
    ),
    Op(
        method="POST",
        namespace="inventory",
        template="/vendors",
        scope="tn.inv.vendors:w",
        handler=create_vendor,
    ),
    Op(
        method="PATCH",
        namespace="inventory",
        template="/vendors/{id}",
        scope="tn.inv.vendors:w",
        handler=update_vendor,
    ),
]
