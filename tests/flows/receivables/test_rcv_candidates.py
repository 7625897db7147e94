"""Issue 6: an unmapped customer goes to attention "listing candidates" — Fusion accounts with the
customer's name, found through the site-activities finder (oracle-fusion-api.md §4.6)."""

from __future__ import annotations

from flow_kit import Harness
from ml_connector.flows.invoices import FLOW, InvoiceFlow
from ml_connector.sandbox.data import manifest as m


async def test_unmapped_customer_lists_fusion_accounts_with_the_same_name(h: Harness) -> None:
    ident = next(
        i for i, r in h.dataset.expected.invoices.attention.items() if r.kind == m.UNMAPPED_CUSTOMER
    )
    invoice = next(r for r in h.table("invoices") if r["id"] == ident)
    customer = invoice["customer"]["name"]
    bu = h.sandbox.fusion.business_units[
        next(iter(h.sandbox.fusion.business_units))
    ].BusinessUnitName
    account = h.sandbox.fusion.add_customer_account(customer, number="CAND-1")
    h.sandbox.fusion.add_customer_site(account.AccountId, bu, name=f"{customer} HQ")
    await InvoiceFlow(h.ctx()).run()
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, str(ident))
    assert item is not None
    assert item.reason == "unmapped_customer"
    assert "Fusion accounts with that name: CAND-1" in item.message


async def test_without_a_namesake_the_message_says_so(h: Harness) -> None:
    ident = next(
        i for i, r in h.dataset.expected.invoices.attention.items() if r.kind == m.UNMAPPED_CUSTOMER
    )
    await InvoiceFlow(h.ctx()).run()
    async with h.store.transaction() as tx:
        item = await tx.attention.find_active("default", FLOW, str(ident))
    assert item is not None
    assert "no Fusion account has that name" in item.message
