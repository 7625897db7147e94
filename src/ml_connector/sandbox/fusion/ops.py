"""Write operations for seeding code (the data generator, tests) that should go through the same
validation as the REST API without an HTTP round trip.

Each function raises :class:`~.errors.ApiError` exactly where the API would answer 400/404.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from . import procurement, receipts, receivables
from .config import FusionSimConfig
from .errors import ApiError
from .records import ReceiptRequest
from .records_ar import ReceiptApplication, ReceivablesInvoice, StandardReceipt
from .state import FusionState
from .tree import Ctx


def _ctx(state: FusionState, config: FusionSimConfig | None) -> Ctx:
    return Ctx(state=state, config=config or FusionSimConfig(), framework=4, base="")


def post_invoice(
    state: FusionState, payload: Mapping[str, Any], *, config: FusionSimConfig | None = None
) -> ReceivablesInvoice:
    """As ``POST /receivablesInvoices`` (reference §4.4)."""
    return receivables.create_invoice(_ctx(state, config), None, payload)


def post_receipt(
    state: FusionState, payload: Mapping[str, Any], *, config: FusionSimConfig | None = None
) -> StandardReceipt:
    """As ``POST /standardReceipts`` (reference §4.5)."""
    return receipts.create_receipt(_ctx(state, config), None, payload)


def apply_receipt(
    state: FusionState,
    receipt_id: int,
    installment_id: int,
    amount: Decimal | None = None,
    *,
    config: FusionSimConfig | None = None,
) -> ReceiptApplication:
    """As the ``applyReceipt`` action, regardless of ``apply_receipt_action`` (seeding is not a pod)."""
    receipt = state.receipts.get(receipt_id)
    if receipt is None:
        raise ApiError.not_found(f"standardReceipts/{receipt_id}")
    body: dict[str, Any] = {"appliedPaymentScheduleId": installment_id, "calledFrom": "SEED"}
    if amount is not None:
        body["amountApplied"] = str(amount)
    reply = receipts.apply_receipt(_ctx(state, config), receipt, body)
    return state.applications[reply.body["result"]["ApplicationId"]]


def post_receipt_request(
    state: FusionState, payload: Mapping[str, Any], *, config: FusionSimConfig | None = None
) -> ReceiptRequest:
    """As ``POST /receivingReceiptRequests`` (reference §4.3); processed per ``config``."""
    return procurement.create_receipt_request(_ctx(state, config), None, payload)
