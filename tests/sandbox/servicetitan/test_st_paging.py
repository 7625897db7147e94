"""Page lists and exports: servicetitan-api.md §4 (pagination, filters, active default) and §5 (exports)."""

from __future__ import annotations

import base64
from datetime import timedelta, timezone

import pytest
from st_helpers import ST

from ml_connector.sandbox.servicetitan import STSimConfig
from ml_connector.sandbox.servicetitan.routing import STSim
from ml_connector.sandbox.servicetitan.timefmt import format_dt


@pytest.fixture
def st_config() -> STSimConfig:
    return STSimConfig(requests_per_second=100_000, export_page_size=3)


async def test_page_envelope_and_total_count_rule(st: ST) -> None:
    """§4: ``{page, pageSize, hasMore, totalCount, data}``; ``totalCount`` only with includeTotal."""
    for n in range(7):
        st.state.add_business_unit(f"Extra {n}")
    first = (await st.get("settings", "/business-units", pageSize=4)).json()
    assert set(first) == {"page", "pageSize", "hasMore", "totalCount", "data"}
    assert (first["page"], first["pageSize"], first["hasMore"]) == (1, 4, True)
    assert first["totalCount"] is None
    assert len(first["data"]) == 4
    last = await st.get("settings", "/business-units", pageSize=4, page=3, includeTotal="true")
    body = last.json()
    assert body["totalCount"] == 10
    assert body["hasMore"] is False
    assert len(body["data"]) == 2
    ids = [
        r["id"]
        for p in (1, 2, 3)
        for r in (await st.get("settings", "/business-units", pageSize=4, page=p)).json()["data"]
    ]
    assert len(ids) == len(set(ids)) == 10


async def test_page_size_defaults_to_50_and_clamps_to_5000(st: ST) -> None:
    """§4: default 50; above the maximum the simulator clamps to 5000 (INFERRED)."""
    assert (await st.get("jpm", "/jobs")).json()["pageSize"] == 50
    assert (await st.get("jpm", "/jobs", pageSize=9000)).json()["pageSize"] == 5000


async def test_active_defaults_to_active_only(st: ST) -> None:
    """§4 / §11.1: inactive records are left out unless ``active=Any`` (or ``False``)."""
    inactive = st.seed.inactive_vendor
    default = {v["id"] for v in (await st.get("inventory", "/vendors")).json()["data"]}
    any_ = {v["id"] for v in (await st.get("inventory", "/vendors", active="Any")).json()["data"]}
    only = {v["id"] for v in (await st.get("inventory", "/vendors", active="False")).json()["data"]}
    assert inactive not in default
    assert inactive in any_
    assert only == {inactive}
    bad = await st.get("inventory", "/vendors", active="Maybe")
    assert bad.status_code == 400
    assert "active" in bad.json()["errors"]


async def test_accounting_uses_active_state(st: ST) -> None:
    """§4: invoices use ``activeState`` (ActiveOnly default | InactiveOnly | All)."""
    gone = st.seed.inactive_invoice
    default = {i["id"] for i in (await st.get("accounting", "/invoices")).json()["data"]}
    every = (await st.get("accounting", "/invoices", activeState="All")).json()["data"]
    inactive = (await st.get("accounting", "/invoices", activeState="InactiveOnly")).json()["data"]
    assert gone not in default
    assert gone in {i["id"] for i in every}
    assert [i["id"] for i in inactive] == [gone]


async def test_ids_filter_accepts_commas_and_repeats(st: ST) -> None:
    """§4: ``ids`` is comma-separated (vendors type it as an array: repeated params)."""
    a, b = st.seed.vendors
    commas = (await st.get("inventory", "/vendors", ids=f"{a},{b}")).json()["data"]
    repeated = await st.client.get(
        f"/inventory/v2/tenant/{st.state.tenant_id}/vendors?ids={a}&ids={b}", headers=st.headers
    )
    assert {v["id"] for v in commas} == {a, b}
    assert {v["id"] for v in repeated.json()["data"]} == {a, b}


