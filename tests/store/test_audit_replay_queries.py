"""Audit queries replay selects records with (issue 7): the flows a source id belongs to, and the
latest row of every record that failed or went to attention since a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ml_connector.store import Store
from ml_connector.store.records import AuditEntry
from ml_connector.store.states import AuditAction

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
FAILED = (AuditAction.FAIL, AuditAction.ATTENTION)


def _row(
    source_id: str,
    action: AuditAction,
    minutes: int,
    *,
    flow: str = "invoices",
    connection: str = "default",
    dry_run: bool = False,
) -> AuditEntry:
    at = T0 + timedelta(minutes=minutes)
    return AuditEntry(
        connection=connection,
        flow=flow,
        source_system="servicetitan",
        source_id=source_id,
        action=action,
        started_at=at,
        ended_at=at,
        dry_run=dry_run,
    )


async def test_flows_of_a_source_id(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.audit.append(_row("7", AuditAction.CREATE, 0, flow="payments"))
        await tx.audit.append(_row("7", AuditAction.FAIL, 1))
        await tx.audit.append(_row("7", AuditAction.SKIP, 2))
        await tx.audit.append(_row("7", AuditAction.FAIL, 3, connection="east"))
        await tx.audit.append(_row("8", AuditAction.FAIL, 3))
    async with store.transaction() as tx:
        assert await tx.audit.flows_of("7") == [
            ("default", "invoices"),
            ("default", "payments"),
            ("east", "invoices"),
        ]
        assert await tx.audit.flows_of("9") == []


async def test_latest_row_of_each_record_that_failed_since(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.audit.append(_row("old", AuditAction.FAIL, -60))  # failed before: not selected
        await tx.audit.append(_row("still", AuditAction.FAIL, 1))
        await tx.audit.append(_row("still", AuditAction.ATTENTION, 2))
        await tx.audit.append(_row("fixed", AuditAction.ATTENTION, 3))
        fixed = await tx.audit.append(_row("fixed", AuditAction.CREATE, 4))
        await tx.audit.append(_row("fixed", AuditAction.FAIL, 5, dry_run=True))  # changed nothing
        await tx.audit.append(_row("fine", AuditAction.CREATE, 6))
        await tx.audit.append(_row("dry", AuditAction.FAIL, 7, dry_run=True))
        po = await tx.audit.append(_row("still", AuditAction.FAIL, 8, flow="purchase_orders"))
        await tx.audit.append(_row("still", AuditAction.FAIL, 9, connection="east"))
    async with store.transaction() as tx:
        rows = await tx.audit.latest_per_record(since=T0, actions=FAILED)
        got = [(r.connection, r.flow, r.source_id, r.action) for r in rows]
        assert got == [
            ("default", "invoices", "still", AuditAction.ATTENTION),
            ("default", "invoices", "fixed", AuditAction.CREATE),
            ("default", "purchase_orders", "still", AuditAction.FAIL),
            ("east", "invoices", "still", AuditAction.FAIL),
        ]
        assert rows[1].id == fixed
        only = await tx.audit.latest_per_record(
            since=T0, actions=FAILED, connection="default", flow="purchase_orders"
        )
        assert [r.id for r in only] == [po]
        later = await tx.audit.latest_per_record(since=T0 + timedelta(minutes=4), actions=FAILED)
        assert [(r.source_id, r.flow) for r in later] == [
            ("still", "purchase_orders"),
            ("still", "invoices"),
        ]
