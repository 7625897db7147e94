"""Seeding through ``ops`` (same validation as §4.4/§4.5) and serving over real HTTP with uvicorn
(DESIGN §5 "Sandbox layout": token endpoint and API on one port, 127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
import uvicorn
from fusion_kit import invoice

from ml_connector.sandbox import credentials as c
from ml_connector.sandbox.fusion import SEED, FusionState, create_app, ops
from ml_connector.sandbox.fusion.errors import ApiError


def test_ops_post_invoice_receipt_and_apply(fusion_state: FusionState) -> None:
    """§4.4/§4.5: ops writes validate like the API and keep balances consistent."""
    inv = ops.post_invoice(fusion_state, invoice())
    assert inv.EnteredAmount == Decimal("220.00")
    with pytest.raises(ApiError) as err:
        ops.post_invoice(fusion_state, invoice(TransactionNumber="X2", BillToCustomerNumber="nope"))
    assert err.value.details[0].code == "AR_BILL_TO_CUST_NOT_FOUND"
    rcpt = ops.post_receipt(
        fusion_state,
        {
            "ReceiptNumber": "R-9",
            "ReceiptMethod": SEED.receipt_method,
            "BusinessUnit": "HVAC West BU",
            "Amount": "100",
            "CustomerAccountNumber": SEED.customer,
        },
    )
    inst = inv.receivablesInvoiceInstallments[0]
    app = ops.apply_receipt(fusion_state, rcpt.StandardReceiptId, inst.InstallmentId, Decimal("60"))
    assert app.ApplicationAmount == Decimal("60")
    assert inv.InvoiceBalanceAmount == Decimal("160.00")
    assert rcpt.UnappliedAmount == Decimal("40")


@contextlib.asynccontextmanager
async def served(state: FusionState) -> AsyncIterator[str]:
    """Serve on a socket bound and listening before uvicorn starts: connections wait in the backlog,
    so the test needs no startup poll (and no sleep)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    config = uvicorn.Config(create_app(state), lifespan="off", log_level="warning", ws="none")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_served_by_uvicorn(fusion_state: FusionState) -> None:
    """DESIGN §5: one port serves the token endpoint and the API over real HTTP."""
    async with served(fusion_state) as base, httpx.AsyncClient(base_url=base) as client:
        token = await client.post(
            "/oauth2/v1/token",
            data={"grant_type": "client_credentials", "scope": c.FUSION_SCOPE},
            auth=(c.FUSION_CLIENT_ID, c.FUSION_CLIENT_SECRET),
        )
        assert token.status_code == 200
        resp = await client.get(
            "/fscmRestApi/resources/11.13.18.05/suppliers",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert resp.status_code == 200
        assert resp.json()["count"] == len(fusion_state.suppliers)
