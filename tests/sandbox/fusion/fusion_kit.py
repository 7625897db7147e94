"""Shared helpers for the Fusion simulator tests (imported by conftest and tests; not a test module)."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from ml_connector.sandbox import credentials
from ml_connector.sandbox.fusion import SEED

ROOT = "http://fusion.test/fscmRestApi/resources/11.13.18.05/"
BASIC = (credentials.FUSION_USERNAME, credentials.FUSION_PASSWORD)


def client_for(app: Starlette, *, framework: int | None = 4, **headers: str) -> httpx.AsyncClient:
    """A client on the version root with Basic auth; ``framework=None`` sends no framework header."""
    all_headers = dict(headers)
    if framework is not None:
        all_headers["REST-Framework-Version"] = str(framework)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=ROOT, auth=BASIC, headers=all_headers
    )


ADF = {"Accept": "application/vnd.oracle.adf.error+json"}


def invoice(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "TransactionNumber": "ST-1001",
        "TransactionSource": SEED.transaction_source,
        "TransactionType": SEED.transaction_type,
        "BusinessUnit": "HVAC West BU",
        "TransactionDate": "2026-11-02",
        "InvoiceCurrencyCode": "USD",
        "BillToCustomerNumber": SEED.customer,
        "BillToSite": "Acme Phoenix",
        "PaymentTerms": "30 Net",
        "receivablesInvoiceLines": [
            {
                "LineNumber": 1,
                "Description": "Service call",
                "Quantity": 1,
                "UnitSellingPrice": 129,
            },
            {
                "LineNumber": 2,
                "Description": "Capacitor",
                "Quantity": 2,
                "UnitSellingPrice": "45.50",
            },
        ],
        "receivablesInvoiceDistributions": [
            {
                "AccountClass": "Receivable",
                "AccountCombination": SEED.receivable,
                "Amount": "220.00",
            },
            {
                "AccountClass": "Revenue",
                "AccountCombination": SEED.revenue,
                "Amount": "129.00",
                "InvoiceLineNumber": 1,
            },
            {
                "AccountClass": "Revenue",
                "AccountCombination": SEED.revenue,
                "Amount": "91.00",
                "InvoiceLineNumber": 2,
            },
        ],
    }
    body.update(overrides)
    return body


async def create(api: httpx.AsyncClient, **overrides: Any) -> httpx.Response:
    return await api.post("receivablesInvoices", json=invoice(**overrides), headers=ADF)
