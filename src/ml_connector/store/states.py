"""The states stored in the ``state`` and ``action`` columns."""

from __future__ import annotations

from enum import StrEnum


class InboxState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    DONE = "done"
    FAILED = "failed"
    IGNORED = "ignored"


class WriteState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    ADOPTED = "adopted"


class AuditAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"
    FAIL = "fail"
    ATTENTION = "attention"
    ADOPT = "adopt"
    PROPOSE = "propose"  # matching proposed a link (issue 11)
    ACCEPT = "accept"  # a person or --auto-accept accepted a proposed link
    REJECT = "reject"


class AttentionState(StrEnum):
    OPEN = "open"
    REPLAYED = "replayed"
    RESOLVED = "resolved"
    IGNORED = "ignored"
