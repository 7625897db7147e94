"""The ``match_proposals`` table through its repository, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from ml_connector.clock import FakeClock
from ml_connector.store import Store
from ml_connector.store.repos.matches import ACCEPTED, PROPOSED, REJECTED, NewProposal


def proposal(
    source: str = "300", target: str = "7", score: float = 0.9, **kw: object
) -> NewProposal:
    values: dict[str, object] = {
        "connection": "default",
        "entity": "supplier",
        "source_system": "fusion",
        "source_id": source,
        "source_label": "Acme Supply Co",
        "target_system": "servicetitan",
        "target_id": target,
        "target_label": "ACME SUPPLY",
        "score": score,
        "kind": "similar",
        "ambiguous": False,
        "why_ambiguous": None,
        "evidence": {"agreed": ["name"], "differed": [], "missing": [], "similarity": score},
        "candidates": [
            {"target_id": target, "target_label": "ACME SUPPLY", "score": score, "kind": "similar"},
            {"target_id": "8", "target_label": "Acme Houston", "score": 0.6, "kind": "similar"},
        ],
    }
    values.update(kw)
    return NewProposal(**values)  # type: ignore[arg-type]


async def test_save_refreshes_an_open_proposal_and_keeps_a_decided_one(
    store: Store, clock: FakeClock
) -> None:
    async with store.transaction() as tx:
        assert await tx.matches.save(proposal(score=0.8)) == "new"
        assert await tx.matches.save(proposal(score=0.85)) == "refreshed"
        found = await tx.matches.for_source("default", "supplier", "300")
        assert found is not None
        assert found.state == PROPOSED
        assert found.score == pytest.approx(0.85)
        clock.advance(5)
        decided = await tx.matches.decide(found.id, REJECTED, by="dana")
        assert decided.decided_by == "dana"
        assert decided.decided_at == clock.now()
        assert await tx.matches.save(proposal(score=0.99)) == REJECTED
        again = await tx.matches.get(found.id)
    assert again is not None
    assert again.state == REJECTED
    assert again.score == pytest.approx(0.85)


async def test_pending_is_only_an_open_proposal_at_or_above_the_threshold(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.matches.save(proposal("1", score=0.74))
        await tx.matches.save(proposal("2", target="9", score=0.75))
        assert await tx.matches.pending("default", "supplier", "1", threshold=0.75) is None
        open_one = await tx.matches.pending("default", "supplier", "2", threshold=0.75)
        assert open_one is not None
        await tx.matches.decide(open_one.id, ACCEPTED, by="dana")
        # accepted but not applied yet (no link, no mark on the vendor): it still holds the
        # record, or F1 would create the vendor a person just confirmed exists (review finding)
        held = await tx.matches.pending("default", "supplier", "2", threshold=0.75)
        assert held is not None
        assert held.state == ACCEPTED
        await tx.matches.mark_applied(open_one.id)
        assert await tx.matches.pending("default", "supplier", "2", threshold=0.75) is None
        assert await tx.matches.pending("other", "supplier", "2", threshold=0.0) is None


async def test_accepting_another_candidate_moves_the_target(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.matches.save(proposal())
        found = await tx.matches.for_source("default", "supplier", "300")
        assert found is not None
        picked = await tx.matches.decide(found.id, ACCEPTED, by="dana", target_id="8")
        assert (picked.target_id, picked.target_label, picked.score) == ("8", "Acme Houston", 0.6)
        with pytest.raises(LookupError, match="not a candidate"):
            await tx.matches.decide(found.id, ACCEPTED, by="dana", target_id="99")


async def test_shared_targets_and_counts(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.matches.save(proposal("1", target="7"))
        await tx.matches.save(proposal("2", target="7"))
        await tx.matches.save(proposal("3", target="5"))
        shared = await tx.matches.shared_targets("default", "supplier")
        assert list(shared) == ["7"]
        assert len(shared["7"]) == 2
        await tx.matches.mark_ambiguous(shared["7"], "2 source records chose the same target 7")
        page = await tx.matches.page("default", entity="supplier", states=[PROPOSED])
        assert [p.ambiguous for p in page] == [True, True, False]
        assert await tx.matches.counts("default") == {("supplier", PROPOSED): 3}


async def test_save_many_inserts_refreshes_and_keeps_decisions(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.matches.save_many([proposal("1"), proposal("2", target="9")]) == {
            "1": "new",
            "2": "new",
        }
        first = await tx.matches.for_source("default", "supplier", "1")
        assert first is not None
        await tx.matches.decide(first.id, ACCEPTED, by="dana")
        outcome = await tx.matches.save_many(
            [proposal("1", score=0.5), proposal("2", target="9", score=0.95), proposal("3")]
        )
        assert outcome == {"1": ACCEPTED, "2": "refreshed", "3": "new"}
        kept = await tx.matches.for_source("default", "supplier", "1")
        refreshed = await tx.matches.for_source("default", "supplier", "2")
    assert kept is not None
    assert kept.score == pytest.approx(0.9)
    assert refreshed is not None
    assert refreshed.score == pytest.approx(0.95)
    assert refreshed.state == PROPOSED


async def test_save_many_takes_one_connection_and_entity(store: Store) -> None:
    async with store.transaction() as tx:
        with pytest.raises(ValueError, match="one connection and entity"):
            await tx.matches.save_many([proposal("1"), proposal("2", entity="customer")])
