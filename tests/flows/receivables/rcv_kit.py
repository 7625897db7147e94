"""Helpers for the receivables flow tests: what the Fusion simulator holds, by ServiceTitan id."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from flow_kit import Harness
from ml_connector.sandbox.data.manifest import REFUND_PAYMENT

#: our attention reason for each manifest reason kind that differs in name
REASONS = {REFUND_PAYMENT: "refund_or_reversal"}


def fusion_invoices(h: Harness) -> dict[str, Any]:
    """Fusion invoices by CrossReference (the ServiceTitan invoice id); asserts no duplicates."""
    counts = Counter(i.CrossReference for i in h.sandbox.fusion.invoices.values())
    dupes = {k: n for k, n in counts.items() if n > 1}
    assert not dupes, f"duplicate Fusion invoices: {dupes}"
    return {str(i.CrossReference): i for i in h.sandbox.fusion.invoices.values()}


def fusion_receipts(h: Harness) -> dict[str, Any]:
    """Fusion receipts by ReceiptNumber; asserts no duplicates."""
    counts = Counter(r.ReceiptNumber for r in h.sandbox.fusion.receipts.values())
    dupes = {k: n for k, n in counts.items() if n > 1}
    assert not dupes, f"duplicate Fusion receipts: {dupes}"
    return {r.ReceiptNumber: r for r in h.sandbox.fusion.receipts.values()}


def applications(h: Harness) -> dict[str, list[tuple[str, Decimal]]]:
    """Receipt number → [(CrossReference of the invoice, amount)] applied in Fusion."""
    by_id = {i.CustomerTransactionId: i for i in h.sandbox.fusion.invoices.values()}
    out: dict[str, list[tuple[str, Decimal]]] = {}
    for app in h.sandbox.fusion.applications.values():
        ref = by_id[app.ReferenceTransactionId].CrossReference
        out.setdefault(app.ReceiptNumber, []).append((str(ref), app.ApplicationAmount))
    return {k: sorted(v) for k, v in out.items()}


def fusion_writes(h: Harness) -> int:
    """POST/PATCH requests the Fusion simulator answered (counted from its state)."""
    return (
        len(h.sandbox.fusion.invoices)
        + len(h.sandbox.fusion.receipts)
        + len(h.sandbox.fusion.applications)
    )


class LateApply:
    """ASGI wrapper over the Fusion simulator: the first POST to ``suffix`` (by default
    ``applyReceipt``) is held back and answered
    504 (the answer is lost, DESIGN §3.4), and reaches Fusion only when the test calls
    :meth:`commit` — a request Fusion commits *after* the connector read the balance again."""

    def __init__(self, app: Any, *, suffix: str = "/action/applyReceipt") -> None:
        self.app = app
        self.suffix = suffix
        self.held: tuple[dict[str, Any], bytes] | None = None
        self.holding = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = str(scope.get("path", ""))
        if (
            self.holding
            and scope["type"] == "http"
            and scope.get("method") == "POST"
            and path.endswith(self.suffix)
        ):
            self.holding = False
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            self.held = (scope, body)
            await send({"type": "http.response.start", "status": 504, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)

    async def commit(self) -> int:
        """Deliver the held request to Fusion now; returns the status Fusion answered."""
        assert self.held is not None
        scope, body = self.held
        self.held = None
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(int(message["status"]))

        await self.app(scope, receive, send)
        return statuses[0]
