"""Expanded child collections cut short by the pod are completed (oracle-fusion-api.md §1.1 v3+
child collections with their own ``hasMore``; §3.3 default ``limit`` 25).

The simulator always expands children whole, so a wrapper cuts each expanded child of a top-level
collection page to its first row and marks it ``hasMore`` — what a pod does past its child limit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fusion_client_kit import Pod
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ml_connector.sandbox.fusion import SEED

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
TOP = ("/suppliers", "/purchaseOrders")


def cut_children(app: ASGIApp) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(TOP):
            await app(scope, receive, send)
            return
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await app(scope, receive, keep)
        start = messages[0]
        body = b"".join(m.get("body", b"") for m in messages[1:])
        if start["status"] == 200:
            data = json.loads(body)
            for item in data.get("items", []):
                _cut(item)
            body = json.dumps(data).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped


def _cut(item: dict[str, Any]) -> None:
    for value in item.values():
        if isinstance(value, dict) and isinstance(value.get("items"), list) and value["items"]:
            value["items"] = value["items"][:1]
            value["count"] = 1
            value["hasMore"] = True


async def test_cut_short_supplier_sites_are_completed(pod: Pod) -> None:
    supplier = next(s for s in pod.state.suppliers.values() if s.SupplierNumber == "5001")
    west = next(iter(pod.state.business_units.values()))
    for n in range(3):
        pod.state.add_supplier_site(supplier.SupplierId, f"EXTRA-{n}", west.BusinessUnitId)
    pod.clock.advance(1)
    pod.recorder.app = cut_children(pod.faults)
    client = pod.client()
    read = {s.SupplierNumber: s async for s in client.suppliers_changed_since(EPOCH)}
    assert len(read["5001"].sites) == 4
    assert {s.SupplierSite for s in read["5001"].sites} >= {"PHX-MAIN", "EXTRA-2"}
    assert len(read["5001"].contacts) == 1
    assert pod.recorder.calls("GET", f"/suppliers/{supplier.SupplierId}/child/sites")


async def test_cut_short_po_lines_are_completed_with_their_schedules(pod: Pod) -> None:
    pod.recorder.app = cut_children(pod.faults)
    client = pod.client()
    order = await client.purchase_order(SEED.po_number)
    assert order is not None
    assert [line.LineNumber for line in order.lines] == [1, 2]
    assert all(len(line.schedules) == 1 for line in order.lines)
    (reread,) = pod.recorder.calls("GET", f"/purchaseOrders/{order.POHeaderId}/child/lines")
    assert "expand=schedules" in reread.query
