"""The page index answers as the full scan does — oracle-fusion-api.md §3.3 (limit/offset/totalResults/
orderBy) and §3.4 (envelope: count, hasMore, totalResults) over §3.1 ``q``.

Each case runs the same request twice through ``dispatch``: on the real resource tree, where
``suppliers`` and ``purchaseOrders`` pages come from their page index, and on a copy of the tree whose
nodes have no table, which filters and sorts every row as the simulator always did. Replies (or
errors) must be equal: same rows, same order, same ``hasMore`` and ``totalResults``, same 400s.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest

from ml_connector.clock import FakeClock
from ml_connector.sandbox.fusion import FusionSimConfig, FusionState, seed_minimal
from ml_connector.sandbox.fusion.dispatch import dispatch
from ml_connector.sandbox.fusion.errors import ApiError
from ml_connector.sandbox.fusion.registry import build_registry
from ml_connector.sandbox.fusion.tree import Ctx, Node
from ml_connector.systems.fusion import query

BASE = "http://fusion.test/fscmRestApi/resources/11.13.18.05"
STAMP = "LastUpdateDate"
ORDERS = [
    None,
    "LastUpdateDate:asc,SupplierId:asc",
    "LastUpdateDate:asc",
    "LastUpdateDate",
    "LastUpdateDate:desc",
    "LastUpdateDate:desc,SupplierId:desc",
    "SupplierId:asc",
    "SupplierId",
    "SupplierId:desc",
    "Supplier:asc,LastUpdateDate:asc",
    "AlternateName:desc,SupplierId:asc",
    "LastUpdateDate:asc,AlternateName:desc",
    "Nope:asc",
]
LIMITS = ["0", "1", "2", "3", "7", "25", "500", "1000", None, "x", "-1"]
OFFSETS = ["0", "0", "1", "2", "5", "20", "100", "1000", None, "y"]


def _reply(ctx: Ctx, registry: Mapping[str, Node], params: dict[str, str]) -> Any:
    try:
        reply = dispatch(ctx, registry, "GET", ["suppliers"], params, None)
    except ApiError as exc:
        return ("error", exc.status, exc.details)
    except Exception as exc:  # what the app would turn into a 500: it must be the same one
        return ("raised", type(exc).__name__, str(exc))
    return (reply.status, reply.body)


def _ts(rng: random.Random, stamps: list[Any]) -> Any:
    base = rng.choice(stamps)
    return base + timedelta(milliseconds=rng.choice([0, 0, 0, -1, 1, -5, 7, 1000, -100_000]))


def _literal(value: Any, rng: random.Random) -> str:
    """A timestamp literal in one of the forms ``q`` accepts (and, rarely, one it does not)."""
    form = rng.random()
    if form < 0.7:
        return query.literal(value)
    if form < 0.85:
        return f"'{value.date().isoformat()}'"
    if form < 0.95:
        return f"'{value.replace(tzinfo=None).isoformat()}'"
    return "'not a date'"


def _q(rng: random.Random, state: FusionState) -> tuple[str | None, int]:
    """A random ``q`` and the framework to send it under."""
    rows = list(state.suppliers.values())
    stamps = [r.LastUpdateDate for r in rows]
    ids = [r.SupplierId for r in rows]
    row = rng.choice(rows)
    ops = ["=", "!=", "<>", ">", ">=", "<", "<="]
    kind = rng.randrange(16)
    if kind == 0:
        return None, 4
    if kind in (1, 2, 3):  # exactly what the keyset pager sends
        since, until = sorted((_ts(rng, stamps), _ts(rng, stamps)))
        after = (row.LastUpdateDate, row.SupplierId) if kind != 1 else None
        extra = rng.choice([None, None, "Status='ACTIVE'", "Supplier like 'Bulk 1%'"])
        return query.window(
            stamp_attr=STAMP,
            id_attr="SupplierId",
            since=since,
            until=until,
            after=after,
            extra=extra,
        ), 4
    if kind == 4:
        return f"{STAMP}{rng.choice(ops)}{_literal(_ts(rng, stamps), rng)}", 4
    if kind == 5:
        wiggle = rng.choice([0, 1, -1, 3, 10**20])
        return f"SupplierId {rng.choice(ops)} {rng.choice(ids) + wiggle}", 4
    if kind == 6:
        lo, hi = sorted((_ts(rng, stamps), _ts(rng, stamps)))
        neg = rng.choice(["", "not "])
        return f"{STAMP} {neg}between {query.literal(lo)} and {query.literal(hi)}", 4
    if kind == 7:
        picked = rng.sample(ids, k=min(3, len(ids)))
        neg = rng.choice(["", "not "])
        return f"SupplierId {neg}in ({','.join(str(i) for i in picked)})", 4
    if kind == 8:
        a, b, c = (_ts(rng, stamps) for _ in range(3))
        return (
            f"({STAMP}<{query.literal(a)} or {STAMP}>={query.literal(b)}) "
            f"and SupplierId>{rng.choice(ids)} or {STAMP}={query.literal(c)}"
        ), 4
    if kind == 9:
        return f"not ({STAMP}>={query.literal(_ts(rng, stamps))})", 4
    if kind == 10:  # query-by-example, below framework 2 and (strictly) above
        a, b = (_ts(rng, stamps) for _ in range(2))
        text = f"{STAMP}>={query.timestamp(a)};{STAMP}<{query.timestamp(b)}"
        return rng.choice([text, text + ";SupplierId>" + str(rng.choice(ids))]), rng.choice([1, 4])
    if kind == 11:
        return rng.choice(["LastUpdateDate >", "Nope = 1", "LastUpdateDate > '2026' and"]), 4
    if kind == 12:
        return f"{STAMP} and junk;SupplierId>{rng.choice(ids)}", rng.choice([1, 4])
    if kind == 13:
        return (
            f"upper(Supplier) like '%{rng.randrange(10)}%' and {STAMP}>={_literal(row.LastUpdateDate, rng)}",
            4,
        )
    if kind == 14:
        return f"AlternateName is null or SupplierId<={rng.choice(ids)}", 4
    return f"{STAMP} in ({query.literal(row.LastUpdateDate)}, {query.literal(_ts(rng, stamps))})", 4


def _change(rng: random.Random, state: FusionState, clock: FakeClock) -> None:
    ids = list(state.suppliers)
    roll = rng.random()
    if roll < 0.35:
        state.update_supplier(rng.choice(ids), AlternateName=rng.choice([None, "a", "b", "c"]))
    elif roll < 0.55:
        clock.advance(rng.choice([0, 0, 0.001, 0.002, 1]))
        state.add_supplier(f"Bulk {rng.randrange(100)}", AlternateName=rng.choice([None, "a", "b"]))
    elif roll < 0.7:  # a stamp set by hand, backwards or forwards (as tests and faults do)
        sup = state.suppliers[rng.choice(ids)]
        sup.LastUpdateDate = sup.LastUpdateDate + timedelta(milliseconds=rng.randint(-5000, 5000))
    elif roll < 0.75:  # a batch rolled back: the tables are replaced by copies
        state.restore(state.snapshot())
    else:
        clock.advance(rng.choice([0, 0.001, 0.003]))


@pytest.mark.parametrize("seed", range(6))
def test_indexed_pages_equal_the_full_scan(clock: FakeClock, seed: int) -> None:
    """§3.3/§3.4: for random data (many equal stamps), random changes between requests and random
    q/orderBy/limit/offset/totalResults, the indexed reply equals the full scan's, errors included."""
    rng = random.Random(seed)
    state = FusionState(clock)
    seed_minimal(state)
    for n in range(150):
        if rng.random() < 0.5:
            clock.advance(rng.choice([0.001, 0.002, 1]))
        state.add_supplier(f"Bulk {n}", AlternateName=rng.choice([None, "a", "b"]))
    config = FusionSimConfig()
    indexed = build_registry(config)
    scanned = {name: dataclasses.replace(node, table=None) for name, node in indexed.items()}
    asked = 0
    for _ in range(60):
        for _ in range(rng.choice([0, 0, 1, 3])):
            _change(rng, state, clock)
        for _ in range(8):
            q, framework = _q(rng, state)
            params = {"onlyData": "true", "fields": "SupplierId,LastUpdateDate,AlternateName"}
            for name, value in (
                ("q", q),
                ("orderBy", rng.choice(ORDERS)),
                ("limit", rng.choice(LIMITS)),
                ("offset", rng.choice(OFFSETS)),
                ("totalResults", rng.choice([None, "true"])),
            ):
                if value is not None:
                    params[name] = value
            ctx = Ctx(state=state, config=config, framework=framework, base=BASE)
            assert _reply(ctx, indexed, params) == _reply(ctx, scanned, params), params
            asked += 1
    index = state.indexes["suppliers"]
    assert index.usable
    assert index.rebuilds < asked / 4  # it followed the changes, not rebuilt for every page


