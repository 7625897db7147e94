"""The review CSV: ``match export`` writes proposals a person can edit, ``match apply`` reads the
decisions back.

One row per proposal. A person writes ``accept`` or ``reject`` in ``decision`` (blank leaves the
proposal as it is); to pick another candidate they put its id (listed in ``candidates``) in
``target_id`` and write ``accept``. Every row is checked before anything is saved: one bad row
and nothing is applied, and every problem is listed with its line number, so a file is never
half-applied.

Every cell is written formula-safe (:func:`~ml_connector.csvcells.safe_cell`): a vendor named
``=HYPERLINK(...)`` or ``-Acme`` is shown as text by a spreadsheet, never run. The columns read
back (``proposal_id``, ``entity``, ``source_id``, ``target_id``, ``decision``) are restored
exactly on reading (:func:`guard` / :func:`unguard`), so what export wrote applies as it was.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from ml_connector.csvcells import safe_cell
from ml_connector.errors import ConfigError
from ml_connector.store.repos.matches import ACCEPTED, PROPOSED, REJECTED, MatchProposal

COLUMNS = (
    "proposal_id",
    "entity",
    "source_id",
    "source_name",
    "target_id",
    "target_name",
    "score",
    "kind",
    "ambiguous",
    "evidence",
    "candidates",
    "state",
    "decision",
)
#: what people write, and the state each means
DECISIONS = {"accept": ACCEPTED, "accepted": ACCEPTED, "reject": REJECTED, "rejected": REJECTED}
REQUIRED = ("proposal_id", "target_id", "decision")
#: the columns :func:`check` reads: what :func:`guard` added to them is taken off on reading
READ_BACK = ("proposal_id", "entity", "source_id", "target_id", "decision")


def _guarded(text: str) -> bool:
    """Whether :func:`guard` prefixes ``text``: what ``safe_cell`` neutralises, and (so that
    reading back is exact) text that already starts with ``'`` before such a cell."""
    if not text:
        return False
    if text[0] == "'":
        return _guarded(text[1:])
    return safe_cell(text) != text


def guard(value: object) -> str:
    """A cell a spreadsheet shows as text: ``safe_cell``'s ``'`` prefix, also before a value
    that itself starts with ``'`` and a formula character, so :func:`unguard` is its exact
    inverse."""
    text = "" if value is None else str(value)
    return "'" + text if _guarded(text) else text


def unguard(cell: str) -> str:
    """The value :func:`guard` wrote (a cell it did not prefix is returned as it is)."""
    return cell[1:] if cell.startswith("'") and _guarded(cell[1:]) else cell


def _evidence(p: MatchProposal) -> str:
    parts = [
        f"{label}: {', '.join(p.evidence.get(key) or [])}"
        for key, label in (("agreed", "agreed"), ("differed", "differed"), ("missing", "missing"))
        if p.evidence.get(key)
    ]
    if p.why_ambiguous:
        parts.append(f"ambiguous: {p.why_ambiguous}")
    return "; ".join(parts)


def _candidates(p: MatchProposal) -> str:
    return " | ".join(
        f"{c.get('target_id')} {c.get('target_label')} ({float(c.get('score') or 0):.2f}"
        f"{', exact' if c.get('kind') == 'exact' else ''})"
        for c in p.candidates
    )


def header() -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(COLUMNS)
    return out.getvalue()


