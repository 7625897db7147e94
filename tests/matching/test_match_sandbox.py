"""``match`` on the existing-tenant sandbox (issue 11 acceptance): every automatic link is right,
at least 95 % of the true pairs are proposed, no decoy is accepted automatically, and after the
true proposals are accepted a first full sync creates no duplicate. Also the review file round
trip through the store, and the flows' guard for unreviewed proposals."""

from __future__ import annotations

import csv
import io

import pytest
from match_kit import Tenant

from ml_connector.flows.suppliers import SupplierFlow
from ml_connector.mapping.suppliers import SUPPLIER_KEY
from ml_connector.matching import review
from ml_connector.matching.model import Entity
from ml_connector.matching.run import (
    AUTO,
    apply_review,
    export_rows,
    match_entity,
    proposal_pages,
)
from ml_connector.store.repos.matches import ACCEPTED, PROPOSED, REJECTED, MatchProposal
from ml_connector.store.states import AuditAction

ALL_STATES = (PROPOSED, ACCEPTED, REJECTED)


async def proposals(t: Tenant, entity: Entity) -> list[MatchProposal]:
    return [
        p async for page in proposal_pages(t.store, "default", entity, ALL_STATES) for p in page
    ]


async def export_csv(t: Tenant, entity: Entity | None = None) -> list[dict[str, str]]:
    text = "".join([c async for c in export_rows(t.store, "default", entity, (PROPOSED,))])
    return list(csv.DictReader(io.StringIO(text)))


def as_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=review.COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def vendor_marks(t: Tenant) -> dict[int, str]:
    """ST vendor id → the Fusion SupplierId our externalData key says it is."""
    out = {}
    for vendor in t.table("vendors"):
        for item in vendor.get("externalData") or []:
            if item["key"] == SUPPLIER_KEY:
                out[vendor["id"]] = item["value"]
    return out


async def test_match_meets_the_acceptance_bars(tenant: Tenant) -> None:
    t = tenant
    ctx = t.ctx()
    truth = {e: t.existing.pairs_of(e.value) for e in (Entity.VENDORS, Entity.CUSTOMERS)}
    reports = [await match_entity(ctx, e, auto_accept_exact=True) for e in Entity]
    assert all(r.apply_errors == [] for r in reports)
    vendors, customers, items = reports
    assert vendors.compared < vendors.sources * vendors.targets / 4  # blocked, not all pairs

    custom_field = t.dataset.customer_account_field
    st_customers = {c["id"]: c for c in t.table("customers")}
    found: dict[Entity, dict[str, MatchProposal]] = {}
    for entity in Entity:
        found[entity] = {p.source_id: p for p in await proposals(t, entity)}
        for p in found[entity].values():
            if p.state != ACCEPTED:
                continue
            assert p.decided_by == AUTO
            if entity is Entity.ITEMS:
                assert t.dataset.sku_ids[p.source_id] == int(p.target_id)
            elif p.source_id in truth[entity]:
                assert truth[entity][p.source_id] == p.target_id, p
            else:  # a default-data customer: its custom field names its account
                assert entity is Entity.CUSTOMERS
                fields = st_customers[int(p.source_id)]["customFields"]
                assert {"name": custom_field, "value": p.target_id}.items() <= next(
                    f for f in fields if f["name"] == custom_field
                ).items()

    pairs = [(e, s, tg) for e, m in truth.items() for s, tg in m.items()]
    proposed = [(e, s, tg) for e, s, tg in pairs if s in found[e] and found[e][s].target_id == tg]
    assert len(proposed) / len(pairs) >= 0.95
    assert len(pairs) >= 20

    accepted_targets = {
        (e, p.target_id) for e in Entity for p in found[e].values() if p.state == ACCEPTED
    }
    accepted_sources = {
        (e, p.source_id) for e in Entity for p in found[e].values() if p.state == ACCEPTED
    }
    decoys = t.existing.decoys
    assert len(decoys) >= 4
    for decoy in decoys:
        entity = Entity(decoy.entity)
        assert (entity, decoy.record_id) not in accepted_targets
        assert (entity, decoy.record_id) not in accepted_sources
    # the branch that quotes the same supplier number keeps the true pair from auto-acceptance
    quoted = next(d for d in decoys if "same supplier number" in d.why)
    true_pair = found[Entity.VENDORS][quoted.resembles]
    assert true_pair.state == PROPOSED
    assert true_pair.ambiguous
    assert true_pair.target_id == truth[Entity.VENDORS][quoted.resembles]

    async with t.store.transaction() as tx:
        trail = await tx.audit.search(connection="default", flow="match", limit=1000)
    actions = {r.action for r in trail}
    assert {AuditAction.PROPOSE, AuditAction.ACCEPT, AuditAction.UPDATE} <= actions
    assert customers.auto_accepted > 0
    assert items.auto_accepted == len(found[Entity.ITEMS])


