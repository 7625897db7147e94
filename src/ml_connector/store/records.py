"""Values the repositories return: frozen keyword-only dataclasses, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ml_connector.store.states import AttentionState, AuditAction, InboxState, WriteState


@dataclass(frozen=True, kw_only=True)
class Cursor:
    """Where a flow's reading resumes: a watermark + tiebreak id, or an export token."""

    connection: str
    flow: str
    watermark: datetime | None = None
    tiebreak: str | None = None
    token: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class Link:
    connection: str
    entity: str
    source_system: str
    source_id: str
    target_system: str
    target_id: str
    version_hash: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class InboxItem:
    id: int
    connection: str
    origin: str
    event_key: str
    event_type: str
    entity_type: str | None
    entity_id: str | None
    payload: Any
    state: InboxState
    attempts: int
    received_at: datetime
    available_at: datetime
    claimed_by: str | None
    lease_until: datetime | None
    last_error: str | None
    #: when a try of this item first failed (None: no try failed yet)
    first_failed_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class NewInboxEvent:
    connection: str
    origin: str
    event_key: str
    event_type: str
    entity_type: str | None = None
    entity_id: str | None = None
    payload: Any = None
    #: seconds from now before a worker may claim it (a parked retry waits out its backoff)
    delay_seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """What a flow hands to :meth:`AuditRepo.append` when an attempt ends."""

    connection: str
    flow: str
    source_system: str
    source_id: str
    action: AuditAction
    started_at: datetime
    ended_at: datetime
    attempt: int = 1
    run_id: str | None = None
    source_version: str | None = None
    target_system: str | None = None
    target_id: str | None = None
    dry_run: bool = False
    decisions: list[dict[str, Any]] = field(default_factory=list)
    request_summary: dict[str, Any] | None = None
    response_summary: dict[str, Any] | None = None
    error_class: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, kw_only=True)
class AuditRecord(AuditEntry):
    id: int


@dataclass(frozen=True, kw_only=True)
class AttentionItem:
    id: int
    connection: str
    flow: str
    source_system: str
    source_id: str
    reason: str
    message: str
    suggestion: str
    state: AttentionState
    source_record: Any
    decisions: Any
    occurrences: int
    comment: str | None
    decided_by: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class WriteIntent:
    id: int
    connection: str
    flow: str
    target_system: str
    operation: str
    business_key: str
    payload_hash: str
    state: WriteState
    target_id: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
