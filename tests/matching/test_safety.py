"""The flows' guard (issue 11): F1 does not create, and F4 does not guess, a record that has an
unreviewed match proposal above the threshold; it goes to attention "possible existing match"
with the candidates, and goes through once a person has decided."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from match_kit import Tenant

from ml_connector.errors import NeedsAttentionError
from ml_connector.flows.customers import CustomerResolver
from ml_connector.flows.suppliers import SupplierFlow
from ml_connector.mapping.decisions import Decisions
from ml_connector.mapping.suppliers import SUPPLIER_KEY
from ml_connector.matching import review
from ml_connector.matching.model import Entity
from ml_connector.matching.run import apply_review, export_rows, match_entity
from ml_connector.store.repos.matches import PROPOSED
from ml_connector.systems.servicetitan import models as st


async def export_csv(t: Tenant, entity: Entity) -> list[dict[str, str]]:
    text = "".join([c async for c in export_rows(t.store, "default", entity, (PROPOSED,))])
    return list(csv.DictReader(io.StringIO(text)))


def as_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=review.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def vendor_marks(t: Tenant) -> dict[int, str]:
    out = {}
    for vendor in t.table("vendors"):
        for item in vendor.get("externalData") or []:
            if item["key"] == SUPPLIER_KEY:
                out[vendor["id"]] = item["value"]
    return out


async def test_f1_sends_a_supplier_with_an_unreviewed_proposal_to_attention(
    tenant: Tenant,
) -> None:
    t = tenant
    await match_entity(t.ctx(), Entity.VENDORS)
    truth = t.existing.pairs_of("supplier")
    vendors_before = len(t.table("vendors"))

    await SupplierFlow(t.ctx()).run(full=True)

    async with t.store.transaction() as tx:
        items = await tx.attention.list(connection="default", reason="possible_existing_match")
    assert {i.source_id for i in items} == set(truth)
    one = next(i for i in items if i.source_id == next(iter(truth)))
    assert truth[one.source_id] in one.message  # the candidate is named
    assert "match export" in one.suggestion
    eligible = len(t.dataset.expected.suppliers.eligible)
    assert len(t.table("vendors")) - vendors_before == eligible - len(truth)
    assert vendor_marks(t).keys().isdisjoint(int(v) for v in truth.values())

    # a person rejects one (it is not the same) and accepts the rest; a replay then goes through
    rows = await export_csv(t, Entity.VENDORS)
    rejected = one.source_id
    for row in rows:
        row["decision"] = "reject" if row["source_id"] == rejected else "accept"
    await apply_review(t.ctx(), as_csv(rows), by="dana")
    await SupplierFlow(t.ctx()).run(full=True)
    async with t.store.transaction() as tx:
        still = await tx.attention.list(connection="default", reason="possible_existing_match")
    assert still == []
    marks = vendor_marks(t)
    assert rejected in marks.values()  # created once the look-alike was rejected
    assert int(truth[rejected]) not in marks  # the rejected look-alike was left alone
    assert len(set(marks.values())) == len(marks)


async def test_f4_customer_resolution_waits_for_a_review(tenant: Tenant) -> None:
    t = tenant
    await match_entity(t.ctx(), Entity.CUSTOMERS)
    truth = t.existing.pairs_of("customer")
    hand_entered = next(p for p in t.existing.pairs if p.entity == "customer" and not p.exact)
    resolver = CustomerResolver(ctx=t.ctx())
    with pytest.raises(NeedsAttentionError) as caught:
        await resolver.resolve(
            st.IdName(id=int(hand_entered.source_id), name="x"), "invoice 1", Decisions()
        )
    assert caught.value.reason == "possible_existing_match"
    assert hand_entered.target_id in caught.value.message

    # a default customer whose custom field names its account resolves, even with a proposal
    # for that same account; a proposal for another account stops it
    default = next(
        c for c in t.table("customers") if str(c["id"]) not in truth and c["customFields"]
    )
    resolved = await CustomerResolver(ctx=t.ctx()).resolve(
        st.IdName(id=default["id"], name=default["name"]), "invoice 2", Decisions()
    )
    account = resolved.account_number
    async with t.store.transaction() as tx:
        p = await tx.matches.for_source("default", "customer", str(default["id"]))
        assert p is not None
        assert p.target_id == account
        other = dict(p.candidates[0], target_id="999999", target_label="Someone Else")
        await tx.connection.execute(_retarget(p.id, "999999", [other, *p.candidates]))
    with pytest.raises(NeedsAttentionError, match="matching proposes 999999"):
        await CustomerResolver(ctx=t.ctx()).resolve(
            st.IdName(id=default["id"], name=default["name"]), "invoice 2", Decisions()
        )


def _retarget(pid: int, target: str, candidates: list[dict[str, Any]]) -> Any:
    from sqlalchemy import update

    from ml_connector.store.schema import match_proposals

    return (
        update(match_proposals)
        .where(match_proposals.c.id == pid)
        .values(target_id=target, candidates=candidates)
    )
