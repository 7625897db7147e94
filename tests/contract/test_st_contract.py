"""Contract tests: the ServiceTitan simulator against ServiceTitan's own OpenAPI documents.

servicetitan-api.md §0 and §13 ("Schemas from the JSON files"): every operation the simulator
serves exists in the specs with the same method and the same OAuth scope; every 200 body it sends
fits the operation's response schema (``additionalProperties: false`` included, so no invented
fields); every request body used here fits the request schema and is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from starlette.routing import Route

from ml_connector.sandbox.servicetitan import (
    OPERATIONS,
    SEED_APP_GUID,
    ReceiptItemInput,
    create_app,
)

from .conftest import SimClient
from .specs import find_path, operation, scopes, validate_request, validate_response

ADDRESS = {
    "street": "1 Supply Way",
    "unit": "Suite 2",
    "city": "Tempe",
    "state": "AZ",
    "zip": "85281",
    "country": "USA",
}


def vendor_create(sim: SimClient) -> dict[str, Any]:
    return {
        "name": "Contract Vendor",
        "active": True,
        "isTruckReplenishment": False,
        "taxRate": 0.0825,
        "restrictedMobileCreation": True,
        "firstName": "Lee",
        "email": "lee@example.com",
        "deliveryOption": "EmailAsPdf",
        "paymentTermId": 7,
        "address": ADDRESS,
        "externalData": {
            "applicationGuid": SEED_APP_GUID,
            "externalData": [{"key": "fusionSupplierId", "value": "300000999"}],
        },
    }


def vendor_update(sim: SimClient) -> dict[str, Any]:
    return {
        "taxRate": 0.09,
        "phone": "602-555-0100",
        "externalData": {
            "applicationGuid": SEED_APP_GUID,
            "externalData": [{"key": "fusionSiteId", "value": "42"}],
            "patchMode": "Merge",
        },
    }


def po_create(sim: SimClient) -> dict[str, Any]:
    s = sim.seed
    return {
        "vendorId": s.vendors[0],
        "typeId": s.po_types[0],
        "businessUnitId": s.business_units[0],
        "inventoryLocationId": s.warehouses[0],
        "shipTo": {"description": "Main warehouse dock", "address": ADDRESS},
        "impactsTechnicianPayroll": False,
        "memo": "Contract PO",
        "date": "2026-11-02T00:00:00Z",
        "requiredOn": "2026-11-09T00:00:00Z",
        "tax": 8.25,
        "shipping": 10,
        "items": [
            {
                "skuId": s.materials[0],
                "description": "Filter",
                "vendorPartNumber": "F1620",
                "quantity": 5,
                "cost": 4.1,
            }
        ],
    }


def po_update(sim: SimClient) -> dict[str, Any]:
    po = sim.state.require("purchase_orders", sim.seed.purchase_orders[0])
    first = po.fields["items"][0]
    return {
        "memo": "Changed",
        "items": [
            {
                "id": first["id"],
                "skuId": first["skuId"],
                "description": "Filter, more",
                "vendorPartNumber": "F1620",
                "quantity": 12,
                "cost": 4.1,
            }
        ],
    }


def receipt_create(sim: SimClient) -> dict[str, Any]:
    po = sim.state.require("purchase_orders", sim.seed.purchase_orders[0])
    first = po.fields["items"][0]
    return {
        "purchaseOrderId": po.id,
        "dateReceived": "2026-11-03T15:00:00Z",
        "tax": 0,
        "shipping": 0,
        "items": [
            {
                "purchaseOrderItemId": first["id"],
                "skuId": first["skuId"],
                "quantity": 4,
                "cost": 4.1,
            }
        ],
    }


def cancel(sim: SimClient) -> dict[str, Any]:
    return {"canceledReason": "Duplicate"}


def mark_exported(sim: SimClient) -> list[dict[str, Any]]:
    return [{"invoiceId": sim.seed.invoices[0], "externalId": "AR-1"}, {"invoiceId": 999_999_999}]


def payment_status(sim: SimClient) -> dict[str, Any]:
    return {"paymentIds": list(sim.seed.payments), "status": "Exported"}


def _receipt_id(sim: SimClient) -> int:
    po = sim.state.require("purchase_orders", sim.seed.purchase_orders[0])
    first = po.fields["items"][0]
    receipt = sim.state.receive_purchase_order(
        purchase_order_id=po.id,
        date_received=sim.state.clock.now(),
        items=[ReceiptItemInput(sku_id=first["skuId"], quantity=Decimal("1"), cost=Decimal("4.1"))],
    )
    return receipt.id


@dataclass(frozen=True)
class Call:
    method: str
    namespace: str
    template: str
    ids: Callable[[SimClient], dict[str, int]] = lambda sim: {}
    query: str = ""
    body: Callable[[SimClient], Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.method} /{self.namespace}/v2/tenant/{{tenant}}{self.template}"


ANY = "?active=Any&includeTotal=true"
CALLS = [
    Call("GET", "inventory", "/vendors", query=ANY),
    Call("GET", "inventory", "/vendors/{id}", lambda s: {"id": s.seed.vendors[0]}),
    Call("POST", "inventory", "/vendors", body=vendor_create),
    Call(
        "PATCH",
        "inventory",
        "/vendors/{id}",
        lambda s: {"id": s.seed.vendors[0]},
        body=vendor_update,
    ),
    Call("GET", "inventory", "/purchase-orders", query="?includeTotal=true"),
    Call("GET", "inventory", "/purchase-orders/{id}", lambda s: {"id": s.seed.purchase_orders[0]}),
    Call("POST", "inventory", "/purchase-orders", body=po_create),
    Call(
        "PATCH",
        "inventory",
        "/purchase-orders/{id}",
        lambda s: {"id": s.seed.purchase_orders[0]},
        body=po_update,
    ),
    Call(
        "PATCH",
        "inventory",
        "/purchase-orders/{id}/cancellation",
        lambda s: {"id": s.seed.purchase_orders[0]},
        body=cancel,
    ),
    Call("GET", "inventory", "/export/purchase-orders"),
    Call("GET", "inventory", "/purchase-order-types", query=ANY),
    Call("GET", "inventory", "/warehouses", query=ANY),
    Call("GET", "inventory", "/receipts", query=ANY),
    Call("POST", "inventory", "/receipts", body=receipt_create),
    Call(
        "PATCH",
        "inventory",
        "/receipts/{id}/cancellation",
        lambda s: {"id": _receipt_id(s)},
        body=cancel,
    ),
    Call("GET", "pricebook", "/materials", query=ANY),
    Call("GET", "pricebook", "/materials/{id}", lambda s: {"id": s.seed.materials[0]}),
    Call("GET", "pricebook", "/equipment", query=ANY),
    Call("GET", "pricebook", "/equipment/{id}", lambda s: {"id": s.seed.equipment[0]}),
    Call("GET", "accounting", "/invoices", query="?activeState=All&includeTotal=true"),
    Call("GET", "accounting", "/export/invoices"),
    Call("POST", "accounting", "/invoices/markasexported", body=mark_exported),
    Call("GET", "accounting", "/payments", query="?activeState=All"),
    Call("GET", "accounting", "/export/payments"),
    Call("POST", "accounting", "/payments/status", body=payment_status),
    Call("GET", "accounting", "/payment-types"),
    Call("GET", "accounting", "/payment-types/{id}", lambda s: {"id": s.seed.payment_types[0]}),
    Call("GET", "crm", "/customers", query=ANY),
    Call("GET", "crm", "/customers/{id}", lambda s: {"id": s.seed.customers[0]}),
    Call("GET", "crm", "/export/customers"),
    Call("GET", "settings", "/business-units", query=ANY),
    Call("GET", "settings", "/business-units/{id}", lambda s: {"id": s.seed.business_units[0]}),
    Call("GET", "jpm", "/jobs"),
    Call("GET", "jpm", "/jobs/{id}", lambda s: {"id": s.seed.jobs[0]}),
]

#: After a write, read the resource back so the changed record is checked against the spec too.
READ_BACK: dict[str, tuple[str, str]] = {
    "inventory/vendors": ("/vendors", ANY),
    "inventory/purchase-orders": ("/purchase-orders", ""),
    "inventory/receipts": ("/receipts", ANY),
    "accounting/invoices": ("/invoices", "?activeState=All"),
    "accounting/payments": ("/payments", "?activeState=All"),
}


def test_every_served_operation_exists_in_the_specs_with_its_scope(
    specs: dict[str, dict[str, Any]],
) -> None:
    """§0: the simulator cannot invent endpoints, and asks for the scope the spec names (§1.1)."""
    assert OPERATIONS
    for op in OPERATIONS:
        spec = specs[op.namespace]
        template = "/tenant/{tenant}" + op.template
        assert scopes(spec, op.method, template) == {op.scope}, op.label


def test_every_route_the_app_serves_is_in_the_specs(specs: dict[str, dict[str, Any]]) -> None:
    """§0: walk the Starlette routes themselves (not only the declared table); the token endpoint
    and the simulator's own ``/__admin/`` pages are the only routes outside the specs."""
    app = create_app()
    checked = 0
    for route in app.routes:
        assert isinstance(route, Route)
        if route.path == "/connect/token" or route.path.startswith("/__admin/"):
            continue
        match = re.fullmatch(r"/([a-z]+)/v2(/tenant/.*)", route.path)
        assert match, route.path
        namespace, template = match.groups()
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", template)
        for method in (route.methods or set()) - {"HEAD"}:
            assert find_path(specs[namespace], template), f"{method} {route.path}"
            operation(specs[namespace], method, template)
            checked += 1
    assert checked == len(OPERATIONS)


