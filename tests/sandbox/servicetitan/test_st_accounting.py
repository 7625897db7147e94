"""Invoices and payments: servicetitan-api.md §6.4, §6.5, §7, §11.9; change listeners (DESIGN §5
webhooks: the emitter hangs off ``state.add_listener``)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from st_helpers import ST, api

from ml_connector.sandbox.servicetitan import InvoiceItemSeed, PaymentApplication

MONEY = re.compile(r"^-?\d+\.\d{2}$")


async def test_money_is_strings_in_accounting(st: ST) -> None:
    """§6.4 / §11.9: ``"25.69"``-style amounts, quantities ``"1.0000000000000000000"``."""
    invoices = (await st.get("accounting", "/invoices", ids=str(st.seed.invoices[0]))).json()
    invoice = invoices["data"][0]
    for name in ("subTotal", "salesTax", "total", "balance", "discountTotal"):
        assert MONEY.match(invoice[name]), (name, invoice[name])
    assert invoice["subTotal"] == "89.00"
    assert invoice["total"] == "96.34"
    assert invoice["balance"] == "46.34"
    item = invoice["items"][0]
    assert item["quantity"] == "2.0000000000000000000"
    assert item["cost"] == "4.1000000000"
    assert item["price"] == "12.00"
    payment = (await st.get("accounting", "/payments", ids=str(st.seed.payments[0]))).json()
    pay = payment["data"][0]
    assert pay["total"] == "50.00"
    assert pay["appliedTo"][0]["appliedAmount"] == "50.00"
    assert pay["typeId"] == str(st.seed.payment_types[0])


async def test_items_may_be_null(st: ST) -> None:
    """§6.4: some list responses carry ``items: null``."""
    third = (await st.get("accounting", "/invoices", ids=str(st.seed.invoices[2]))).json()
    assert third["data"][0]["items"] is None


async def test_invoice_filters(st: ST) -> None:
    """§6.4: ``statuses`` repeated, ``customerId``, ``businessUnitId``, ``number``; no GET by id."""
    tenant = st.state.tenant_id
    both = await st.client.get(
        api("accounting", "/invoices") + "?statuses=Posted&statuses=Exported", headers=st.headers
    )
    assert {i["syncStatus"] for i in both.json()["data"]} == {"Posted", "Exported"}
    assert len(both.json()["data"]) == 2
    customer = st.seed.customers[1]
    mine = (await st.get("accounting", "/invoices", customerId=customer)).json()["data"]
    assert {i["customer"]["id"] for i in mine} == {customer}
    unit = st.seed.business_units[0]
    by_bu = (await st.get("accounting", "/invoices", businessUnitId=unit)).json()["data"]
    assert [i["id"] for i in by_bu] == [st.seed.invoices[0]]
    number = st.state.require("invoices", st.seed.invoices[1]).fields["referenceNumber"]
    by_number = (await st.get("accounting", "/invoices", number=number)).json()["data"]
    assert [i["id"] for i in by_number] == [st.seed.invoices[1]]
    by_id = await st.client.get(
        f"/accounting/v2/tenant/{tenant}/invoices/{st.seed.invoices[0]}", headers=st.headers
    )
    assert by_id.status_code in (404, 405)


async def test_mark_as_exported_answers_per_item(st: ST) -> None:
    """§7: a 200 whose array says ``success`` per invoice; an unknown id is ``success: false``."""
    known = st.seed.invoices[2]
    body = [
        {"invoiceId": known, "externalId": "AR-77", "externalMessage": "ok"},
        {"invoiceId": 424242},
    ]
    response = await st.send("POST", "accounting", "/invoices/markasexported", body)
    assert response.status_code == 200
    results = {r["invoiceId"]: r for r in response.json()}
    assert results[known]["success"] is True
    assert results[424242]["success"] is False
    assert results[424242]["errorMessage"]
    invoice = (await st.get("accounting", "/invoices", ids=str(known))).json()["data"][0]
    assert invoice["syncStatus"] == "Exported"
    assert invoice["exportId"] == "AR-77"


async def test_mark_as_exported_needs_an_array_of_invoice_ids(st: ST) -> None:
    """§7 body is an array; §3: missing ``invoiceId`` → 400 keyed by the field."""
    response = await st.send(
        "POST", "accounting", "/invoices/markasexported", [{"externalId": "x"}]
    )
    assert response.status_code == 400
    assert "[0].invoiceId" in response.json()["errors"]


async def test_payment_status(st: ST) -> None:
    """§7: ``POST payments/status`` ``{paymentIds, status}`` → 200 with no body."""
    ids = list(st.seed.payments)
    response = await st.send(
        "POST", "accounting", "/payments/status", {"paymentIds": ids, "status": "Exported"}
    )
    assert response.status_code == 200
    assert response.content == b""
    rows = (await st.get("accounting", "/payments")).json()["data"]
    assert {p["syncStatus"] for p in rows if p["id"] in ids} == {"Exported"}
    bad = await st.send(
        "POST", "accounting", "/payments/status", {"paymentIds": ids, "status": "Done"}
    )
    assert bad.status_code == 400
    assert "status" in bad.json()["errors"]
    unknown = await st.send(
        "POST", "accounting", "/payments/status", {"paymentIds": [5], "status": "Posted"}
    )
    assert unknown.status_code == 400


async def test_no_payment_create_endpoint(st: ST) -> None:
    """§6.5: ``POST /payments`` is gone from the current spec."""
    response = await st.send("POST", "accounting", "/payments", {"amount": 1})
    assert response.status_code == 405


async def test_payment_filters(st: ST) -> None:
    """§6.5: ``appliedToInvoiceIds`` and ``customerId``."""
    inv = st.seed.invoices[1]
    rows = (await st.get("accounting", "/payments", appliedToInvoiceIds=str(inv))).json()["data"]
    assert [p["id"] for p in rows] == [st.seed.payments[1]]
    customer = st.seed.customers[0]
    mine = (await st.get("accounting", "/payments", customerId=customer)).json()["data"]
    assert [p["id"] for p in mine] == [st.seed.payments[0]]


async def test_listeners_fire_on_invoice_and_payment_changes(st: ST) -> None:
    """DESIGN §5: the state calls listeners on invoice/payment create and change, with the entity
    exactly as the API returns it."""
    events: list[tuple[str, dict[str, Any]]] = []
    st.state.add_listener(lambda kind, entity: events.append((kind, entity)))
    s = st.seed
    invoice = st.state.add_invoice(
        customer_id=s.customers[0],
        business_unit_id=s.business_units[0],
        items=[InvoiceItemSeed(sku_id=s.materials[0], quantity=Decimal(1), price=Decimal("9.99"))],
    )
    st.state.update_invoice(invoice.id, summary="changed")
    await st.send("POST", "accounting", "/invoices/markasexported", [{"invoiceId": invoice.id}])
    st.state.add_payment(
        customer_id=s.customers[0],
        type_id=s.payment_types[0],
        applied_to=[PaymentApplication(invoice_id=invoice.id, amount=Decimal("9.99"))],
    )
    await st.send(
        "POST",
        "accounting",
        "/payments/status",
        {"paymentIds": [s.payments[0]], "status": "Exported"},
    )
    st.state.add_vendor("Not an accounting record")
    kinds = [k for k, _ in events]
    assert kinds == [
        "invoice.created",
        "invoice.updated",
        "invoice.updated",
        "payment.created",
        "invoice.updated",
        "payment.updated",
    ]
    created = events[0][1]
    listed = (await st.get("accounting", "/invoices", ids=str(invoice.id))).json()["data"][0]
    assert set(created) == set(listed)
    assert events[2][1]["syncStatus"] == "Exported"
    assert events[4][1]["balance"] == "0.00"
    assert events[4][1]["paidOn"] is not None


async def test_invoices_order_by_and_direction(st: ST) -> None:
    """§4: invoices also accept ``orderBy`` and ``orderByDirection`` (``desc``/``descending``)."""
    down = await st.get("accounting", "/invoices", orderBy="Id", orderByDirection="descending")
    ids = [i["id"] for i in down.json()["data"]]
    assert ids == sorted(ids, reverse=True)
    up = await st.get("accounting", "/invoices", orderBy="Id", orderByDirection="whatever")
    assert [i["id"] for i in up.json()["data"]] == sorted(ids)