async def test_review_round_trip_bad_rows_first_then_good(tenant: Tenant) -> None:
    t = tenant
    ctx = t.ctx()
    await match_entity(ctx, Entity.VENDORS)
    truth = t.existing.pairs_of("supplier")
    rows = await export_csv(t, Entity.VENDORS)
    assert rows
    assert all(r["decision"] == "" for r in rows)
    for row in rows:
        if truth.get(row["source_id"]) == row["target_id"]:
            row["decision"] = "accept"
    bad = [dict(r) for r in rows]
    bad[0]["decision"] = "perhaps"
    bad[1]["target_id"] = "123456789"
    bad[1]["decision"] = "accept"
    with pytest.raises(review.ReviewFileError) as failed:
        await apply_review(ctx, as_csv(bad), by="dana")
    assert [e.line for e in failed.value.errors] == [2, 3]
    assert all(p.state == PROPOSED for p in await proposals(t, Entity.VENDORS))
    assert vendor_marks(t) == {}

    result = await apply_review(ctx, as_csv(rows), by="dana")
    accepted = sum(1 for r in rows if r["decision"] == "accept")
    assert (result.accepted, result.applied, result.apply_errors) == (accepted, accepted, [])
    stored = {p.source_id: p for p in await proposals(t, Entity.VENDORS)}
    for source in truth:
        assert stored[source].state == ACCEPTED
        assert stored[source].decided_by == "dana"
        assert stored[source].applied_at is not None
    marks = vendor_marks(t)
    assert {str(v): s for v, s in marks.items()} == {v: s for s, v in truth.items()}
    async with t.store.transaction() as tx:
        for source, target in truth.items():
            link = await tx.links.get("default", "supplier", source)
            assert link is not None
            assert link.target_id == target

    # matching again keeps the decisions and does not propose linked suppliers
    again = await match_entity(t.ctx(), Entity.VENDORS)
    assert again.already_linked == len(truth)
    assert again.proposed == 0


async def test_after_accepting_the_true_pairs_a_full_sync_creates_no_duplicates(
    tenant: Tenant,
) -> None:
    t = tenant
    ctx = t.ctx()
    for entity in Entity:
        await match_entity(ctx, entity, auto_accept_exact=True)
    truth = t.existing.pairs_of("supplier")
    rows = [r for r in await export_csv(t) if truth.get(r["source_id"]) == r["target_id"]]
    for row in rows:
        row["decision"] = "accept"
    await apply_review(ctx, as_csv(rows), by="dana")
    vendors_before = len(t.table("vendors"))
    customers_before = len(t.table("customers"))
    decoy_vendors = {int(d.record_id) for d in t.existing.decoys if d.entity == "supplier"}

    summary = await SupplierFlow(t.ctx()).run(full=True)

    expected = t.dataset.expected.suppliers
    new_vendors = len(t.table("vendors")) - vendors_before
    assert new_vendors == len(expected.eligible) - len(truth)
    assert len(t.table("customers")) == customers_before
    marks = vendor_marks(t)
    assert len(set(marks.values())) == len(marks)  # one vendor per supplier: no duplicate
    for source, target in truth.items():
        assert marks[int(target)] == source
    assert not decoy_vendors & set(marks)
    assert summary.attention == len(expected.attention)  # only the broken supplier
    assert summary.created == new_vendors
    assert summary.updated == len(truth)  # the hand-entered vendors now carry the supplier


def test_the_default_data_set_is_the_same_with_or_without_the_existing_tenant() -> None:
    from ml_connector.clock import FakeClock
    from ml_connector.sandbox.server import build_sandbox

    start = FakeClock().now()
    plain = build_sandbox(clock=FakeClock(start)).dataset
    existing = build_sandbox(clock=FakeClock(start), existing_tenant=True).dataset
    assert plain is not None
    assert existing is not None
    assert plain.existing is None
    assert existing.existing is not None
    assert existing.expected == plain.expected
    assert existing.kinds == plain.kinds
    assert existing.counts["suppliers"] == plain.counts["suppliers"]
