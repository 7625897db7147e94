"""Skipping a record that became ineligible, safely after a lost create (DESIGN §3.2 rule 2).

A create whose answer was lost leaves a pending intent: Fusion may hold the document. If the
source record is then voided, refunded or otherwise made ineligible, skipping it silently would
leave that document in Fusion with nobody told. So before the skip the pending intent is settled:
the document is looked up on the target — found → a person reverses it (``voided_after_posting``);
not found → nothing was created, the intent is failed and the skip goes ahead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from ml_connector.errors import NeedsAttentionError
from ml_connector.store.records import WriteIntent
from ml_connector.systems.servicetitan import models as st

from .base import FlowContext

#: the target id of the document if it exists on the target, else None
Find = Callable[[], Awaitable[str | None]]


async def settle_before_skip(
    ctx: FlowContext, pending: Sequence[WriteIntent], find: Find, *, what: str, why: str
) -> None:
    """Return when the record may be skipped; raise attention when the target holds it.
    ``what`` names the source record and its document, ``why`` the reason it is ineligible."""
    if not pending:
        return
    found = await find()
    if found is not None:
        raise NeedsAttentionError(
            "voided_after_posting",
            f"{what} is no longer eligible ({why}) but was created in Fusion (id {found}) by an "
            "attempt whose answer was lost",
            suggestion="reverse the document in Fusion if the source record is void, then resolve",
        )
    async with ctx.store.transaction() as tx:
        for intent in pending:
            await tx.writes.fail(intent.id, error=f"not created; became ineligible: {why}"[:2000])


async def invoice_before_skip(
    ctx: FlowContext, invoice: st.Invoice, why: str, *, flow: str, entity: str
) -> None:
    """F4: the invoice's pending creates (key ``entity:source:TransactionNumber``, the number as
    :func:`~ml_connector.mapping.invoices.map_invoice` makes it) are settled before the skip."""
    number = ctx.mapping.receivables.transaction_number_prefix + (
        invoice.referenceNumber or str(invoice.id)
    )
    async with ctx.store.transaction() as tx:
        pending = [
            i
            for i in await tx.writes.pending(ctx.connection, flow)
            if i.business_key.startswith(f"{entity}:") and i.business_key.endswith(f":{number}")
        ]

    async def find() -> str | None:
        for intent in pending:
            source = intent.business_key[len(entity) + 1 : -len(number) - 1]
            found = await ctx.fusion.find_invoice(number, source)
            if found is not None:
                return str(found.CustomerTransactionId)
        return None

    await settle_before_skip(ctx, pending, find, what=f"invoice {invoice.id} ({number})", why=why)
