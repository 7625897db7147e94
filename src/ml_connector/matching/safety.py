"""The flows' guard (issue 11): never create or guess a record a person has not yet reviewed.

While a ``proposed`` match at or above the threshold stands for a source record, F1 does not
create a vendor for it and F4/F5 do not post for that customer on a guess: the record goes to
attention as ``possible_existing_match`` with the candidates, and a replay after the review goes
through (an accepted proposal is a link; a rejected one no longer stops anything). An accepted
proposal that is not applied yet (``match apply`` stopped, or reported a conflict) still holds its
record: a person said it exists, so creating it would make the duplicate.
"""

from __future__ import annotations

from ml_connector.errors import NeedsAttentionError
from ml_connector.store import Tx
from ml_connector.store.repos.matches import ACCEPTED, MatchProposal, holding

REASON = "possible_existing_match"


def _candidates(p: MatchProposal) -> str:
    out = []
    for c in p.candidates:
        evidence = ", ".join(c.get("agreed") or []) or "nothing"
        out.append(
            f"{c.get('target_id')} {c.get('target_label')!s} "
            f"(score {float(c.get('score') or 0):.2f}, agreed: {evidence})"
        )
    return "; ".join(out)


def possible_match(p: MatchProposal, what: str) -> NeedsAttentionError:
    system = "ServiceTitan" if p.target_system == "servicetitan" else "Fusion"
    if p.state == ACCEPTED:
        return NeedsAttentionError(
            REASON,
            f"{what} exists in {system}: match proposal {p.id} was accepted but is not applied "
            "yet (no link)",
            suggestion="run ml-connector match apply again (a conflict it reported must be "
            "settled first), then replay",
        )
    return NeedsAttentionError(
        REASON,
        f"{what} may already exist in {system} (match proposal {p.id}"
        f"{', ambiguous' if p.ambiguous else ''}): candidates: {_candidates(p)}",
        suggestion="review the proposal (ml-connector match export, accept or reject, then "
        "ml-connector match apply FILE), then replay",
    )


async def hold_for_review(
    tx: Tx, connection: str, entity: str, source_id: str, *, threshold: float, what: str
) -> None:
    """Raise :class:`NeedsAttentionError` while an unreviewed proposal above ``threshold`` stands."""
    check_hold(await tx.matches.for_source(connection, entity, source_id), threshold, what)


def check_hold(proposal: MatchProposal | None, threshold: float, what: str) -> None:
    """:func:`hold_for_review` on a proposal read already (a page's prefetch; None: there is
    none)."""
    held = holding(proposal, threshold)
    if held is not None:
        raise possible_match(held, what)
