"""F5: one receipt application (``applyReceipt``) made at most once (DESIGN §3.2, §5).

``applyReceipt`` has no business key Fusion could look an application up by, so the only
evidence that an application took effect is the installment's open balance. The balance read
just before applying is stored with the intent (a ``receipt_application_before`` link, written
in the same transaction as the intent), so that it survives a lost answer *and* a crash:

- the answer is lost and the balance went down by the amount → adopted;
- the balance is unchanged → the intent stays **pending**: Fusion may still commit the request
  later, so it is not safe to apply again at once;
- the next attempt, finding that pending intent, reads the balance again: down by the amount →
  adopted; still the recorded ``before`` → only now the intent fails and the application is made;
  anything else → a person checks. Never a blind second application.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ml_connector.errors import NeedsAttentionError, RetriableError
from ml_connector.http.errors import WriteMaybeCommitted
from ml_connector.mapping.decisions import version_hash
from ml_connector.mapping.payments import Application
from ml_connector.store import Tx
from ml_connector.store.records import Link, WriteIntent

from .base import FlowContext

FLOW = "payments"
APPLICATION = "receipt_application"
INSTALLMENT = "invoice_installment"
#: marker links keyed ``paymentId:invoiceId`` → "waiting" until the invoice posts, then "applied"
WAITING = "receipt_application_waiting"
#: ``paymentId:invoiceId`` → ``installmentId:balance`` read just before the last apply attempt
BEFORE = "receipt_application_before"

_CHECK = "check receipt applications in Fusion; apply by hand if missing, then resolve"


async def link(tx: Tx, ctx: FlowContext, entity: str, source_id: str, target_id: str) -> None:
    """Upsert a ServiceTitan → Fusion marker link of this flow (no version hash)."""
    await tx.links.upsert(
        connection=ctx.connection,
        entity=entity,
        source_system="servicetitan",
        source_id=source_id,
        target_system="fusion",
        target_id=target_id,
        version_hash=None,
    )


@dataclass(frozen=True, kw_only=True)
class _Before:
    installment_id: int
    balance: Decimal | None


def _parse_before(text: str) -> _Before | None:
    installment, _, balance = text.partition(":")
    try:
        return _Before(
            installment_id=int(installment),
            balance=Decimal(balance) if balance and balance != "None" else None,
        )
    except (ValueError, InvalidOperation):
        return None


@dataclass(frozen=True, kw_only=True)
class Applier:
    """Applies one ``appliedTo`` entry of a payment to its invoice's first installment."""

    ctx: FlowContext
    #: one lock per Fusion invoice: payments are synced side by side, and the balance before an
    #: application is the evidence for a lost answer, so applications to one invoice take turns
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict, compare=False, repr=False)

    async def apply(self, key: str, app: Application, receipt_id: int, transaction_id: int) -> None:
        """Apply ``app`` (link key ``paymentId:invoiceId``) unless an earlier attempt did.

        Raises :class:`RetriableError` while an unanswered earlier request may still commit, and
        :class:`NeedsAttentionError` when the balance tells neither "applied" nor "not applied".
        Applications to one invoice never run side by side in this process (the balance read
        before one must not include another's effect); other processes are kept out by the
        receivables lease.
        """
        lock = self._locks.setdefault(transaction_id, asyncio.Lock())
        async with lock:
            await self._apply(key, app, receipt_id, transaction_id)

    async def _apply(
        self, key: str, app: Application, receipt_id: int, transaction_id: int
    ) -> None:
        ctx = self.ctx
        business_key = f"{APPLICATION}:{key}"
        invoice_key = key.split(":")[1]
        async with ctx.store.transaction() as tx:
            pending = await tx.writes.pending(ctx.connection, FLOW, business_key)
            recorded = await tx.links.get(ctx.connection, BEFORE, key)
            # another payment's application to this invoice whose answer is still unknown: the
            # balance is its evidence until it is settled, so nothing else is applied meanwhile
            unsettled = [
                i.business_key
                for i in await tx.writes.pending_ending(
                    ctx.connection, FLOW, "apply", f":{invoice_key}"
                )
                if i.business_key != business_key
            ]
        if unsettled:
            raise RetriableError(
                f"invoice {invoice_key} has an application whose answer is not known yet "
                f"({unsettled[0]}); this one waits until it is settled"
            )
        if pending and await self._settle_pending(key, app, pending, recorded, transaction_id):
            return
        rows = await ctx.fusion.invoice_installments(transaction_id)
        first = min(rows, key=lambda r: r.InstallmentId)
        installment_id = first.InstallmentId
        before = first.InstallmentBalanceDue
        async with ctx.store.transaction() as tx:
            await link(tx, ctx, INSTALLMENT, invoice_key, str(installment_id))
            # in the intent's own transaction: a crash or lost answer still finds the evidence
            await link(tx, ctx, BEFORE, key, f"{installment_id}:{before}")
            intent = await tx.writes.record_intent(
                connection=ctx.connection,
                flow=FLOW,
                target_system="fusion",
                operation="apply",
                business_key=business_key,
                payload_hash=version_hash({"amount": app.amount, "installment": installment_id}),
            )
        try:
            result = await ctx.fusion.apply_receipt(receipt_id, installment_id, app.amount)
        except WriteMaybeCommitted as exc:
            await self._after_lost_answer(
                intent.id, key, app, transaction_id, installment_id, before, exc
            )
            return
        except Exception as exc:
            # a definite answer (refusal, action missing, nothing sent): nothing was applied
            async with ctx.store.transaction() as tx:
                await tx.writes.fail(intent.id, error=str(exc)[:2000])
            raise
        await self._done(key, (intent.id,), str(result.application_id or "applied"), adopted=False)

    async def _balance(self, transaction_id: int, installment_id: int) -> Decimal | None:
        rows = await self.ctx.fusion.invoice_installments(transaction_id)
        return next(
            (r.InstallmentBalanceDue for r in rows if r.InstallmentId == installment_id), None
        )

    async def _settle_pending(
        self,
        key: str,
        app: Application,
        pending: list[WriteIntent],
        recorded: Link | None,
        transaction_id: int,
    ) -> bool:
        """An earlier attempt got no answer. True when it is now known to have been applied;
        False when it is known not to have been (its intents are failed, apply again)."""
        ctx = self.ctx
        ids = tuple(i.id for i in pending)
        before = _parse_before(recorded.target_id) if recorded is not None else None
        after = None
        if before is not None and before.balance is not None:
            after = await self._balance(transaction_id, before.installment_id)
            if after is not None and after == before.balance - app.amount:
                await self._done(key, ids, f"adopted:{before.installment_id}", adopted=True)
                return True
            if after is not None and after == before.balance:
                async with ctx.store.transaction() as tx:
                    for intent_id in ids:
                        await tx.writes.fail(
                            intent_id, error="not applied (balance still as before the attempt)"
                        )
                return False
        raise NeedsAttentionError(
            "application_uncertain",
            f"an earlier application {key} of {app.amount} may have been made in Fusion (no "
            f"answer came back); the installment balance was {before.balance if before else None}"
            f" before it and is {after} now",
            suggestion=_CHECK,
        )

    async def _after_lost_answer(
        self,
        intent_id: int,
        key: str,
        app: Application,
        transaction_id: int,
        installment_id: int,
        before: Decimal | None,
        exc: Exception,
    ) -> None:
        """Read the balance again: down by exactly the amount → applied (adopt); unchanged → not
        yet, but Fusion may still commit it: the intent stays pending with its ``before`` and the
        next attempt decides; anything else → a person checks."""
        after = await self._balance(transaction_id, installment_id)
        if before is not None and after is not None:
            if after == before - app.amount:
                await self._done(key, (intent_id,), f"adopted:{installment_id}", adopted=True)
                return
            if after == before:
                raise RetriableError(
                    f"applying {app.amount} to invoice {key} got no answer and has not taken "
                    "effect yet; the intent stays pending and the next attempt reads the balance "
                    "again before applying"
                ) from exc
        raise NeedsAttentionError(
            "application_uncertain",
            f"applying {app.amount} to invoice {key} got no answer; the installment balance went "
            f"from {before} to {after}",
            suggestion=_CHECK,
        ) from exc

    async def _done(
        self, key: str, intent_ids: tuple[int, ...], target: str, *, adopted: bool
    ) -> None:
        ctx = self.ctx
        async with ctx.store.transaction() as tx:
            for intent_id in intent_ids:
                if adopted:
                    await tx.writes.adopt(intent_id, target_id=target)
                else:
                    await tx.writes.complete(intent_id, target_id=target)
            await link(tx, ctx, APPLICATION, key, target)
            if await tx.links.get(ctx.connection, WAITING, key) is not None:
                await link(tx, ctx, WAITING, key, "applied")
