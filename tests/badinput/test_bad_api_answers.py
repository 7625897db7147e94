"""Invalid JSON and HTML error pages from either API (issue 8): a clear error, nothing lost.

A small ASGI wrapper in front of one simulator answers one kind of request with a gateway's HTML
page or with a body that is not JSON, the way proxies and overloaded pods do. The first run must
end (or hold the record) with an error that names the system and the resource — never a pydantic
or JSON traceback, never an HTML dump — and must not move the cursor past what it did not post.
With the answers healthy again, the next run posts every eligible invoice exactly once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from flow_kit import Harness
from ml_connector.errors import ConnectorError
from ml_connector.flows.inbox_worker import InboxWorker
from ml_connector.flows.invoices import FLOW, InvoiceFlow
from ml_connector.flows.parking import DELAY_SECONDS
from ml_connector.store.states import AuditAction

HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


class Garbled:
    """Answers requests whose method and path match with ``status`` and ``body``; passes the rest."""

    def __init__(self, app: Any, *, method: str, path: str, status: int, body: bytes, ctype: str):
        self.app, self.method, self.path = app, method, path
        self.status, self.body, self.ctype = status, body, ctype
        self.hits = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == self.method
            and str(scope["path"]).endswith(self.path)
        ):
            self.hits += 1
            while (await receive()).get("more_body"):
                pass
            headers = [(b"content-type", self.ctype.encode())]
            await send({"type": "http.response.start", "status": self.status, "headers": headers})
            await send({"type": "http.response.body", "body": self.body})
            return
        await self.app(scope, receive, send)


CASES = [
    pytest.param("st", "GET", "/export/invoices", 503, HTML, "text/html", id="st-read-html-503"),
    pytest.param(
        "st",
        "GET",
        "/export/invoices",
        200,
        b"{not json",
        "application/json",
        id="st-read-bad-json",
    ),
    pytest.param(
        "fusion", "POST", "/receivablesInvoices", 502, HTML, "text/html", id="fusion-write-html-502"
    ),
    pytest.param(
        "fusion", "POST", "/receivablesInvoices", 201, HTML, "text/html", id="fusion-write-html-201"
    ),
    pytest.param(
        "fusion",
        "GET",
        "/receivablesInvoices",
        200,
        b"]",
        "application/json",
        id="fusion-lookup-bad-json",
    ),
]


@pytest.mark.parametrize(("system", "method", "path", "status", "body", "ctype"), CASES)
async def test_html_and_invalid_json_answers_name_the_system_and_lose_nothing(
    h: Harness, system: str, method: str, path: str, status: int, body: bytes, ctype: str
) -> None:
    attr = "st_app" if system == "st" else "fusion_app"
    healthy = getattr(h.sandbox, attr)
    garbled = Garbled(healthy, method=method, path=path, status=status, body=body, ctype=ctype)
    setattr(h.sandbox, attr, garbled)
    errors: list[str] = []
    try:
        await InvoiceFlow(h.ctx()).run()
    except ConnectorError as exc:
        errors.append(str(exc))
    finally:
        setattr(h.sandbox, attr, healthy)
    assert garbled.hits > 0
    async with h.store.transaction() as tx:
        cursor = await tx.cursors.get("default", FLOW)
        rows = await tx.audit.search(connection="default", flow=FLOW)
    errors += [r.error_message or "" for r in rows if r.action is AuditAction.FAIL]
    assert errors, "the bad answer surfaced as an error"
    name = "servicetitan" if system == "st" else "fusion"
    for message in errors:
        # the system by name, or (a write whose answer was unreadable) the pending create
        assert name in message.lower() or "may have committed" in message, message
        assert "<html" not in message.lower()
        assert "Traceback" not in message
    if system == "st":
        assert cursor.token is None, "the feed's cursor did not move"
    assert not h.sandbox.fusion.invoices or method == "GET"

    # the next pass: the feed from its token, then the inbox, where records that failed were
    # parked (decision 0012), as the runner does
    h.later(DELAY_SECONDS)
    await InvoiceFlow(h.ctx()).run()
    await InboxWorker(ctx=h.ctx()).drain()
    refs = Counter(str(i.CrossReference) for i in h.sandbox.fusion.invoices.values())
    assert set(refs) == {str(i) for i in h.dataset.expected.invoices.eligible}
    assert set(refs.values()) == {1}, "no invoice was posted twice"
