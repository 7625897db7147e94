"""The matching engine: an index of one side's keys, blocked, and a scorer for the other side.

Never all pairs: the target side is indexed by several normalised keys (identifiers, name words,
a name prefix, postal code, phone digits, e-mail domain, the start of the address), and a source
record is compared only with the records that share at least one of its blocks. A block holding
more than ``max_block`` records (a word such as "supply", a city's postal code) says too little to
be worth reading and is skipped; the candidates sharing the most blocks are scored, at most
``max_candidates`` of them. Scores come from rapidfuzz on the normalised keys.

Extend by adding a key to :class:`~.model.Keys`, a rule to :mod:`.normalise`, a block in
:func:`blocks` and a weight in :data:`WEIGHTS`.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from rapidfuzz import fuzz

from .model import Candidate, Entity, Keys, Kind, Proposal

#: How much each key counts in a similarity score (only keys known on both sides count).
#: A shared phone number and domain outweigh a changed address: businesses move, numbers stay.
WEIGHTS = {"name": 0.40, "address": 0.15, "postal": 0.10, "phone": 0.20, "domain": 0.15}
#: A key "agreed" at or above this similarity, else it "differed".
AGREE = 0.85
#: A score made of the name alone is worth less: nothing corroborates it.
NAME_ONLY_FACTOR = 0.9


def blocks(keys: Keys) -> Iterator[str]:
    """The blocking keys of a record (the exact identifiers are indexed apart)."""
    seen: set[str] = set()
    for token in keys.name.split():
        if len(token) >= 3 and token not in seen:
            seen.add(token)
            yield "n:" + token
    compact = keys.name.replace(" ", "")
    if len(compact) >= 4:
        yield "p:" + compact[:4]
    if keys.postal:
        yield "z:" + keys.postal
    if keys.phone:
        yield "t:" + keys.phone
    if keys.domain:
        yield "d:" + keys.domain
    street = keys.address.split()
    if len(street) >= 2:
        yield "a:" + " ".join(street[:2])


def _name_score(a: str, b: str) -> float:
    return max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)) / 100.0


def _address_score(a: str, b: str) -> float:
    score = fuzz.token_sort_ratio(a, b) / 100.0
    first_a, first_b = a.split(maxsplit=1)[0], b.split(maxsplit=1)[0]
    if first_a.isdigit() and first_b.isdigit() and first_a != first_b:
        score = min(score, 0.5)  # another house number is another address
    return score


def similarity(a: Keys, b: Keys) -> tuple[float, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(score 0–1, keys that agreed, keys that differed, keys missing on a side)."""
    parts: dict[str, float] = {}
    missing: list[str] = []
    if a.name and b.name:
        parts["name"] = _name_score(a.name, b.name)
    else:
        missing.append("name")
    if a.address and b.address:
        parts["address"] = _address_score(a.address, b.address)
    else:
        missing.append("address")
    for key in ("postal", "phone", "domain"):
        va, vb = getattr(a, key), getattr(b, key)
        if va and vb:
            parts[key] = 1.0 if va == vb else 0.0
        else:
            missing.append(key)
    if not parts:
        return 0.0, (), (), tuple(missing)
    weight = sum(WEIGHTS[k] for k in parts)
    score = sum(WEIGHTS[k] * v for k, v in parts.items()) / weight
    if list(parts) == ["name"]:
        score *= NAME_ONLY_FACTOR
    score = round(score, 4)  # so that a threshold compares the same on every platform
    agreed = tuple(k for k, v in parts.items() if v >= AGREE)
    differed = tuple(k for k, v in parts.items() if v < AGREE)
    return score, agreed, differed, tuple(missing)


class Index:
    """The target side's keys and blocks. Block members are row numbers in compact arrays."""

    def __init__(self, *, max_block: int = 64) -> None:
        self.max_block = max_block
        self.rows: list[Keys] = []
        self._blocks: dict[str, array[int]] = {}
        self._exact: dict[str, array[int]] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, keys: Keys) -> None:
        row = len(self.rows)
        self.rows.append(keys)
        for block in blocks(keys):
            self._blocks.setdefault(block, array("l")).append(row)
        for key in keys.exact:
            self._exact.setdefault(key, array("l")).append(row)

    def exact_rows(self, keys: Keys) -> set[int]:
        out: set[int] = set()
        for key in keys.exact:
            out.update(self._exact.get(key, ()))
        return out

    def candidate_rows(self, keys: Keys, limit: int) -> list[int]:
        """Rows sharing the most usable blocks with ``keys``, best first."""
        hits: Counter[int] = Counter()
        for block in blocks(keys):
            members = self._blocks.get(block)
            if members is None or len(members) > self.max_block:
                continue
            hits.update(members)
        return [row for row, _ in hits.most_common(limit)]


@dataclass(frozen=True, kw_only=True)
class Settings:
    threshold: float = 0.75
    margin: float = 0.05
    max_candidates: int = 8
    keep: int = 3  # candidates kept per proposal (the best and the runners-up a person may pick)


class Matcher:
    """Proposes, for each source record, its best target in an :class:`Index`."""

    def __init__(self, entity: Entity, index: Index, settings: Settings) -> None:
        self.entity = entity
        self.index = index
        self.settings = settings
        self.compared = 0  # pairs scored, for the figures

    def _score(self, source: Keys, exact: set[int], rows: set[int]) -> list[Candidate]:
        best: dict[str, Candidate] = {}  # per target id: a target may be indexed more than once
        for row in rows:
            target = self.index.rows[row]
            self.compared += 1
            similar, agreed, differed, missing = similarity(source, target)
            kind, score = Kind.SIMILAR, similar
            if row in exact:
                kind, score = Kind.EXACT, 1.0
                agreed = ("identifier", *agreed)
            candidate = Candidate(
                target_id=target.id,
                target_label=target.label,
                score=score,
                kind=kind,
                similarity=similar,
                agreed=agreed,
                differed=differed,
                missing=missing,
            )
            known = best.get(target.id)
            if known is None or _rank(candidate) > _rank(known):
                best[target.id] = candidate
        return sorted(best.values(), key=_rank, reverse=True)

    def match(self, source: Keys) -> Proposal | None:
        """The proposal for ``source``, or None when no candidate reaches the threshold."""
        s = self.settings
        exact = self.index.exact_rows(source)
        rows = set(self.index.candidate_rows(source, s.max_candidates)) | exact
        ranked = self._score(source, exact, rows)
        if not ranked or (ranked[0].kind is Kind.SIMILAR and ranked[0].score < s.threshold):
            return None
        best, others = ranked[0], ranked[1 : s.keep]
        proposal = Proposal(
            entity=self.entity,
            source_id=source.id,
            source_label=source.label,
            best=best,
            others=[c for c in others if c.kind is Kind.EXACT or c.score >= s.threshold - 0.2],
        )
        exact_ids = {c.target_id for c in ranked if c.kind is Kind.EXACT}
        if len(exact_ids) > 1:
            proposal.ambiguous = True
            proposal.why_ambiguous = f"an identifier points at {len(exact_ids)} records"
        elif len(ranked) > 1 and ranked[1].score >= best.score - s.margin:
            proposal.ambiguous = True
            second = ranked[1]
            proposal.why_ambiguous = (
                f"{second.target_label} ({second.target_id}) scores {second.score:.2f}, "
                f"within {s.margin:.2f} of the best"
            )
        return proposal


def _rank(c: Candidate) -> tuple[bool, float, float, str]:
    return (c.kind is Kind.EXACT, c.score, c.similarity, c.target_id)
