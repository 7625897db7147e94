"""What one run of a flow did, counted per record outcome (the CLI's summary table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    """How one source record ended in one run. ``ADOPTED`` is a create found already done on the
    target (a lost answer or a crash before the link was written): it is not a second write."""

    CREATED = "created"
    ADOPTED = "adopted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    ATTENTION = "attention"
    FAILED = "failed"


#: source ids kept per outcome in a :class:`RunSummary`
IDS_KEPT = 100_000


@dataclass(kw_only=True)
class RunSummary:
    flow: str
    connection: str
    started_at: datetime
    dry_run: bool = False
    ended_at: datetime | None = None
    read: int = 0
    created: int = 0
    adopted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    attention: int = 0
    failed: int = 0
    #: source ids per outcome, so tests and the CLI can say *which* records went where: the
    #: first :data:`IDS_KEPT` of each (the counts above are whole; a run over a million records
    #: keeps its memory flat)
    ids: dict[Outcome, list[str]] = field(default_factory=dict)

    def count(self, outcome: Outcome, source_id: str) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)
        kept = self.ids.setdefault(outcome, [])
        if len(kept) < IDS_KEPT:
            kept.append(source_id)

    @property
    def writes(self) -> int:
        """Writes made (or, in a dry run, that would be made) on the target."""
        return self.created + self.updated

    def as_dict(self) -> dict[str, int]:
        return {
            "read": self.read,
            "created": self.created,
            "adopted": self.adopted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "attention": self.attention,
            "failed": self.failed,
        }