def test_the_oracle_rejects_invented_fields(specs: dict[str, dict[str, Any]]) -> None:
    """The specs close their schemas (``additionalProperties: false``): an extra field fails."""
    body: dict[str, Any] = {
        "page": 1,
        "pageSize": 50,
        "hasMore": False,
        "totalCount": None,
        "data": [],
        "invented": True,
    }
    with pytest.raises(AssertionError, match="invented"):
        validate_response(specs["jpm"], "GET", "/tenant/{tenant}/jobs", 200, body)


def test_every_operation_is_contract_tested() -> None:
    assert {c.label for c in CALLS} == {op.label for op in OPERATIONS}


@pytest.mark.parametrize("call", CALLS, ids=[c.label for c in CALLS])
async def test_operation_fits_the_spec(
    call: Call, sim: SimClient, specs: dict[str, dict[str, Any]]
) -> None:
    spec = specs[call.namespace]
    template = "/tenant/{tenant}" + call.template
    sim.state.clock.advance(1)  # type: ignore[attr-defined]
    url = sim.url(call.namespace, call.template, **call.ids(sim)) + call.query
    body = call.body(sim) if call.body else None
    if body is not None:
        validate_request(spec, call.method, template, body)
    response = await sim.client.request(call.method, url, json=body, headers=sim.headers)
    assert response.status_code == 200, response.text
    payload = response.json() if response.content else None
    validate_response(spec, call.method, template, 200, payload)
    if call.method != "GET":
        resource = call.template.split("/")[1]
        back = READ_BACK.get(f"{call.namespace}/{resource}")
        if back is not None:
            read = await sim.client.get(
                sim.url(call.namespace, back[0]) + back[1], headers=sim.headers
            )
            assert read.status_code == 200
            validate_response(spec, "GET", "/tenant/{tenant}" + back[0], 200, read.json())


