"""Batch (oracle-fusion-api.md §5), LastUpdateDate behaviour (§3.2, §8) and the admin endpoints."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fusion_kit import create, invoice
from starlette.applications import Starlette

from ml_connector.clock import FakeClock
from ml_connector.sandbox.fusion import FusionState

BATCH = {"Content-Type": "application/vnd.oracle.adf.batch+json"}
VERSION_ROOT = "http://fusion.test/fscmRestApi/resources/11.13.18.05/"


async def post_batch(api: httpx.AsyncClient, parts: list[dict[str, object]]) -> httpx.Response:
    return await api.post(VERSION_ROOT, json={"parts": parts}, headers=BATCH)


async def test_batch_success_runs_parts_in_order(api: httpx.AsyncClient) -> None:
    """§5: parts run sequentially; the response echoes parts with absolute paths and payloads."""
    inv_id = (await create(api)).json()["CustomerTransactionId"]
    resp = await post_batch(
        api,
        [
            {
                "id": "p1",
                "path": f"/receivablesInvoices/{inv_id}",
                "operation": "update",
                "payload": {"InvoiceStatus": "Incomplete"},
            },
            {"id": "p2", "path": f"/receivablesInvoices/{inv_id}", "operation": "get"},
        ],
    )
    assert resp.status_code == 200
    parts = resp.json()["parts"]
    assert [p["id"] for p in parts] == ["p1", "p2"]
    assert parts[1]["payload"]["InvoiceStatus"] == "Incomplete"
    assert parts[0]["path"].startswith("http://fusion.test/fscmRestApi/resources/11.13.18.05/")


async def test_batch_is_all_or_nothing(api: httpx.AsyncClient, fusion_state: FusionState) -> None:
    """§5: one failing part rolls back every part; only the failing part is returned."""
    inv_id = (await create(api)).json()["CustomerTransactionId"]
    resp = await post_batch(
        api,
        [
            {
                "id": "ok",
                "path": f"/receivablesInvoices/{inv_id}",
                "operation": "update",
                "payload": {"InvoiceStatus": "Incomplete"},
            },
            {
                "id": "new",
                "path": "/receivablesInvoices",
                "operation": "create",
                "payload": invoice(TransactionNumber="ST-2000"),
            },
            {
                "id": "bad",
                "path": f"/receivablesInvoices/{inv_id}",
                "operation": "update",
                "payload": {"Comments": "not allowed"},
            },
        ],
    )
    assert resp.status_code == 400
    parts = resp.json()["parts"]
    assert [p["id"] for p in parts] == ["bad"]
    assert parts[0]["payload"]["o:errorDetails"][0]["o:errorCode"] == "JBO-27008"
    assert fusion_state.invoices[inv_id].InvoiceStatus == "Complete"
    assert len(fusion_state.invoices) == 1
    check = await api.get("receivablesInvoices", params={"q": "TransactionNumber='ST-2000'"})
    assert check.json()["count"] == 0


async def test_batch_refuses_actions(api: httpx.AsyncClient) -> None:
    """§5 [S67]: custom actions aren't enabled for batch execution."""
    resp = await post_batch(
        api,
        [
            {
                "id": "a",
                "path": "/standardReceipts/1/action/applyReceipt",
                "operation": "create",
                "payload": {},
            }
        ],
    )
    assert resp.status_code == 400
    assert "isn't enabled for batch" in resp.text


async def test_last_update_date_moves_on_every_change(
    fusion_state: FusionState, clock: FakeClock
) -> None:
    """§3.2/§8: LastUpdateDate has ms precision and moves on every change, even at the same instant."""
    clock.advance(0.0123456)
    sup = fusion_state.add_supplier("Timing Test")
    assert sup.LastUpdateDate.microsecond % 1000 == 0
    first = sup.LastUpdateDate
    fusion_state.update_supplier(sup.SupplierId, AlternateName="a")
    assert sup.LastUpdateDate == first + timedelta(milliseconds=1)
    clock.advance(60)
    fusion_state.update_supplier(sup.SupplierId, AlternateName="b")
    assert sup.LastUpdateDate == clock.now().replace(
        microsecond=clock.now().microsecond // 1000 * 1000
    )
    before = sup.LastUpdateDate
    fusion_state.add_supplier_site(sup.SupplierId, "NEW", next(iter(fusion_state.business_units)))
    assert sup.LastUpdateDate > before  # a child change moves the parent too


async def test_patch_supplier_moves_last_update_date(
    api: httpx.AsyncClient, fusion_state: FusionState
) -> None:
    """§4.1: supplier PATCH changes attributes and LastUpdateDate; key attributes are refused."""
    sup_id = next(iter(fusion_state.suppliers))
    before = fusion_state.suppliers[sup_id].LastUpdateDate
    resp = await api.patch(f"suppliers/{sup_id}", json={"AlternateName": "CPS"})
    assert resp.status_code == 200
    assert resp.json()["AlternateName"] == "CPS"
    assert fusion_state.suppliers[sup_id].LastUpdateDate > before
    assert (await api.patch(f"suppliers/{sup_id}", json={"SupplierId": 1})).status_code == 400


async def test_supplier_create(api: httpx.AsyncClient, fusion_state: FusionState) -> None:
    """§4.1 (optional in the sandbox): POST a supplier with an address and a site."""
    bu_id = next(iter(fusion_state.business_units))
    resp = await api.post(
        "suppliers",
        json={
            "Supplier": "New Co",
            "TaxOrganizationTypeCode": "CORPORATION",
            "addresses": [{"AddressName": "Main", "City": "Mesa"}],
            "sites": [{"SupplierSite": "MESA", "ProcurementBUId": bu_id}],
        },
    )
    assert resp.status_code == 201
    sup_id = resp.json()["SupplierId"]
    sites = (await api.get(f"suppliers/{sup_id}/child/sites")).json()
    assert sites["items"][0]["SupplierSite"] == "MESA"


async def test_admin_counts_and_state(app: Starlette, api: httpx.AsyncClient) -> None:
    """Admin: requests counted by method + resource, errors by status; state dump per resource."""
    await api.get("suppliers")
    await api.get("suppliers")
    await api.get("suppliers/1")
    await create(api)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://fusion.test"
    ) as admin:
        counts = (await admin.get("/__admin/counts")).json()
        assert counts["api_requests"]["GET suppliers"] == 3
        assert counts["api_requests"]["POST receivablesInvoices"] == 1
        assert counts["errors"] == {"404": 1}
        dump = (
            await admin.get("/__admin/state", params={"resource": "receivablesInvoices"})
        ).json()
        assert list(dump) == ["receivablesInvoices"]
        assert dump["receivablesInvoices"][0]["receivablesInvoiceLines"][0]["LineAmount"] == 129
        full = (await admin.get("/__admin/state")).json()
        assert {"suppliers", "purchaseOrders", "accountCombinationsLOV"} <= set(full)
        assert (await admin.get("/__admin/state", params={"resource": "x"})).status_code == 404