def test_a_stamp_the_index_cannot_hold_falls_back_to_the_scan(
    fusion_state: FusionState, clock: FakeClock
) -> None:
    """§3.3: a naive LastUpdateDate (set by hand) is compared as the scan compares it; the index
    steps aside until the row is stamped again."""
    for n in range(20):
        clock.advance(0.001 * (n % 3))
        fusion_state.add_supplier(f"Bulk {n}")
    config = FusionSimConfig()
    indexed = build_registry(config)
    scanned = {name: dataclasses.replace(node, table=None) for name, node in indexed.items()}
    ctx = Ctx(state=fusion_state, config=config, framework=4, base=BASE)
    odd = next(iter(fusion_state.suppliers.values()))
    odd.LastUpdateDate = odd.LastUpdateDate.replace(tzinfo=None)
    params = {"q": f"{STAMP}>='2000-01-01'", "orderBy": "SupplierId:asc", "limit": "500"}
    assert _reply(ctx, indexed, params) == _reply(ctx, scanned, params)
    assert not fusion_state.indexes["suppliers"].usable
    odd.LastUpdateDate = clock.now()
    assert _reply(ctx, indexed, params) == _reply(ctx, scanned, params)
    assert fusion_state.indexes["suppliers"].usable


def test_a_keyset_page_reads_only_its_range(fusion_state: FusionState, clock: FakeClock) -> None:
    """§3.3: a keyset page over (LastUpdateDate, SupplierId) runs ``q`` over the page and one row
    more, not over the collection."""
    for n in range(2000):
        clock.advance(0.001)
        fusion_state.add_supplier(f"Bulk {n}")
    rows = sorted(fusion_state.suppliers.values(), key=lambda r: (r.LastUpdateDate, r.SupplierId))
    after = rows[1000]
    config = FusionSimConfig()
    registry = build_registry(config)
    ctx = Ctx(state=fusion_state, config=config, framework=4, base=BASE)
    seen: list[Any] = []
    real = registry["suppliers"].get

    def counting_get(row: Any, name: str) -> Any:
        seen.append(row)
        return real(row, name)

    registry["suppliers"] = dataclasses.replace(registry["suppliers"], get=counting_get)
    q = query.window(
        stamp_attr=STAMP,
        id_attr="SupplierId",
        since=rows[0].LastUpdateDate,
        until=rows[-1].LastUpdateDate + timedelta(seconds=1),
        after=(after.LastUpdateDate, after.SupplierId),
    )
    params = {"q": q, "orderBy": "LastUpdateDate:asc,SupplierId:asc", "limit": "100"}
    reply = dispatch(ctx, registry, "GET", ["suppliers"], params, None)
    assert [i["SupplierId"] for i in reply.body["items"]] == [r.SupplierId for r in rows[1001:1101]]
    assert reply.body["hasMore"] is True
    assert len({id(r) for r in seen}) <= 110