async def test_date_filters_on_or_after_inclusive_before_exclusive(st: ST) -> None:
    """§3, §4: ``…OnOrAfter`` inclusive, ``…Before`` exclusive; ``Z`` and offsets both accepted."""
    st.clock.advance(3600)
    await st.refresh()
    bu = st.state.add_business_unit("Later")
    stamp = bu.modified_on
    after = await st.get("settings", "/business-units", modifiedOnOrAfter=format_dt(stamp))
    assert [r["id"] for r in after.json()["data"]] == [bu.id]
    before = await st.get("settings", "/business-units", modifiedBefore=format_dt(stamp))
    assert bu.id not in {r["id"] for r in before.json()["data"]}
    local = (stamp - timedelta(seconds=1)).astimezone().isoformat()
    as_offset = await st.get("settings", "/business-units", modifiedOnOrAfter=local)
    assert [r["id"] for r in as_offset.json()["data"]] == [bu.id]
    shifted = (stamp - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=2)))
    two = await st.get("settings", "/business-units", modifiedOnOrAfter=shifted.isoformat())
    assert [r["id"] for r in two.json()["data"]] == [bu.id]
    bad = await st.get("settings", "/business-units", modifiedOnOrAfter="yesterday")
    assert bad.status_code == 400
    assert "modifiedOnOrAfter" in bad.json()["errors"]


async def test_sort_by_id_modified_and_created(st: ST) -> None:
    """§4: ``sort=+Field/-Field`` on Id, ModifiedOn, CreatedOn; other fields refused."""
    ids = [r["id"] for r in (await st.get("crm", "/customers", sort="-Id")).json()["data"]]
    assert ids == sorted(ids, reverse=True)
    first = st.seed.customers[0]
    st.clock.advance(10)
    st.state.update("customers", first, name="Renamed")
    by_mod = (await st.get("crm", "/customers", sort="+ModifiedOn")).json()["data"]
    assert by_mod[-1]["id"] == first
    assert (await st.get("crm", "/customers", sort="Name")).status_code == 400


async def test_export_follows_continue_from_until_caught_up(st: ST) -> None:
    """§5: ``{hasMore, continueFrom, data}`` in modifiedOn order; inactive included; caught up →
    ``hasMore: false`` with a token still returned; the token resumes after the last record."""
    seen: list[int] = []
    token = None
    for _ in range(10):
        params: dict[str, str] = {"from": token} if token else {}
        body = (await st.get("accounting", "/export/invoices", **params)).json()
        assert set(body) == {"hasMore", "continueFrom", "data"}
        assert len(body["data"]) <= 3
        seen += [i["id"] for i in body["data"]]
        token = body["continueFrom"]
        assert token
        if not body["hasMore"]:
            break
    every = {i.id for i in st.state.table("invoices")}
    assert set(seen) == every
    assert st.seed.inactive_invoice in seen
    caught_up = (await st.get("accounting", "/export/invoices", **{"from": token})).json()
    assert caught_up == {"hasMore": False, "continueFrom": token, "data": []}
    st.clock.advance(300)
    changed = st.state.update_invoice(st.seed.invoices[0], summary="late change")
    resumed = (await st.get("accounting", "/export/invoices", **{"from": token})).json()
    assert [i["id"] for i in resumed["data"]] == [changed.id]
    assert resumed["data"][0]["summary"] == "late change"


async def test_export_token_is_opaque_base64(st: ST) -> None:
    """§5: the token is base64-like and opaque (the simulator encodes modifiedOn and id)."""
    body = (await st.get("crm", "/export/customers")).json()
    token = body["continueFrom"]
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert str(body["data"][-1]["id"]).encode() in raw


async def test_export_from_accepts_a_date_or_a_datetime(st: ST) -> None:
    """§5: ``from`` may be a date (``2020-01-01``) or an ISO datetime (S2 sends one)."""
    st.clock.advance(86400 * 2)
    await st.refresh()
    late = st.state.add_customer("Two Days Later")
    day = late.modified_on.date().isoformat()
    by_day = (await st.get("crm", "/export/customers", **{"from": day})).json()
    assert [c["id"] for c in by_day["data"]] == [late.id]
    by_time = await st.get("crm", "/export/customers", **{"from": format_dt(late.modified_on)})
    assert [c["id"] for c in by_time.json()["data"]] == [late.id]
    bad = await st.get("crm", "/export/customers", **{"from": "not a token"})
    assert bad.status_code == 400
    assert "from" in bad.json()["errors"]


async def test_include_recent_changes_can_repeat_records(st: ST) -> None:
    """§5: ``includeRecentChanges=true`` "may cause the same results appearing multiple times"."""
    sim: STSim = st.app.state.servicetitan_sim
    sim.config = STSimConfig(export_page_size=3, recent_changes_overlap=2)
    first = (await st.get("crm", "/export/customers")).json()
    again = (await st.get("crm", "/export/customers", **{"from": first["continueFrom"]})).json()
    assert again["data"] == []
    recent = await st.get(
        "crm", "/export/customers", includeRecentChanges="true", **{"from": first["continueFrom"]}
    )
    repeated = [c["id"] for c in recent.json()["data"]]
    assert repeated == [c["id"] for c in first["data"][-2:]]
