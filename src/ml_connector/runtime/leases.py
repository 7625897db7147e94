"""Which flows exclude each other, and a lease held for the length of one command.

Flows that write the same records share a lease: F2 runs F1 for unsynced suppliers, and the
webhook inbox runs the invoice and payment code, so one lease covers suppliers and purchase orders
(``procurement``) and one covers invoices, payments and the inbox (``receivables``). The daemon, the
``sync`` command and ``attention replay`` all take these leases, so no two runners — in one
process or several on one database — ever write the same records at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ml_connector.errors import ConnectorError
from ml_connector.store import Store

GROUPS = {
    "suppliers": "procurement",
    "purchase-orders": "procurement",
    "purchase_orders": "procurement",
    "receipts": "receipts",
    "invoices": "receivables",
    "payments": "receivables",
    "inbox": "receivables",
}


class LeaseBusy(ConnectorError):
    """Another runner holds the lease; try again when it is done."""


def lease_name(connection: str, flow: str) -> str:
    return f"{connection}/{GROUPS.get(flow, flow)}"


@asynccontextmanager
async def held(
    store: Store, connection: str, flow: str, *, holder: str, seconds: float = 3600.0
) -> AsyncIterator[str]:
    """Hold the flow's lease for the block, or raise :class:`LeaseBusy` naming the holder."""
    name = lease_name(connection, flow)
    async with store.transaction() as tx:
        got = await tx.leases.acquire(name, holder=holder, seconds=seconds)
        current = None if got else await tx.leases.holder(name)
    if not got:
        raise LeaseBusy(
            f"{name} is running in another process ({current}); try again when it is done"
        )
    try:
        yield name
    finally:
        async with store.transaction() as tx:
            await tx.leases.release(name, holder=holder)
