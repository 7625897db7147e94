"""Write payloads for the Fusion client tests, built from the simulator's minimal seed."""

from __future__ import annotations

from ml_connector.sandbox.fusion import SEED


def invoice_payload(number: str, *, amount: str = "100.00") -> dict[str, object]:
    return {
        "TransactionNumber": number,
        "TransactionSource": SEED.transaction_source,
        "TransactionType": SEED.transaction_type,
        "BusinessUnit": SEED.business_units[0],
        "BillToCustomerNumber": SEED.customer,
        "InvoiceCurrencyCode": "USD",
        "TransactionDate": "2026-11-02",
        "PaymentTerms": "30 Net",
        "receivablesInvoiceLines": [
            {"LineNumber": 1, "Description": "AC repair", "Quantity": 1, "UnitSellingPrice": amount}
        ],
        "receivablesInvoiceDistributions": [
            {"AccountClass": "Revenue", "AccountCombination": SEED.revenue, "InvoiceLineNumber": 1},
            {"AccountClass": "Receivable", "AccountCombination": SEED.receivable},
        ],
    }


def receipt_payload(number: str, amount: str) -> dict[str, object]:
    return {
        "ReceiptNumber": number,
        "ReceiptMethod": SEED.receipt_method,
        "BusinessUnit": SEED.business_units[0],
        "Amount": amount,
        "Currency": "USD",
        "CustomerAccountNumber": SEED.customer,
        "ReceiptDate": "2026-11-02",
    }
