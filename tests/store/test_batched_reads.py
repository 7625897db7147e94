"""A page's reads in one go (issue 9): links, pending intents and match proposals of many source
records at once, equal to reading them one by one; and the rows an insert returns."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ml_connector.clock import FakeClock
from ml_connector.store import Store
from ml_connector.store.repos.base import CHUNK
from ml_connector.store.repos.matches import NewProposal
from ml_connector.store.schema import links
from ml_connector.store.states import WriteState


async def test_links_of_many_sources_at_once_equal_one_by_one(store: Store) -> None:
    ids = [str(i) for i in range(CHUNK + 20)]  # more than one IN (…) chunk
    async with store.transaction() as tx:
        for i in ids[::3]:
            made = await tx.links.upsert(
                connection="c1",
                entity="supplier",
                source_system="fusion",
                source_id=i,
                target_system="servicetitan",
                target_id=f"9{i}",
                version_hash=f"h{i}",
            )
            assert made.target_id == f"9{i}"
            assert made.version_hash == f"h{i}"
        await tx.links.upsert(
            connection="c2",
            entity="supplier",
            source_system="fusion",
            source_id="1",
            target_system="servicetitan",
            target_id="other",
            version_hash=None,
        )
        many = await tx.links.get_many("c1", "supplier", [*ids, "0", "nope"])
        one_by_one = {i: await tx.links.get("c1", "supplier", i) for i in ids}
    assert many == {i: link for i, link in one_by_one.items() if link is not None}
    assert set(many) == set(ids[::3])


async def test_an_upsert_returns_the_row_as_stored(store: Store, clock: FakeClock) -> None:
    async with store.transaction() as tx:
        first = await tx.links.upsert(
            connection="c1",
            entity="supplier",
            source_system="fusion",
            source_id="7",
            target_system="servicetitan",
            target_id="70",
            version_hash="a",
        )
        clock.advance(60)
        second = await tx.links.upsert(
            connection="c1",
            entity="supplier",
            source_system="fusion",
            source_id="7",
            target_system="servicetitan",
            target_id="71",
            version_hash="b",
        )
        stored = await tx.links.get("c1", "supplier", "7")
    assert second == stored
    assert (second.target_id, second.version_hash) == ("71", "b")
    assert second.created_at == first.created_at
    assert second.updated_at == clock.now()


async def test_pending_intents_of_many_keys_at_once(store: Store) -> None:
    async with store.transaction() as tx:
        made = {}
        for key in ("supplier:1", "supplier:1", "supplier:2", "supplier:3"):
            intent = await tx.writes.record_intent(
                connection="c1",
                flow="suppliers",
                target_system="servicetitan",
                operation="create",
                business_key=key,
                payload_hash="p",
            )
            assert intent == await tx.writes.get(intent.id)
            assert intent.state is WriteState.PENDING
            made.setdefault(key, []).append(intent)
        await tx.writes.complete(made["supplier:3"][0].id, target_id="30")
        found = await tx.writes.pending_for("c1", "suppliers", ["supplier:1", "supplier:2", "x"])
        assert await tx.writes.pending_for("c1", "invoices", ["supplier:1"]) == {}
    assert found == {"supplier:1": made["supplier:1"], "supplier:2": made["supplier:2"]}


async def test_pending_intents_by_key_suffix(store: Store) -> None:
    """The applications' check for another unsettled application to the same Fusion invoice: the
    suffix is matched literally (``%``/``_`` are not wildcards), other operations, flows and
    settled intents are not returned."""
    async with store.transaction() as tx:
        made = {}
        for flow, operation, key in (
            ("payments", "apply", "application:7:300"),
            ("payments", "apply", "application:8:300"),
            ("payments", "apply", "application:9:1300"),
            ("payments", "apply", "application:9:3%0"),
            ("payments", "create", "receipt:300"),
            ("invoices", "apply", "application:7:300"),
            ("payments", "apply", "application:6:300"),
        ):
            made[(flow, key)] = await tx.writes.record_intent(
                connection="c1",
                flow=flow,
                target_system="fusion",
                operation=operation,
                business_key=key,
                payload_hash="p",
            )
        await tx.writes.complete(made[("payments", "application:6:300")].id, target_id="1")
        found = await tx.writes.pending_ending("c1", "payments", "apply", ":300")
        wildcard = await tx.writes.pending_ending("c1", "payments", "apply", ":3%0")
    assert [i.business_key for i in found] == ["application:7:300", "application:8:300"]
    assert [i.business_key for i in wildcard] == ["application:9:3%0"]


def _proposal(source_id: str, score: float) -> NewProposal:
    return NewProposal(
        connection="c1",
        entity="supplier",
        source_system="fusion",
        source_id=source_id,
        source_label="Acme Supply Co",
        target_system="servicetitan",
        target_id="8",
        target_label="ACME SUPPLY",
        score=score,
        kind="similar",
        ambiguous=False,
        why_ambiguous=None,
        evidence={},
        candidates=[{"target_id": "8", "target_label": "ACME SUPPLY", "score": score}],
    )


async def test_proposals_of_many_sources_at_once(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.matches.save(_proposal("1", 0.9))
        await tx.matches.save(_proposal("2", 0.5))
        many = await tx.matches.for_sources("c1", "supplier", ["1", "2", "3"])
        assert many == {
            "1": await tx.matches.for_source("c1", "supplier", "1"),
            "2": await tx.matches.for_source("c1", "supplier", "2"),
        }


async def test_statement_results_row_counts_and_errors(store: Store) -> None:
    """What SQLAlchemy reads off a DBAPI cursor: rows, row count, and the driver's error."""
    async with store.transaction() as tx:
        conn = tx.connection
        await conn.execute(text("CREATE TEMPORARY TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
        await conn.execute(
            text("INSERT INTO t (k, v) VALUES (:k, :v)"), [{"k": i, "v": "a"} for i in range(5)]
        )
        updated = await conn.execute(text("UPDATE t SET v = 'b' WHERE k < 3"))
        assert updated.rowcount == 3
        rows = (await conn.execute(text("SELECT k, v FROM t ORDER BY k"))).all()
        assert [tuple(r) for r in rows] == [(0, "b"), (1, "b"), (2, "b"), (3, "a"), (4, "a")]
        assert (await conn.execute(text("SELECT k FROM t WHERE k > 9"))).first() is None
    with pytest.raises(DBAPIError, match="no_such_table"):
        async with store.transaction() as tx:
            await tx.connection.execute(text("SELECT * FROM no_such_table"))
    with pytest.raises(IntegrityError):
        async with store.transaction() as tx:
            for _ in range(2):
                await tx.links.upsert(
                    connection="c1",
                    entity="supplier",
                    source_system="fusion",
                    source_id="1",
                    target_system="servicetitan",
                    target_id="1",
                    version_hash=None,
                )
            await tx.connection.execute(
                links.insert().values(
                    connection="c1",
                    entity="supplier",
                    source_system="fusion",
                    source_id="1",
                    target_system="servicetitan",
                    target_id="2",
                    created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC),
                )
            )
