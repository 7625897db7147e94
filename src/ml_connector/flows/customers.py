"""Which Fusion customer account a ServiceTitan customer bills to (F4 and F5 share this).

ServiceTitan knows nothing of Fusion accounts, so the answer is looked for, in order:

1. the link table (entity ``customer``: ServiceTitan customer id → Fusion account number), written
   after a record of this customer posted — once known, an account is not guessed again;
2. the customer's custom field named by ``mapping.receivables.customer_account_field``;
3. the ``mapping.receivables.customers`` table (the fix a person adds for an unmapped customer);
4. the customer's ``externalData`` entry :data:`EXTERNAL_KEY` (set by another integration);

and when none answers, the record goes to attention ``unmapped_customer`` with the list of what
was tried, so the person fixing it knows where the account number may go — or, when
``ml-connector match`` left an unreviewed proposal for the customer (issue 11), to attention
``possible_existing_match`` with its candidates, which is also where a named account that
disagrees with such a proposal goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ml_connector.errors import ConnectorError, NeedsAttentionError
from ml_connector.mapping.decisions import Decisions
from ml_connector.matching import safety as matching_safety
from ml_connector.store import Tx
from ml_connector.store.repos.matches import MatchProposal
from ml_connector.systems.servicetitan import models as st

from .base import FlowContext

ENTITY = "customer"
#: the ``externalData`` key another integration may use to hold the Fusion account number
EXTERNAL_KEY = "fusionAccountNumber"


@dataclass(frozen=True, kw_only=True)
class ResolvedCustomer:
    customer_id: int
    account_number: str
    how: str


@dataclass(kw_only=True)
class CustomerResolver:
    """Resolves customers for one run; ServiceTitan customers are read once per run."""

    ctx: FlowContext
    _customers: dict[int, st.Customer] = field(default_factory=dict)

    async def _customer(self, customer_id: int) -> st.Customer:
        if customer_id not in self._customers:
            self._customers[customer_id] = await self.ctx.servicetitan.get_customer(customer_id)
        return self._customers[customer_id]

    async def resolve(
        self, customer: st.IdName | None, what: str, d: Decisions
    ) -> ResolvedCustomer:
        ctx = self.ctx
        if customer is None:
            raise NeedsAttentionError(
                "unmapped_customer",
                f"{what} has no customer",
                suggestion="set the customer on the record in ServiceTitan",
            )
        cid = customer.id
        async with ctx.store.transaction() as tx:
            link = await tx.links.get(ctx.connection, ENTITY, str(cid))
        if link is not None:
            return self._found(cid, link.target_id, "link table", d)
        async with ctx.store.transaction() as tx:
            pending = await tx.matches.pending(
                ctx.connection, ENTITY, str(cid), threshold=ctx.mapping.matching.threshold
            )
        tried = ["link table"]
        mapping = ctx.mapping.receivables
        record = await self._customer(cid)
        if mapping.customer_account_field:
            value = record.custom_field(mapping.customer_account_field)
            if value:
                how = f"custom field {mapping.customer_account_field!r}"
                return self._checked(cid, value.strip(), how, d, pending, record)
            tried.append(f"custom field {mapping.customer_account_field!r}")
        if str(cid) in mapping.customers:
            account = mapping.customers[str(cid)]
            return self._checked(cid, account, "mapping.receivables.customers", d, pending, record)
        tried.append("mapping.receivables.customers")
        external = record.external(EXTERNAL_KEY)
        if external:
            how = f"externalData {EXTERNAL_KEY!r}"
            return self._checked(cid, external.strip(), how, d, pending, record)
        tried.append(f"externalData {EXTERNAL_KEY!r}")
        if pending is not None:  # issue 11: matching found candidates; a person decides first
            raise matching_safety.possible_match(
                pending, f"ServiceTitan customer {cid} ({record.name}) of {what}"
            )
        candidates = await self._candidates(record.name)
        field_hint = (
            f'set its "{mapping.customer_account_field}" custom field in ServiceTitan, or '
            if mapping.customer_account_field
            else ""
        )
        raise NeedsAttentionError(
            "unmapped_customer",
            f"ServiceTitan customer {cid} ({record.name}) of {what} has no Fusion account number; "
            f"tried: {', '.join(tried)}; "
            + (
                f"Fusion accounts with that name: {', '.join(candidates)}"
                if candidates
                else "no Fusion account has that name"
            ),
            suggestion=f'{field_hint}add customers."{cid}" = "<Fusion account number>" to '
            "mapping.receivables, then replay",
        )

    async def _candidates(self, name: str) -> list[str]:
        """Fusion accounts whose customer name equals the ServiceTitan customer's (best effort)."""
        if not name:
            return []
        try:
            sites = await self.ctx.fusion.sites_by_customer_name(name)
        except ConnectorError:
            return []  # candidates are a hint; failing to list them must not hide the real reason
        return sorted(
            {
                f"{s.AccountNumber} ({s.CustomerName}, site {s.BillToSiteNumber})"
                for s in sites
                if s.AccountNumber
            }
        )

    def _checked(
        self,
        cid: int,
        account: str,
        how: str,
        d: Decisions,
        pending: MatchProposal | None,
        record: st.Customer,
    ) -> ResolvedCustomer:
        """An account named on the customer wins, unless an unreviewed match proposes another."""
        if pending is not None and pending.target_id != account:
            raise matching_safety.possible_match(
                pending,
                f"ServiceTitan customer {cid} ({record.name}) has account {account} by {how}, "
                f"but matching proposes {pending.target_id}; it",
            )
        return self._found(cid, account, how, d)

    @staticmethod
    def _found(cid: int, account: str, how: str, d: Decisions) -> ResolvedCustomer:
        d.add("customer_account", f"found by {how}", source=cid, target=account)
        return ResolvedCustomer(customer_id=cid, account_number=account, how=how)


async def remember(tx: Tx, ctx: FlowContext, resolved: ResolvedCustomer) -> None:
    """Link the customer to the account a posted record used (inside the success transaction)."""
    await tx.links.upsert(
        connection=ctx.connection,
        entity=ENTITY,
        source_system="servicetitan",
        source_id=str(resolved.customer_id),
        target_system="fusion",
        target_id=resolved.account_number,
        version_hash=None,
    )
