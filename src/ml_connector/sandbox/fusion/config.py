"""Knobs of the Fusion simulator.

Everything a test or a benchmark may want to vary lives here, so the simulator code reads one frozen value
instead of module globals. Defaults follow reference §3.3 (limit 25, cap 500) and DESIGN §5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ReceiptProcessing(Enum):
    """When a ``receivingReceiptRequests`` header leaves PENDING (reference §4.3, status values INFERRED)."""

    IMMEDIATE = "immediate"
    AFTER_GETS = "after_gets"
    AFTER_SECONDS = "after_seconds"


DEFAULT_SEGMENT_LABELS = ("company", "costCenter", "account", "subAccount", "product")


@dataclass(frozen=True, kw_only=True)
class FusionSimConfig:
    """Behaviour switches; every field has a default matching the reference's most common pod."""

    token_lifetime_seconds: int = 3600
    default_limit: int = 25
    max_limit: int = 500  # some pods give 499 (reference §3.3); set 499 to simulate them
    apply_receipt_action: bool = True  # False simulates pre-26C pods: the action is absent (404)
    receipt_processing: ReceiptProcessing = ReceiptProcessing.IMMEDIATE
    receipt_processing_gets: int = 1  # with AFTER_GETS: GETs of the header before it is processed
    receipt_processing_seconds: float = 30.0  # with AFTER_SECONDS: clock seconds after creation
    reject_duplicate_transaction_number: bool = (
        True  # per TransactionSource (reference §4.4, INFERRED)
    )
    reject_duplicate_receipt_number: bool = True  # same ReceiptNumber + ReceiptMethod (INFERRED)
    segment_labels: tuple[str, ...] = field(default=DEFAULT_SEGMENT_LABELS)
    segment_separator: str = "-"
    default_framework_version: int = 1  # reference §1.1: default is 1