async def test_problem_details_fit_the_api_error_schema(
    sim: SimClient, specs: dict[str, dict[str, Any]]
) -> None:
    """§10: 400 and 404 bodies are the spec's ``ApiErrorResponse``."""
    spec = specs["inventory"]
    bad = await sim.client.post(
        sim.url("inventory", "/vendors"), json={"name": 5}, headers=sim.headers
    )
    assert bad.status_code == 400
    validate_response(spec, "POST", "/tenant/{tenant}/vendors", 400, bad.json())
    missing = await sim.client.get(sim.url("inventory", "/vendors/{id}", id=1), headers=sim.headers)
    assert missing.status_code == 404
    validate_response(spec, "PATCH", "/tenant/{tenant}/vendors/{id}", 404, missing.json())


async def test_export_pages_fit_the_spec_when_caught_up(
    sim: SimClient, specs: dict[str, dict[str, Any]]
) -> None:
    """§5: the caught-up page (no data, ``hasMore: false``) still fits and still has a token."""
    first = await sim.client.get(sim.url("accounting", "/export/invoices"), headers=sim.headers)
    token = first.json()["continueFrom"]
    sim.state.clock.advance(timedelta(minutes=5).total_seconds())  # type: ignore[attr-defined]
    again = await sim.client.get(
        sim.url("accounting", "/export/invoices") + f"?from={token}", headers=sim.headers
    )
    body = again.json()
    assert body["data"] == []
    assert body["hasMore"] is False
    assert body["continueFrom"]
    validate_response(specs["accounting"], "GET", "/tenant/{tenant}/export/invoices", 200, body)
