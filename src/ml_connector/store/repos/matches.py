"""Match proposals (issue 11): links ``ml-connector match`` proposes, and who decided on them.

One row per (connection, entity, source record): the best candidate in ``target_id`` and every
candidate a person may pick instead in ``candidates``. A run of ``match`` refreshes rows still
``proposed`` and leaves decided rows alone, so a decision is never undone by matching again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update

from ml_connector.store.repos.base import Repo
from ml_connector.store.schema import match_proposals as mp

PROPOSED, ACCEPTED, REJECTED = "proposed", "accepted", "rejected"


@dataclass(frozen=True, kw_only=True)
class NewProposal:
    connection: str
    entity: str
    source_system: str
    source_id: str
    source_label: str
    target_system: str
    target_id: str
    target_label: str
    score: float
    kind: str
    ambiguous: bool
    why_ambiguous: str | None
    evidence: dict[str, Any]
    candidates: list[dict[str, Any]]


@dataclass(frozen=True, kw_only=True)
class MatchProposal(NewProposal):
    id: int
    state: str
    decided_by: str | None
    decided_at: datetime | None
    applied_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def candidate(self, target_id: str) -> dict[str, Any] | None:
        for c in self.candidates:
            if str(c.get("target_id")) == target_id:
                return c
        return None


def _proposal(row: Row[tuple[object, ...]]) -> MatchProposal:
    return MatchProposal(**dict(row._mapping))


#: built once: F1 asks it for every supplier it would create
_FOR_SOURCE = select(mp).where(
    mp.c.connection == bindparam("connection"),
    mp.c.entity == bindparam("entity"),
    mp.c.source_id == bindparam("source_id"),
)


def holding(found: MatchProposal | None, threshold: float) -> MatchProposal | None:
    """``found`` if it holds its source record (see :meth:`MatchRepo.pending`), else None."""
    if found is None:
        return None
    if found.state == ACCEPTED and found.applied_at is None:
        return found  # a person said it exists; creating it now would make a duplicate
    if found.state != PROPOSED or found.score < threshold:
        return None
    return found


class MatchRepo(Repo):
    async def save(self, new: NewProposal) -> str:
        """Insert or refresh a proposal; a decided one is kept as it is. Returns what happened:
        ``"new"``, ``"refreshed"`` or the decided state left alone."""
        now = self._clock.now()
        values = {**new.__dict__, "updated_at": now}
        found = (
            await self._conn.execute(
                select(mp.c.id, mp.c.state).where(
                    mp.c.connection == new.connection,
                    mp.c.entity == new.entity,
                    mp.c.source_id == new.source_id,
                )
            )
        ).first()
        if found is None:
            await self._conn.execute(mp.insert().values(**values, state=PROPOSED, created_at=now))
            return "new"
        if found.state != PROPOSED:
            return str(found.state)
        await self._conn.execute(update(mp).where(mp.c.id == found.id).values(**values))
        return "refreshed"

    async def save_many(self, batch: list[NewProposal]) -> dict[str, str]:
        """:meth:`save` for a page of proposals of one connection and entity in three statements
        (look up, insert the new, refresh the open): ``{source_id: what happened}``."""
        if not batch:
            return {}
        first = batch[0]
        if any((p.connection, p.entity) != (first.connection, first.entity) for p in batch):
            raise ValueError("save_many takes proposals of one connection and entity")
        rows = (
            await self._conn.execute(
                select(mp.c.id, mp.c.source_id, mp.c.state).where(
                    mp.c.connection == first.connection,
                    mp.c.entity == first.entity,
                    mp.c.source_id.in_([p.source_id for p in batch]),
                )
            )
        ).all()
        known = {str(r.source_id): (int(r.id), str(r.state)) for r in rows}
        now = self._clock.now()
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        outcome: dict[str, str] = {}
        for p in batch:
            values = {**p.__dict__, "updated_at": now}
            found = known.get(p.source_id)
            if found is None:
                inserts.append({**values, "state": PROPOSED, "created_at": now})
                outcome[p.source_id] = "new"
            elif found[1] == PROPOSED:
                updates.append({**values, "row_id": found[0]})
                outcome[p.source_id] = "refreshed"
            else:
                outcome[p.source_id] = found[1]
        if inserts:
            await self._conn.execute(mp.insert(), inserts)
        if updates:
            changing = [c for c in updates[0] if c not in ("row_id", "connection", "entity")]
            stmt = (
                update(mp)
                .where(mp.c.id == bindparam("row_id"))
                .values({c: bindparam(c) for c in changing})
            )
            await self._conn.execute(stmt, updates)
        return outcome

    async def get(self, proposal_id: int) -> MatchProposal | None:
        row = (await self._conn.execute(select(mp).where(mp.c.id == proposal_id))).first()
        return _proposal(row) if row is not None else None

    async def for_source(
        self, connection: str, entity: str, source_id: str
    ) -> MatchProposal | None:
        params = {"connection": connection, "entity": entity, "source_id": source_id}
        row = (await self._conn.execute(_FOR_SOURCE, params)).first()
        return _proposal(row) if row is not None else None

    async def pending(
        self, connection: str, entity: str, source_id: str, *, threshold: float
    ) -> MatchProposal | None:
        """The unreviewed proposal at or above ``threshold`` for this source record, or an
        accepted one not applied yet (no link, no mark on the vendor), if any: while it stands, F1
        and F4 must not create or guess that record (issue 11, safety)."""
        return holding(await self.for_source(connection, entity, source_id), threshold)

    async def for_sources(
        self, connection: str, entity: str, source_ids: Iterable[str]
    ) -> dict[str, MatchProposal]:
        """The proposals of several source records at once (a page's prefetch), by source id."""
        stmt = select(mp).where(mp.c.connection == connection, mp.c.entity == entity)
        found: dict[str, MatchProposal] = {}
        async for row in self.rows_in(stmt, mp.c.source_id, source_ids):
            proposal = _proposal(row)
            found[proposal.source_id] = proposal
        return found

    async def page(
        self,
        connection: str,
        *,
        entity: str | None = None,
        states: Iterable[str] = (),
        after_id: int = 0,
        limit: int = 500,
    ) -> list[MatchProposal]:
        stmt = (
            select(mp)
            .where(mp.c.connection == connection, mp.c.id > after_id)
            .order_by(mp.c.id)
            .limit(limit)
        )
        if entity is not None:
            stmt = stmt.where(mp.c.entity == entity)
        wanted = list(states)
        if wanted:
            stmt = stmt.where(mp.c.state.in_(wanted))
        return [_proposal(r) for r in (await self._conn.execute(stmt)).all()]

    async def decide(
        self, proposal_id: int, state: str, *, by: str, target_id: str | None = None
    ) -> MatchProposal:
        """Accept (optionally another candidate as the target) or reject a proposal."""
        if state not in (ACCEPTED, REJECTED, PROPOSED):
            raise ValueError(f"unknown proposal state {state!r}")
        found = await self.get(proposal_id)
        if found is None:
            raise LookupError(f"no match proposal {proposal_id}")
        now = self._clock.now()
        values: dict[str, Any] = {
            "state": state,
            "decided_by": by if state != PROPOSED else None,
            "decided_at": now if state != PROPOSED else None,
            "updated_at": now,
        }
        if target_id is not None and target_id != found.target_id:
            candidate = found.candidate(target_id)
            if candidate is None:
                raise LookupError(f"{target_id} is not a candidate of proposal {proposal_id}")
            values |= {
                "target_id": target_id,
                "target_label": str(candidate.get("target_label") or ""),
                "score": float(candidate.get("score") or 0.0),
                "kind": str(candidate.get("kind") or "similar"),
            }
        await self._conn.execute(update(mp).where(mp.c.id == proposal_id).values(**values))
        decided = await self.get(proposal_id)
        assert decided is not None
        return decided

    async def mark_applied(self, proposal_id: int) -> None:
        now = self._clock.now()
        await self._conn.execute(
            update(mp).where(mp.c.id == proposal_id).values(applied_at=now, updated_at=now)
        )

    async def mark_ambiguous(self, proposal_ids: Iterable[int], why: str) -> None:
        ids = list(proposal_ids)
        if ids:
            await self._conn.execute(
                update(mp)
                .where(mp.c.id.in_(ids))
                .values(ambiguous=True, why_ambiguous=why, updated_at=self._clock.now())
            )

    async def shared_targets(self, connection: str, entity: str) -> dict[str, list[int]]:
        """Targets that more than one undecided proposal points at, with those proposals."""
        crowded = (
            select(mp.c.target_id)
            .where(mp.c.connection == connection, mp.c.entity == entity)
            .where(mp.c.state != REJECTED)
            .group_by(mp.c.target_id)
            .having(func.count() > 1)
        )
        rows = (
            await self._conn.execute(
                select(mp.c.id, mp.c.target_id).where(
                    mp.c.connection == connection,
                    mp.c.entity == entity,
                    mp.c.state != REJECTED,
                    mp.c.target_id.in_(crowded),
                )
            )
        ).all()
        out: dict[str, list[int]] = {}
        for row in rows:
            out.setdefault(str(row.target_id), []).append(int(row.id))
        return out

    async def accepted_for_target(
        self, connection: str, entity: str, target_id: str
    ) -> list[MatchProposal]:
        rows = (
            await self._conn.execute(
                select(mp).where(
                    mp.c.connection == connection,
                    mp.c.entity == entity,
                    mp.c.target_id == target_id,
                    mp.c.state == ACCEPTED,
                )
            )
        ).all()
        return [_proposal(r) for r in rows]

    async def counts(self, connection: str) -> dict[tuple[str, str], int]:
        """``{(entity, state): n}``."""
        rows = (
            await self._conn.execute(
                select(mp.c.entity, mp.c.state, func.count())
                .where(mp.c.connection == connection)
                .group_by(mp.c.entity, mp.c.state)
            )
        ).all()
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}
