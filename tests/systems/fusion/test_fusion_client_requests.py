"""Request shape and auth modes of FusionClient against the simulator.

oracle-fusion-api.md §1 (URLs), §1.1 (REST-Framework-Version), §2.1 (Basic), §2.2 (OAuth with Basic
client authentication and a scope), §3.7 (content types), §6 (Accept for ADF error JSON).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs

from fusion_client_kit import Pod
from fusion_payloads import invoice_payload, receipt_payload

from ml_connector.sandbox import credentials
from ml_connector.sandbox.fusion import SEED

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


async def test_reads_send_framework_version_accept_and_only_data(pod: Pod) -> None:
    """§1.1, §6: every API call carries REST-Framework-Version 4 and asks for ADF error JSON;
    reads ask for onlyData; the path is /fscmRestApi/resources/11.13.18.05/{resource}."""
    pod.clock.advance(60)
    client = pod.client()
    suppliers = [s async for s in client.suppliers_changed_since(EPOCH)]
    assert {s.SupplierNumber for s in suppliers} == {"5001", "5002", "5003"}
    api_calls = pod.recorder.calls("GET", "/suppliers")
    assert api_calls
    for seen in api_calls:
        assert seen.path == "/fscmRestApi/resources/11.13.18.05/suppliers"
        assert seen.headers["rest-framework-version"] == "4"
        assert seen.headers["accept"] == ("application/json, application/vnd.oracle.adf.error+json")
        params = parse_qs(seen.query)
        assert params["onlyData"] == ["true"]
        assert params["offset"] == ["0"]
        assert params["expand"] == ["addresses,sites,contacts"]
        assert params["orderBy"] == ["LastUpdateDate:asc,SupplierId:asc"]
        assert seen.headers["authorization"].startswith("Bearer ")


async def test_oauth_token_uses_basic_client_auth_and_scope(pod: Pod) -> None:
    """§2.2: client credentials, client authenticated by a Basic header, the configured scope,
    at the token URL (not the API base)."""
    client = pod.client()
    await client.purchase_order(SEED.po_number)
    token_calls = pod.recorder.calls("POST", "/oauth2/v1/token")
    assert len(token_calls) == 1
    expected = base64.b64encode(
        f"{credentials.FUSION_CLIENT_ID}:{credentials.FUSION_CLIENT_SECRET}".encode()
    ).decode()
    assert token_calls[0].headers["authorization"] == f"Basic {expected}"
    assert pod.state.meta.token_requests == 1


async def test_basic_mode_sends_user_and_password_on_every_call(pod: Pod) -> None:
    """§2.1: Basic on every call; no token endpoint involved."""
    client = pod.client(auth="basic")
    order = await client.purchase_order(SEED.po_number)
    assert order is not None
    assert order.OrderNumber == SEED.po_number
    assert [line.LineNumber for line in order.lines] == [1, 2]
    assert order.lines[0].schedules[0].RequestedDeliveryDate is not None
    expected = base64.b64encode(
        f"{credentials.FUSION_USERNAME}:{credentials.FUSION_PASSWORD}".encode()
    ).decode()
    calls = pod.recorder.calls("GET", "/purchaseOrders")
    assert calls
    assert all(c.headers["authorization"] == f"Basic {expected}" for c in calls)
    assert pod.state.meta.token_requests == 0


async def test_post_and_action_content_types(pod: Pod) -> None:
    """§1, §3.7: POST with resourceitem+json; custom actions with action+json."""
    client = pod.client()
    invoice = await client.create_invoice(invoice_payload("INV-CT-1"))
    receipt = await client.create_receipt(receipt_payload("RC-CT-1", "10.00"))
    installments = await client.invoice_installments(invoice.CustomerTransactionId)
    await client.apply_receipt(receipt.StandardReceiptId, installments[0].InstallmentId)
    (post,) = pod.recorder.calls("POST", "/receivablesInvoices")
    assert post.headers["content-type"] == "application/vnd.oracle.adf.resourceitem+json"
    (action,) = pod.recorder.calls("POST", "/action/applyReceipt")
    assert action.headers["content-type"] == "application/vnd.oracle.adf.action+json"


async def test_observer_counts_calls_and_refreshes(pod: Pod) -> None:
    """Instrumentation: API calls per resource and token refreshes are reported."""
    client = pod.client()
    await client.purchase_order(SEED.po_number)
    await client.purchase_order("1002")
    assert pod.observer.total_calls("fusion", resource="purchaseOrders", method="GET") == 2
    assert pod.observer.refreshes["fusion"] == 1