def rows(proposals: Iterable[MatchProposal]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for p in proposals:
        writer.writerow(
            guard(cell)
            for cell in (
                p.id,
                p.entity,
                p.source_id,
                p.source_label,
                p.target_id,
                p.target_label,
                f"{p.score:.3f}",
                p.kind,
                "yes" if p.ambiguous else "no",
                _evidence(p),
                _candidates(p),
                p.state,
                "",
            )
        )
    return out.getvalue()


@dataclass(frozen=True, kw_only=True)
class Decision:
    line: int
    proposal_id: int
    state: str
    target_id: str


@dataclass(frozen=True, kw_only=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ReviewFileError(ConfigError):
    """The review file has bad rows; nothing was applied."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        listed = "\n".join(f"  {e}" for e in errors[:50])
        more = f"\n  … and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(
            f"{len(errors)} bad row(s) in the review file; nothing was applied:\n{listed}{more}"
        )


def parse(text: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of an edited file as (line number, row); a missing column is an error."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    found = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise ReviewFileError(
            [RowError(line=1, message=f"missing column(s): {', '.join(missing)}")]
        )
    out: list[tuple[int, dict[str, str]]] = []
    try:
        for row in reader:
            clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
            for column in READ_BACK:
                if column in clean:
                    clean[column] = unguard(clean[column])
            if any(clean.values()):
                out.append((reader.line_num, clean))
    except csv.Error as exc:
        raise ReviewFileError([RowError(line=reader.line_num, message=str(exc))]) from None
    return out


def check(
    parsed: list[tuple[int, dict[str, str]]], known: dict[int, MatchProposal | None]
) -> tuple[list[Decision], list[RowError]]:
    """Validate every row against the stored proposals (``known``: id → proposal or None)."""
    decisions: list[Decision] = []
    errors: list[RowError] = []
    seen: dict[int, int] = {}
    for line, row in parsed:
        raw_id = row.get("proposal_id", "")
        if not raw_id.isdigit():
            errors.append(RowError(line=line, message=f"proposal_id {raw_id!r} is not a number"))
            continue
        pid = int(raw_id)
        if pid in seen:
            errors.append(
                RowError(line=line, message=f"proposal {pid} is also on line {seen[pid]}")
            )
            continue
        seen[pid] = line
        proposal = known.get(pid)
        if proposal is None:
            errors.append(RowError(line=line, message=f"no proposal {pid} in this connection"))
            continue
        word = row.get("decision", "").lower()
        if not word:
            continue
        if word not in DECISIONS:
            errors.append(
                RowError(
                    line=line,
                    message=f"decision {row.get('decision')!r}: write accept, reject or leave it blank",
                )
            )
            continue
        for column in ("entity", "source_id"):
            given = row.get(column, "")
            stored = getattr(proposal, column)
            if given and given != stored:
                errors.append(
                    RowError(
                        line=line,
                        message=f"{column} {given!r} is not proposal {pid}'s ({stored!r}): "
                        "rows must not be moved between proposals",
                    )
                )
                break
        else:
            target = row.get("target_id", "") or proposal.target_id
            state = DECISIONS[word]
            problem = refusal(proposal, state, target)
            if problem is not None:
                errors.append(RowError(line=line, message=problem))
                continue
            if settled(proposal, state, target):
                continue  # already so: nothing to do
            decisions.append(Decision(line=line, proposal_id=pid, state=state, target_id=target))
    return decisions, errors


def refusal(proposal: MatchProposal, state: str, target: str) -> str | None:
    """Why ``state`` (accepted or rejected) with ``target`` cannot be recorded on ``proposal``,
    or None. The review file and the dashboard's review page both ask this."""
    if state == ACCEPTED and proposal.candidate(target) is None:
        ids = ", ".join(str(c.get("target_id")) for c in proposal.candidates)
        return (
            f"target_id {target!r} is not a candidate of proposal {proposal.id} (candidates: {ids})"
        )
    if proposal.applied_at is not None and (state != ACCEPTED or target != proposal.target_id):
        return (
            f"proposal {proposal.id} is already linked to {proposal.target_id}; "
            "a link is not undone from a review"
        )
    return None


def settled(proposal: MatchProposal, state: str, target: str) -> bool:
    """Whether the proposal already is so (nothing to record)."""
    return proposal.state == state and target == proposal.target_id


__all__ = [
    "COLUMNS",
    "PROPOSED",
    "Decision",
    "ReviewFileError",
    "RowError",
    "check",
    "guard",
    "header",
    "parse",
    "refusal",
    "rows",
    "settled",
    "unguard",
]
