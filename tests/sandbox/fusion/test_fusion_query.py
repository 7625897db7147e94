"""The q parameter and finders — oracle-fusion-api.md §3.1, §3.2, §3.3 and DESIGN §5 "Fusion requests"."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ml_connector.clock import FakeClock
from ml_connector.sandbox.fusion import SEED, FusionState


def numbers(body: dict[str, object]) -> list[str]:
    items = body["items"]
    assert isinstance(items, list)
    return [i["SupplierNumber"] for i in items]


async def test_semicolon_form_under_v1(make_api: Callable[..., httpx.AsyncClient]) -> None:
    """§3.1: query-by-example with ';' as AND, quoted and bare values, != in a clause."""
    async with make_api(framework=1) as api:
        body = (
            await api.get(
                "accountCombinationsLOV",
                params={"q": "_CHART_OF_ACCOUNTS_ID=5237;EnabledFlag='Y';AccountType!='R'"},
            )
        ).json()
        types = {i["AccountType"] for i in body["items"]}
        assert body["count"] >= 2
        assert "R" not in types
        assert all(i["EnabledFlag"] == "Y" for i in body["items"])


async def test_expression_under_v1_matches_nothing(
    make_api: Callable[..., httpx.AsyncClient],
) -> None:
    """§3.1 gotcha [S36]: an 'and' expression without framework ≥ 2 gives 200 with 0 rows."""
    for framework in (None, 1):
        async with make_api(framework=framework) as api:
            resp = await api.get(
                "accountCombinationsLOV",
                params={"q": "EnabledFlag='Y' and _CHART_OF_ACCOUNTS_ID=5237"},
            )
            assert resp.status_code == 200
            assert resp.json()["count"] == 0
            paren = await api.get("suppliers", params={"q": "(SupplierNumber='5001')"})
            assert paren.json()["count"] == 0


async def test_expression_form_from_v2(make_api: Callable[..., httpx.AsyncClient]) -> None:
    """§3.1: from framework 2, and/or/parentheses; the ';' form is still accepted."""
    async with make_api(framework=2) as api:
        q = "(SupplierNumber='5001' or SupplierNumber='5002') and Status='ACTIVE'"
        body = (await api.get("suppliers", params={"q": q})).json()
        assert sorted(numbers(body)) == ["5001", "5002"]
        semi = (
            await api.get("suppliers", params={"q": "SupplierNumber=5003;Status='INACTIVE'"})
        ).json()
        assert numbers(semi) == ["5003"]
        both = (
            await api.get(
                "accountCombinationsLOV",
                params={"q": "EnabledFlag='Y' and _CHART_OF_ACCOUNTS_ID=5237"},
            )
        ).json()
        assert both["count"] > 0


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("SupplierNumber in ('5001','5003')", ["5001", "5003"]),
        ("Supplier like 'Duct%'", ["5002"]),
        ("upper(Supplier) like '%VENDOR%'", ["5003"]),
        ("SupplierNumber between '5002' and '5003'", ["5002", "5003"]),
        ("InactiveDate is not null", ["5003"]),
        ("SupplierNumber<>'5001' and InactiveDate is null", ["5002"]),
        ("SupplierNumber!='5001' and SupplierNumber<='5002'", ["5002"]),
    ],
)
async def test_expression_operators(api: httpx.AsyncClient, q: str, expected: list[str]) -> None:
    """§3.1: in, like (%), upper(), between, is [not] null, <>, !=, <= (framework 4)."""
    body = (await api.get("suppliers", params={"q": q, "orderBy": "SupplierNumber"})).json()
    assert numbers(body) == expected


async def test_dates_and_timestamps_with_offsets(
    api: httpx.AsyncClient, fusion_state: FusionState, clock: FakeClock
) -> None:
    """§3.2: quoted 'YYYY-MM-DD' and full timestamps with or without offsets compare on LastUpdateDate."""
    clock.advance(3600)  # 13:00 UTC on the seed day
    fusion_state.update_supplier(next(iter(fusion_state.suppliers)), AlternateName="changed")
    queries = [
        "LastUpdateDate>'2026-11-02T12:30:00+00:00'",
        "LastUpdateDate>'2026-11-02T14:30:00+02:00'",  # same instant as 12:30Z
        "LastUpdateDate>='2026-11-02T12:30:00'",
        "LastUpdateDate>'2026-11-02T12:59:59.999Z'",
    ]
    for q in queries:
        assert numbers((await api.get("suppliers", params={"q": q})).json()) == ["5001"], q
    day = (await api.get("suppliers", params={"q": "LastUpdateDate>='2026-11-02'"})).json()
    assert day["count"] == len(fusion_state.suppliers)
    late = await api.get("suppliers", params={"q": "LastUpdateDate>'2026-11-02T13:30:00-00:30'"})
    assert late.json()["count"] == 0  # 14:00Z


async def test_date_only_attribute_in_q(api: httpx.AsyncClient) -> None:
    """§3.2: date attributes compare with 'YYYY-MM-DD' literals."""
    body = await api.get(
        "purchaseOrders/child/lines", params={"q": "RequestedDeliveryDate='2026-11-10'"}
    )
    assert body.status_code == 404  # no collection-level child path
    po = (await api.get("purchaseOrders", params={"q": f"OrderNumber='{SEED.po_number}'"})).json()
    po_id = po["items"][0]["POHeaderId"]
    lines = (await api.get(f"purchaseOrders/{po_id}/child/lines")).json()
    line_id = lines["items"][0]["POLineId"]
    sched = await api.get(
        f"purchaseOrders/{po_id}/child/lines/{line_id}/child/schedules",
        params={"q": "RequestedDeliveryDate>='2026-11-10' and RequestedDeliveryDate<'2026-11-11'"},
    )
    assert sched.json()["count"] == 1


async def test_unknown_attribute(make_api: Callable[..., httpx.AsyncClient]) -> None:
    """§3.1: a non-queryable attribute is a 400 from v2; under v1 the clause simply matches nothing."""
    async with make_api(framework=2) as api:
        assert (await api.get("suppliers", params={"q": "Nope='x'"})).status_code == 400
        assert (await api.get("suppliers", params={"q": "Supplier='x' and"})).status_code == 400
    async with make_api(framework=1) as api:
        resp = await api.get("suppliers", params={"q": "Nope='x'"})
        assert resp.status_code == 200
        assert resp.json()["count"] == 0


async def test_primary_key_finder(api: httpx.AsyncClient, fusion_state: FusionState) -> None:
    """§3.3 [S37]: finder=PrimaryKey;_CODE_COMBINATION_ID=<id>."""
    combo_id = next(iter(fusion_state.combinations))
    body = (
        await api.get(
            "accountCombinationsLOV",
            params={"finder": f"PrimaryKey;_CODE_COMBINATION_ID={combo_id}"},
        )
    ).json()
    assert [i["_CODE_COMBINATION_ID"] for i in body["items"]] == [combo_id]
    bad = await api.get("accountCombinationsLOV", params={"finder": "NoSuchFinder;x=1"})
    assert bad.status_code == 400


async def test_site_activities_finder(api: httpx.AsyncClient) -> None:
    """§4.6 [S81]: CustomerAccountSiteActivitiesFinder;AccountNumber=<n> lists that account's bill-to sites."""
    body = (
        await api.get(
            "receivablesCustomerAccountSiteActivities",
            params={"finder": f"CustomerAccountSiteActivitiesFinder;AccountNumber={SEED.customer}"},
        )
    ).json()
    assert body["count"] == 2
    assert {i["AccountNumber"] for i in body["items"]} == {SEED.customer}
    assert {i["BusinessUnit"] for i in body["items"]} == {"HVAC West BU", "HVAC East BU"}
    empty = await api.get(
        "receivablesCustomerAccountSiteActivities",
        params={"finder": "CustomerAccountSiteActivitiesFinder"},
    )
    assert empty.status_code == 400  # at least one finder variable is required
