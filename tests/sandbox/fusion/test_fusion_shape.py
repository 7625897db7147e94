"""Item and error shapes — oracle-fusion-api.md §3.2, §3.3 (fields/onlyData/expand), §3.5 (links),
§3.9 (ids), §4.2 (schedules via links) and §6 (404 text/plain, ADF error JSON vs plain text)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from ml_connector.sandbox.fusion import SEED, FusionState


async def po_item(api: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    body = (
        await api.get("purchaseOrders", params={"q": f"OrderNumber='{SEED.po_number}'", **params})
    ).json()
    assert body["count"] == 1
    item: dict[str, Any] = body["items"][0]
    return item


async def test_fields_and_only_data(api: httpx.AsyncClient) -> None:
    """§3.3: fields restricts attributes; onlyData drops links."""
    item = await po_item(api, fields="POHeaderId,OrderNumber")
    assert set(item) == {"POHeaderId", "OrderNumber", "links"}
    bare = await po_item(api, fields="POHeaderId,OrderNumber", onlyData="true")
    assert set(bare) == {"POHeaderId", "OrderNumber"}


async def test_fields_with_child(api: httpx.AsyncClient) -> None:
    """§3.3: fields=A,B;Child:X,Y embeds the child with only those attributes."""
    item = await po_item(api, fields="OrderNumber;lines:LineNumber,Item", onlyData="true")
    assert item["OrderNumber"] == SEED.po_number
    assert item["lines"]["items"][0] == {"LineNumber": 1, "Item": "CMP-3T"}


async def test_expand_shape_v1_array_v3_collection(
    make_api: Callable[..., httpx.AsyncClient],
) -> None:
    """§1.1: below v3 expanded children are arrays; from v3 collection objects {items, count, hasMore…}."""
    async with make_api(framework=2) as api:
        item = await po_item(api, expand="lines.schedules", onlyData="true")
        assert isinstance(item["lines"], list)
        assert isinstance(item["lines"][0]["schedules"], list)
        assert item["lines"][0]["schedules"][0]["ReceivedQuantity"] == 0
    async with make_api(framework=3) as api:
        item = await po_item(api, expand="lines.schedules")
        lines = item["lines"]
        assert {"items", "count", "hasMore", "limit", "offset", "links"} <= set(lines)
        assert lines["count"] == 2
        sched = lines["items"][0]["schedules"]["items"][0]
        assert {
            "LineLocationId",
            "ReceivedQuantity",
            "BilledQuantity",
            "RequestedDeliveryDate",
        } <= set(sched)
        assert "schedules" not in (await po_item(api, expand="lines"))["lines"]["items"][0]


async def test_expand_all_and_no_expand(api: httpx.AsyncClient) -> None:
    """§3.3: expand=all embeds every direct child; without expand children are only links."""
    sup = (
        await api.get("suppliers", params={"q": "SupplierNumber='5001'", "expand": "all"})
    ).json()
    item = sup["items"][0]
    assert {"addresses", "sites", "contacts"} <= set(item)
    assert item["sites"]["items"][0]["ProcurementBU"] == "HVAC West BU"
    plain = (await api.get("suppliers", params={"q": "SupplierNumber='5001'"})).json()["items"][0]
    assert "sites" not in plain


async def test_links_and_change_indicator(
    api: httpx.AsyncClient, fusion_state: FusionState
) -> None:
    """§3.5: self (with properties.changeIndicator), canonical and child links; the indicator changes."""
    item = await po_item(api)
    rels = {(link["rel"], link["name"]) for link in item["links"]}
    assert {("self", "purchaseOrders"), ("canonical", "purchaseOrders"), ("child", "lines")} <= rels
    self_link = next(link for link in item["links"] if link["rel"] == "self")
    assert re.fullmatch(r"[0-9A-F]+", self_link["properties"]["changeIndicator"])
    assert self_link["href"].endswith(f"/purchaseOrders/{item['POHeaderId']}")
    fusion_state.update_purchase_order(item["POHeaderId"], Description="changed")
    again = await po_item(api)
    new_link = next(link for link in again["links"] if link["rel"] == "self")
    assert new_link["properties"]["changeIndicator"] != self_link["properties"]["changeIndicator"]


async def test_schedules_are_addressed_through_links(api: httpx.AsyncClient) -> None:
    """§4.2 / DESIGN §5: follow child and self links from the PO down to one schedule."""
    item = await po_item(api)
    lines_href = next(link["href"] for link in item["links"] if link["rel"] == "child")
    line = (await api.get(lines_href)).json()["items"][0]
    sched_href = next(
        link["href"]
        for link in line["links"]
        if link["rel"] == "child" and link["name"] == "schedules"
    )
    sched = (await api.get(sched_href)).json()["items"][0]
    self_href = next(link["href"] for link in sched["links"] if link["rel"] == "self")
    one = await api.get(self_href)
    assert one.status_code == 200
    assert one.json()["LineLocationId"] == sched["LineLocationId"]
    parent = next(link for link in sched["links"] if link["rel"] == "parent")
    assert parent["name"] == "lines"


async def test_value_formats_and_ids(api: httpx.AsyncClient) -> None:
    """§3.2/§3.9: date-time with ms and +00:00, date-only as YYYY-MM-DD, 15-digit integer ids."""
    item = await po_item(api, expand="lines.schedules")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", item["LastUpdateDate"])
    sched = item["lines"]["items"][0]["schedules"]["items"][0]
    assert sched["RequestedDeliveryDate"] == "2026-11-10"
    assert isinstance(item["POHeaderId"], int)
    assert len(str(item["POHeaderId"])) == 15


async def test_latest_alias_and_item_get(api: httpx.AsyncClient) -> None:
    """§1: 'latest' works in place of 11.13.18.05; item GET by key."""
    item = await po_item(api)
    url = f"http://fusion.test/fscmRestApi/resources/latest/purchaseOrders/{item['POHeaderId']}"
    resp = await api.get(url)
    assert resp.status_code == 200
    assert resp.json()["OrderNumber"] == SEED.po_number


async def test_404_is_text_plain(api: httpx.AsyncClient) -> None:
    """§6 [S61]: unknown item or resource → 404 text/plain, even when ADF JSON is accepted."""
    for path in ("suppliers/1", "noSuchResource", "suppliers/abc/child/nothing"):
        resp = await api.get(path, headers={"Accept": "application/vnd.oracle.adf.error+json"})
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith("text/plain")
    other = await api.get("http://fusion.test/fscmRestApi/resources/99.0/suppliers")
    assert other.status_code == 404


async def test_error_body_plain_vs_adf_json(api: httpx.AsyncClient) -> None:
    """§6: plain text with the code by default; ADF error JSON when Accept asks for it."""
    payload = {
        "BusinessUnit": "Nowhere BU",
        "Amount": "10",
        "ReceiptMethod": "Check",
        "ReceiptNumber": "R1",
    }
    plain = await api.post("standardReceipts", json=payload)
    assert plain.status_code == 400
    assert plain.headers["content-type"].startswith("text/plain")
    assert "AR_BU_NOT_FOUND" in plain.text
    adf = await api.post(
        "standardReceipts",
        json=payload,
        headers={"Accept": "application/json, application/vnd.oracle.adf.error+json"},
    )
    assert adf.status_code == 400
    assert adf.headers["content-type"].startswith("application/vnd.oracle.adf.error+json")
    body = adf.json()
    assert body["status"] == "400"
    assert body["title"]
    detail = body["o:errorDetails"][0]
    assert detail["o:errorCode"] == "AR_BU_NOT_FOUND"
    assert detail["o:errorPath"] == "BusinessUnit"
    assert "Nowhere BU" in detail["detail"]


async def test_purchase_orders_are_read_only(api: httpx.AsyncClient) -> None:
    """§4.2: purchaseOrders allows GET only."""
    resp = await api.post("purchaseOrders", json={"OrderNumber": "X"})
    assert resp.status_code == 405
    item = await po_item(api)
    assert (await api.patch(f"purchaseOrders/{item['POHeaderId']}", json={})).status_code == 405


async def test_catalog_lists_the_version(api: httpx.AsyncClient) -> None:
    """§1: the context root lists 11.13.18.05 as latest."""
    body = (await api.get("http://fusion.test/fscmRestApi/resources/")).json()
    assert body["items"][0]["name"] == "11.13.18.05"
    assert body["items"][0]["isLatest"] is True
