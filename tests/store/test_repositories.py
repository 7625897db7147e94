"""Repositories on SQLite and PostgreSQL: cursors, links, inbox claims, writes, audit, attention."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ml_connector.clock import FakeClock
from ml_connector.store import Store
from ml_connector.store.records import AuditEntry, NewInboxEvent
from ml_connector.store.states import AttentionState, AuditAction, InboxState, WriteState

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


async def test_cursor_starts_empty_and_advances_in_a_transaction(store: Store) -> None:
    async with store.transaction() as tx:
        assert (await tx.cursors.get("c1", "suppliers")).watermark is None
        await tx.cursors.advance("c1", "suppliers", watermark=T0, tiebreak="300100000000001")
    async with store.transaction() as tx:
        cursor = await tx.cursors.get("c1", "suppliers")
    assert cursor.watermark == T0
    assert cursor.watermark.tzinfo is not None
    assert cursor.tiebreak == "300100000000001"


async def test_cursor_rolls_back_with_the_page_writes(store: Store) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with store.transaction() as tx:
            await tx.links.upsert(
                connection="c1",
                entity="supplier",
                source_system="fusion",
                source_id="1",
                target_system="servicetitan",
                target_id="9",
                version_hash="h1",
            )
            await tx.cursors.advance("c1", "suppliers", watermark=T0)
            raise Boom
    async with store.transaction() as tx:
        assert (await tx.cursors.get("c1", "suppliers")).watermark is None
        assert await tx.links.get("c1", "supplier", "1") is None


async def test_cursor_never_moves_backwards_but_can_be_reset(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.cursors.advance("c1", "po", watermark=T0, tiebreak="5")
        with pytest.raises(ValueError, match="backwards"):
            await tx.cursors.advance("c1", "po", watermark=T0 - timedelta(seconds=1))
        await tx.cursors.advance("c1", "po", watermark=T0, tiebreak="6")
        await tx.cursors.reset("c1", "po", watermark=T0 - timedelta(days=30))
        assert (await tx.cursors.get("c1", "po")).watermark == T0 - timedelta(days=30)
        await tx.cursors.reset("c1", "po")
        assert (await tx.cursors.get("c1", "po")).watermark is None


async def test_cursor_refuses_naive_datetimes(store: Store) -> None:
    async with store.transaction() as tx:
        with pytest.raises(ValueError, match="naive"):
            await tx.cursors.advance("c1", "po", watermark=datetime(2026, 1, 1))


async def test_cursor_keeps_an_export_token(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.cursors.advance("c1", "invoices", token="ARfeFsjsaNdIpNpYDgAAAAAXJw8U")
    async with store.transaction() as tx:
        assert (await tx.cursors.get("c1", "invoices")).token == "ARfeFsjsaNdIpNpYDgAAAAAXJw8U"


async def test_link_upsert_replaces_version_hash(store: Store, clock: FakeClock) -> None:
    kwargs = {
        "connection": "c1",
        "entity": "supplier",
        "source_system": "fusion",
        "source_id": "300100000000001",
        "target_system": "servicetitan",
        "target_id": "1001",
    }
    async with store.transaction() as tx:
        first = await tx.links.upsert(version_hash="aaa", **kwargs)
    clock.advance(60)
    async with store.transaction() as tx:
        second = await tx.links.upsert(version_hash="bbb", **kwargs)
        assert await tx.links.count("c1", "supplier") == 1
        assert [link.source_id for link in await tx.links.by_target("c1", "supplier", "1001")] == [
            "300100000000001"
        ]
    assert second.version_hash == "bbb"
    assert second.created_at == first.created_at
    assert second.updated_at == first.updated_at + timedelta(seconds=60)


def _event(key: str, connection: str = "c1") -> NewInboxEvent:
    return NewInboxEvent(
        connection=connection,
        origin="webhook",
        event_key=key,
        event_type="invoice.updated",
        entity_type="invoice",
        entity_id=key,
        payload={"id": key},
    )


async def test_inbox_duplicates_are_absorbed(store: Store) -> None:
    async with store.transaction() as tx:
        assert await tx.inbox.enqueue([_event("e1"), _event("e2"), _event("e1")]) == [
            True,
            True,
            False,
        ]
    async with store.transaction() as tx:
        assert await tx.inbox.enqueue([_event("e2")]) == [False]
        assert await tx.inbox.counts() == {"pending": 2}


async def test_inbox_enqueue_of_a_large_batch_is_one_transaction_in_the_order_given(
    store: Store, clock: FakeClock
) -> None:
    """More rows than SQLite binds in one statement (32,766 variables / 11 columns): paged, yet
    each event still learns whether it was new, and a delayed one waits."""
    keys = [f"big-{i:04d}" for i in range(3200)]
    async with store.transaction() as tx:
        await tx.inbox.enqueue([_event(k) for k in keys[1000:1010]])
    batch = [_event(k) for k in keys] + [_event("big-0005")]
    batch.append(
        NewInboxEvent(
            connection="c1", origin="poll", event_key="later", event_type="parked", delay_seconds=90
        )
    )
    async with store.transaction() as tx:
        results = await tx.inbox.enqueue(batch)
    expected = [not 1000 <= i < 1010 for i in range(3200)] + [False, True]
    assert results == expected
    async with store.transaction() as tx:
        assert await tx.inbox.counts() == {"pending": 3201}
        due = await tx.inbox.claim(worker="w", limit=5, lease_seconds=60)
        assert [i.event_key for i in due] == keys[1000:1005], "the earlier batch first"
        later = [i for i in await tx.inbox.list(limit=1) if i.event_key == "later"]
        assert later
        assert later[0].available_at == clock.now() + timedelta(seconds=90)
        assert later[0].payload is None


async def test_inbox_claim_lease_complete_and_expiry(store: Store, clock: FakeClock) -> None:
    async with store.transaction() as tx:
        await tx.inbox.enqueue([_event("e1"), _event("e2"), _event("e3")])
    async with store.transaction() as tx:
        a = await tx.inbox.claim(worker="a", limit=2, lease_seconds=30)
    async with store.transaction() as tx:
        b = await tx.inbox.claim(worker="b", limit=5, lease_seconds=30)
    assert [i.event_key for i in a] == ["e1", "e2"]
    assert [i.event_key for i in b] == ["e3"]
    assert all(i.state is InboxState.CLAIMED and i.attempts == 1 for i in a + b)
    async with store.transaction() as tx:
        assert await tx.inbox.complete(a[0].id, worker="a")
    clock.advance(31)  # worker a died holding e2
    async with store.transaction() as tx:
        c = await tx.inbox.claim(worker="c", limit=5, lease_seconds=30)
    assert sorted(i.event_key for i in c) == ["e2", "e3"]
    assert {i.event_key: i.attempts for i in c} == {"e2": 2, "e3": 2}
    async with store.transaction() as tx:
        assert not await tx.inbox.complete(c[0].id, worker="a"), "a lost its lease"
        assert await tx.inbox.retry_later(c[0].id, worker="c", delay_seconds=60, error="503")
        assert await tx.inbox.ignore(c[1].id, worker="c", reason="unknown event type")
        assert await tx.inbox.claim(worker="d", limit=5, lease_seconds=30) == []
    clock.advance(61)
    async with store.transaction() as tx:
        again = await tx.inbox.claim(worker="d", limit=5, lease_seconds=30)
        assert [i.last_error for i in again] == ["503"]
        assert await tx.inbox.release(again[0].id, worker="d")
        released = await tx.inbox.get(again[0].id)
    assert released is not None
    assert released.state is InboxState.PENDING


async def test_inbox_concurrent_claimers_never_share_an_item(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.inbox.enqueue([_event(f"e{i}") for i in range(60)])

    async def worker(name: str) -> list[int]:
        got: list[int] = []
        while True:
            async with store.transaction() as tx:
                items = await tx.inbox.claim(worker=name, limit=4, lease_seconds=60)
                for item in items:
                    assert await tx.inbox.complete(item.id, worker=name)
            if not items:
                return got
            got.extend(i.id for i in items)

    results = await asyncio.gather(*(worker(f"w{n}") for n in range(4)))
    claimed = [i for r in results for i in r]
    assert len(claimed) == 60
    assert len(set(claimed)) == 60


async def test_write_intent_lifecycle(store: Store) -> None:
    async with store.transaction() as tx:
        intent = await tx.writes.record_intent(
            connection="c1",
            flow="invoices",
            target_system="fusion",
            operation="create",
            business_key="ServiceTitan/ST-1001",
            payload_hash="ph",
        )
        assert [w.id for w in await tx.writes.pending("c1", "invoices")] == [intent.id]
        await tx.writes.adopt(intent.id, target_id="300100000000777")
        assert await tx.writes.pending("c1") == []
        adopted = await tx.writes.get(intent.id)
    assert adopted is not None
    assert adopted.state is WriteState.ADOPTED
    assert adopted.target_id == "300100000000777"


def _audit(source_id: str, action: AuditAction, minute: int, **kw: object) -> AuditEntry:
    return AuditEntry(
        connection="c1",
        flow="invoices",
        source_system="servicetitan",
        source_id=source_id,
        action=action,
        started_at=T0 + timedelta(minutes=minute),
        ended_at=T0 + timedelta(minutes=minute, seconds=2),
        decisions=[
            {
                "rule": "customer.link",
                "detail": "linked",
                "source_value": "7",
                "target_value": "1008",
            }
        ],
        **kw,  # type: ignore[arg-type]
    )


async def test_audit_append_search_and_history(store: Store) -> None:
    async with store.transaction() as tx:
        first = await tx.audit.append(
            _audit(
                "1001",
                AuditAction.FAIL,
                0,
                attempt=1,
                error_class="RetriableError",
                error_message="503",
            )
        )
        await tx.audit.append(
            _audit(
                "1001", AuditAction.CREATE, 5, attempt=2, target_system="fusion", target_id="3001"
            )
        )
        await tx.audit.append_many(
            [_audit("1002", AuditAction.SKIP, 6), _audit("1003", AuditAction.CREATE, 7)]
        )
    async with store.transaction() as tx:
        history = await tx.audit.history("c1", "invoices", "1001")
        by_target = await tx.audit.search(target_id="3001")
        fails = await tx.audit.search(action=AuditAction.FAIL)
        window = await tx.audit.search(
            since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=7)
        )
        one = await tx.audit.get(first)
    assert [(r.attempt, r.action) for r in history] == [
        (1, AuditAction.FAIL),
        (2, AuditAction.CREATE),
    ]
    assert [r.source_id for r in by_target] == ["1001"]
    assert [r.error_message for r in fails] == ["503"]
    assert [r.source_id for r in window] == ["1002", "1001"]
    assert one is not None
    assert one.decisions[0]["target_value"] == "1008"
    assert one.started_at.tzinfo is not None


async def test_attention_open_dedupes_and_moves_through_states(store: Store) -> None:
    async with store.transaction() as tx:
        item = await tx.attention.open(
            connection="c1",
            flow="invoices",
            source_system="servicetitan",
            source_id="1001",
            reason="unmapped_customer",
            message="customer 7 has no Fusion account",
            suggestion="map customer 7",
            source_record={"id": 1001},
        )
        again = await tx.attention.open(
            connection="c1",
            flow="invoices",
            source_system="servicetitan",
            source_id="1001",
            reason="unmapped_customer",
            message="still unmapped",
        )
        assert again.id == item.id
        assert again.occurrences == 2
        replayed = await tx.attention.mark_replayed(item.id, by="ops@example.com")
        assert replayed.state is AttentionState.REPLAYED
        with pytest.raises(ValueError, match="needs a comment"):
            await tx.attention.ignore(item.id, by="ops", comment=" ")
        assert await tx.attention.resolve_for("c1", "invoices", "1001", by="flow")
        resolved = await tx.attention.get(item.id)
        assert resolved is not None
        assert resolved.state is AttentionState.RESOLVED
        with pytest.raises(ValueError, match="cannot become"):
            await tx.attention.mark_replayed(item.id, by="ops")
        assert await tx.attention.list(state=AttentionState.OPEN) == []
        assert await tx.attention.counts() == {"resolved": 1}
