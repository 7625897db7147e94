"""ETag/If-Match (oracle-fusion-api.md §3.5, §3.7), describe (§1) and the installment PATCH exception (§7)."""

from __future__ import annotations

import httpx
from fusion_kit import ADF, create


async def test_etag_and_stale_if_match_is_412(api: httpx.AsyncClient) -> None:
    """§3.7: the item ETag is the self link's changeIndicator; a stale If-Match on PATCH → 412."""
    created = await create(api)
    inv_id = created.json()["CustomerTransactionId"]
    etag = created.headers["etag"]
    self_link = next(link for link in created.json()["links"] if link["rel"] == "self")
    assert etag == self_link["properties"]["changeIndicator"]
    ok = await api.patch(
        f"receivablesInvoices/{inv_id}",
        json={"InvoiceStatus": "Incomplete"},
        headers={"If-Match": etag},
    )
    assert ok.status_code == 200
    stale = await api.patch(
        f"receivablesInvoices/{inv_id}",
        json={"InvoiceStatus": "Complete"},
        headers={"If-Match": etag, **ADF},
    )
    assert stale.status_code == 412
    assert stale.json()["o:errorDetails"][0]["o:errorCode"] == "JBO-25014"
    fresh = await api.patch(
        f"receivablesInvoices/{inv_id}",
        json={"InvoiceStatus": "Complete"},
        headers={"If-Match": ok.headers["etag"]},
    )
    assert fresh.status_code == 200


async def test_describe_lists_attributes_children_and_actions(api: httpx.AsyncClient) -> None:
    """§1: GET /{resource}/describe — attribute names, children, and whether applyReceipt exists."""
    body = (await api.get("standardReceipts/describe")).json()["Resources"]["standardReceipts"]
    names = {a["name"] for a in body["attributes"]}
    assert {"StandardReceiptId", "ReceiptNumber", "UnappliedAmount"} <= names
    assert body["item"]["actions"] == [{"name": "applyReceipt"}]
    inv = (await api.get("receivablesInvoices/describe")).json()["Resources"]["receivablesInvoices"]
    assert "receivablesInvoiceInstallments" in inv["children"]


async def test_installment_patch_exception(api: httpx.AsyncClient) -> None:
    """§7: installments allow PATCH of InstallmentDueDate and OriginalAmount; nothing else."""
    inv_id = (await create(api)).json()["CustomerTransactionId"]
    base = f"receivablesInvoices/{inv_id}/child/receivablesInvoiceInstallments"
    inst_id = (await api.get(base)).json()["items"][0]["InstallmentId"]
    resp = await api.patch(f"{base}/{inst_id}", json={"InstallmentDueDate": "2026-12-31"})
    assert resp.status_code == 200
    assert resp.json()["InstallmentDueDate"] == "2026-12-31"
    resp = await api.patch(f"{base}/{inst_id}", json={"OriginalAmount": "200"})
    assert resp.json()["InstallmentBalanceDue"] == 200
    inv = (await api.get(f"receivablesInvoices/{inv_id}")).json()
    assert inv["InvoiceBalanceAmount"] == 200
    bad = await api.patch(f"{base}/{inst_id}", json={"InstallmentStatus": "Closed"})
    assert bad.status_code == 400
