"""Error replies parsed into typed errors, and ``check`` explaining failures to a person.

oracle-fusion-api.md §6 (ADF error JSON vs plain text with JBO-/AR_ codes; 404 text/plain; 403),
§2 (401 → credentials), DESIGN §5 "Receipt application" (probe applyReceipt).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fusion_client_kit import Pod
from fusion_payloads import invoice_payload, receipt_payload
from starlette.types import ASGIApp, Receive, Scope, Send

from ml_connector.http import InvalidClientError
from ml_connector.sandbox import credentials
from ml_connector.sandbox.fusion import SEED, FusionSimConfig
from ml_connector.systems.fusion.errors import (
    FusionAuthError,
    FusionValidationError,
    MissingPrivilege,
    NotFound,
    parse_error,
    parse_error_body,
)


async def test_adf_error_json_keeps_oracle_code_detail_and_path(pod: Pod) -> None:
    """§6: with the ADF Accept header, a 400 carries o:errorDetails; the error keeps them."""
    client = pod.client()
    payload = invoice_payload("ST-1")
    payload["BillToSite"] = "no-such-site"
    with pytest.raises(FusionValidationError) as info:
        await client.create_invoice(payload)
    err = info.value
    assert err.status == 400
    assert err.code == "AR_BILL_TO_SITE_NOT_FOUND"
    assert "no-such-site" in err.detail
    assert err.path == "BillToSite"
    assert "AR_BILL_TO_SITE_NOT_FOUND" in str(err)
    assert "receivablesInvoices" in str(err)


async def test_duplicate_transaction_number_is_a_validation_error(pod: Pod) -> None:
    client = pod.client()
    await client.create_invoice(invoice_payload("ST-2"))
    with pytest.raises(FusionValidationError) as info:
        await client.create_invoice(invoice_payload("ST-2"))
    assert info.value.code == "AR_DUPLICATE_TRX_NUMBER"


async def test_plain_text_errors_are_parsed_into_codes(pod: Pod) -> None:
    """§6: without the ADF Accept header pods answer plain text with JBO-/AR_ codes."""
    transport = httpx.ASGITransport(app=pod.recorder)
    auth = (credentials.FUSION_USERNAME, credentials.FUSION_PASSWORD)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://fusion.test/fscmRestApi/resources/11.13.18.05/",
        auth=auth,
    ) as raw:
        payload = invoice_payload("ST-3")
        payload["BillToCustomerNumber"] = "99999"
        reply = await raw.post("receivablesInvoices", json=payload)
        missing = await raw.post("standardReceipts", json={"Amount": "5"})
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("text/plain")
    (item,) = parse_error(reply)
    assert item.code == "AR_BILL_TO_CUST_NOT_FOUND"
    assert "99999" in item.detail
    (jbo,) = parse_error(missing)
    assert jbo.code == "JBO-27014"
    assert "BusinessUnit" in jbo.detail


def test_parse_error_body_shapes() -> None:
    """Both shapes, a code buried in free text, and bodies that carry nothing (empty, HTML)."""
    adf = '{"title":"Bad Request","status":"400","o:errorDetails":[{"detail":"x failed: AR_BU_NOT_FOUND","o:errorCode":""}]}'
    assert (
        parse_error_body("application/vnd.oracle.adf.error+json", adf)[0].code == "AR_BU_NOT_FOUND"
    )
    text = (
        "JBO-27024: Failed to validate a row with key oracle.jbo.Key[1] in InvoiceEO\nsecond line"
    )
    items = parse_error_body("text/plain", text)
    assert items[0].code == "JBO-27024"
    assert items[0].detail.startswith("Failed to validate")
    assert items[1].code is None
    assert parse_error_body("text/html", "<html><body>502</body></html>") == []
    assert parse_error_body("text/plain", "") == []


async def test_404_text_plain_is_not_found(pod: Pod) -> None:
    client = pod.client()
    with pytest.raises(NotFound) as info:
        await client.receiving_request(123)
    assert "receivingReceiptRequests" in str(info.value)


def forbid(app: ASGIApp, fragment: str) -> ASGIApp:
    """An ASGI wrapper answering 403 (empty body) for paths containing ``fragment``, as a pod does
    for a user without the resource's privilege (§2.1, §6)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and fragment in scope["path"]:
            await send({"type": "http.response.start", "status": 403, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return wrapped


async def test_403_is_missing_privilege(pod: Pod) -> None:
    client = pod.client(transport=httpx.ASGITransport(app=forbid(pod.recorder, "/purchaseOrders")))
    with pytest.raises(MissingPrivilege, match="missing privilege"):
        await client.purchase_order(SEED.po_number)
    assert len(pod.recorder.calls("GET", "/purchaseOrders")) == 0


async def test_wrong_client_secret_says_check_client_id_secret(pod: Pod) -> None:
    client = pod.client(secret="not-the-secret")
    with pytest.raises(InvalidClientError, match="check client id/secret"):
        await client.purchase_order(SEED.po_number)


async def test_wrong_password_says_check_user_password(pod: Pod) -> None:
    client = pod.client(auth="basic", secret="not-the-password")
    with pytest.raises(FusionAuthError, match="check user/password"):
        await client.purchase_order(SEED.po_number)
    assert len(pod.recorder.calls("GET", "/purchaseOrders")) == 1  # Basic: nothing to refresh


# --- check ---------------------------------------------------------------------------------


async def test_check_all_ok_and_apply_receipt_probe(make_pod: Callable[..., Pod]) -> None:
    """Every resource readable; applyReceipt found on a receipt's action links (26C+ pod)."""
    pod = make_pod()
    client = pod.client()
    await client.create_receipt(receipt_payload("RC-CHK-1", "5.00"))
    results = await client.check()
    assert [r.name for r in results if not r.ok] == []
    names = [r.name for r in results]
    assert names[0] == "authentication"
    assert "receivablesCustomerAccountActivities" in names
    assert results[-1].name == "standardReceipts/action/applyReceipt"
    assert results[-1].detail == "available"


async def test_check_reports_missing_apply_receipt(make_pod: Callable[..., Pod]) -> None:
    """DESIGN §5: an older pod without the action is reported plainly."""
    pod = make_pod(FusionSimConfig(apply_receipt_action=False))
    client = pod.client()
    await client.create_receipt(receipt_payload("RC-CHK-2", "5.00"))
    probe = (await client.check())[-1]
    assert not probe.ok
    assert "not available" in probe.detail
    assert "apply in Fusion" in probe.detail


async def test_check_explains_credentials_privilege_and_base_url(pod: Pod) -> None:
    bad_secret = await pod.client(secret="nope-nope").check()
    assert bad_secret[0].name == "authentication"
    assert not bad_secret[0].ok
    assert "check client id/secret" in bad_secret[0].detail

    bad_password = await pod.client(auth="basic", secret="nope-nope").check()
    failed = [r for r in bad_password if not r.ok]
    assert failed
    assert "check user/password" in failed[0].detail

    forbidden = pod.client(
        transport=httpx.ASGITransport(app=forbid(pod.recorder, "/standardReceipts"))
    )
    results = {r.name: r for r in await forbidden.check()}
    assert not results["standardReceipts"].ok
    assert "missing privilege" in results["standardReceipts"].detail
    assert results["suppliers"].ok

    # a real socket to a closed port on 127.0.0.1: the connection is refused, as for a wrong host
    nowhere = pod.client(
        auth="basic", base_url="http://127.0.0.1:9", transport=httpx.AsyncHTTPTransport()
    )
    unreachable = await nowhere.check()
    assert not unreachable[1].ok
    assert "check base URL" in unreachable[1].detail
    # after the first unreachable probe the others are not tried, but each is listed with the reason
    assert all(r.detail.startswith("not checked: ") for r in unreachable[2:])
    assert len(unreachable) > 2


def always_401(app: ASGIApp) -> ASGIApp:
    """API calls answer 401 with an empty body whatever the token (reference §2.2)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/fscmRestApi"):
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await app(scope, receive, send)

    return wrapped


async def test_401_after_one_refresh_is_an_auth_error(pod: Pod) -> None:
    """§3.2 rule 5: a 401 is answered by one refresh and one resend; a second 401 is final and
    says to check the client id/secret."""
    client = pod.client(transport=httpx.ASGITransport(app=always_401(pod.recorder)))
    with pytest.raises(FusionAuthError, match="check client id/secret"):
        await client.purchase_order(SEED.po_number)
    assert pod.state.meta.token_requests == 2
