"""receivingReceiptRequests — oracle-fusion-api.md §4.3 (PENDING → SUCCESS/ERROR, line processingErrors
keyed by InterfaceErrorId) and §4.2 (ReceivedQuantity on PO schedules)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from ml_connector.clock import FakeClock
from ml_connector.sandbox.fusion import SEED, FusionSimConfig, FusionState, ReceiptProcessing


def receipt_request(*lines: dict[str, Any]) -> dict[str, Any]:
    return {
        "ReceiptSourceCode": "VENDOR",
        "OrganizationCode": "WEST",
        "VendorNumber": "5001",
        "BusinessUnit": "HVAC West BU",
        "lines": [
            {
                "ReceiptSourceCode": "VENDOR",
                "SourceDocumentCode": "PO",
                "TransactionType": "RECEIVE",
                "AutoTransactCode": "DELIVER",
                "DocumentNumber": SEED.po_number,
                "DocumentLineNumber": 1,
                "DocumentShipmentLineNumber": 1,
                "Quantity": 2,
                "UnitOfMeasure": "Each",
                **line,
            }
            for line in lines
        ],
    }


async def schedule(api: httpx.AsyncClient, line_number: int = 1) -> dict[str, Any]:
    po = (
        await api.get(
            "purchaseOrders",
            params={
                "q": f"OrderNumber='{SEED.po_number}'",
                "expand": "lines.schedules",
                "onlyData": "true",
            },
        )
    ).json()["items"][0]
    line = next(ln for ln in po["lines"]["items"] if ln["LineNumber"] == line_number)
    sched: dict[str, Any] = line["schedules"]["items"][0]
    sched["_po_last_update"] = po["LastUpdateDate"]
    return sched


async def test_success_raises_received_quantity(api: httpx.AsyncClient, clock: FakeClock) -> None:
    """§4.3/§4.2: a processed receipt → SUCCESS; the schedule's ReceivedQuantity rises; the PO's
    LastUpdateDate moves so the PO flow sees the change."""
    before = await schedule(api)
    clock.advance(10)
    resp = await api.post("receivingReceiptRequests", json=receipt_request({}, {"Quantity": 1}))
    assert resp.status_code == 201
    assert resp.json()["ProcessingStatusCode"] == "SUCCESS"
    after = await schedule(api)
    assert after["ReceivedQuantity"] == before["ReceivedQuantity"] + 3
    assert after["_po_last_update"] > before["_po_last_update"]


async def test_errors_are_reported_per_line(api: httpx.AsyncClient) -> None:
    """§4.3 [S79]: unknown PO, over-receipt, unknown item → header ERROR, processingErrors on each failing
    line (keyed by InterfaceErrorId), and nothing received."""
    body = receipt_request(
        {"Quantity": 1},
        {"DocumentNumber": "NOPE-9"},
        {"Quantity": 99},
        {"ItemNumber": "WRONG-ITEM", "Quantity": 1},
        {"DocumentLineNumber": 7},
    )
    resp = await api.post("receivingReceiptRequests", json=body)
    assert resp.status_code == 201
    header = resp.json()
    assert header["ProcessingStatusCode"] == "ERROR"
    hid = header["HeaderInterfaceId"]
    lines = (await api.get(f"receivingReceiptRequests/{hid}/child/lines")).json()["items"]
    names = []
    for line in lines[1:]:
        errs = (
            await api.get(
                f"receivingReceiptRequests/{hid}/child/lines/{line['InterfaceTransactionId']}"
                "/child/processingErrors"
            )
        ).json()
        assert errs["count"] == 1
        err = errs["items"][0]
        names.append(err["ErrorMessageName"])
        one = await api.get(
            f"receivingReceiptRequests/{hid}/child/lines/{line['InterfaceTransactionId']}"
            f"/child/processingErrors/{err['InterfaceErrorId']}"
        )
        assert one.status_code == 200
    assert names == [
        "RCV_INVALID_PO_NUMBER",
        "RCV_RCPT_QTY_EXCEEDS_TOLERANCE",
        "RCV_INVALID_ITEM",
        "RCV_INVALID_PO_LINE",
    ]
    assert (await schedule(api))["ReceivedQuantity"] == 0


async def test_over_receipt_across_requests(api: httpx.AsyncClient) -> None:
    """§4.3: the remaining quantity accounts for earlier receipts (4 ordered: 3 then 2 fails)."""
    first = await api.post("receivingReceiptRequests", json=receipt_request({"Quantity": 3}))
    assert first.json()["ProcessingStatusCode"] == "SUCCESS"
    second = await api.post("receivingReceiptRequests", json=receipt_request({"Quantity": 2}))
    assert second.json()["ProcessingStatusCode"] == "ERROR"
    assert (await schedule(api))["ReceivedQuantity"] == 3


async def test_processing_after_gets(
    make_api: Callable[..., httpx.AsyncClient], fusion_state: FusionState
) -> None:
    """§4.3 (asynchronous-ish): PENDING until the configured number of GETs has been seen."""
    config = FusionSimConfig(
        receipt_processing=ReceiptProcessing.AFTER_GETS, receipt_processing_gets=2
    )
    async with make_api(config) as api:
        hid = await api.post("receivingReceiptRequests", json=receipt_request({}))
        assert hid.json()["ProcessingStatusCode"] == "PENDING"
        url = f"receivingReceiptRequests/{hid.json()['HeaderInterfaceId']}"
        assert (await api.get(url)).json()["ProcessingStatusCode"] == "PENDING"
        assert (await api.get(url)).json()["ProcessingStatusCode"] == "PENDING"
        assert (await api.get(url)).json()["ProcessingStatusCode"] == "SUCCESS"
        assert (await schedule(api))["ReceivedQuantity"] == 2


async def test_processing_after_seconds(
    make_api: Callable[..., httpx.AsyncClient], clock: FakeClock
) -> None:
    """§4.3: PENDING until the configured seconds have passed on the injected clock."""
    config = FusionSimConfig(
        receipt_processing=ReceiptProcessing.AFTER_SECONDS, receipt_processing_seconds=30
    )
    async with make_api(config) as api:
        created = (await api.post("receivingReceiptRequests", json=receipt_request({}))).json()
        q = {"q": f"HeaderInterfaceId={created['HeaderInterfaceId']}"}
        clock.advance(29)
        assert (await api.get("receivingReceiptRequests", params=q)).json()["items"][0][
            "ProcessingStatusCode"
        ] == "PENDING"
        clock.advance(1)
        assert (await api.get("receivingReceiptRequests", params=q)).json()["items"][0][
            "ProcessingStatusCode"
        ] == "SUCCESS"


async def test_request_without_lines_is_400(api: httpx.AsyncClient) -> None:
    """§4.3: a receipt request carries lines."""
    body = receipt_request()
    assert (await api.post("receivingReceiptRequests", json=body)).status_code == 400
