"""Paging and ordering — oracle-fusion-api.md §3.3 (limit/offset/totalResults/orderBy) and §3.4 (envelope)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from ml_connector.clock import FakeClock
from ml_connector.sandbox.fusion import FusionSimConfig, FusionState


@pytest.fixture
def many_suppliers(fusion_state: FusionState, clock: FakeClock) -> FusionState:
    for n in range(600):
        clock.advance(1)
        fusion_state.add_supplier(f"Bulk Supplier {n:04d}", number=f"B{n:04d}")
    return fusion_state


async def test_default_limit_and_envelope(
    api: httpx.AsyncClient, many_suppliers: FusionState
) -> None:
    """§3.3/§3.4: default limit 25; count, hasMore, limit, offset, links always; no totalResults."""
    body = (await api.get("suppliers")).json()
    assert set(body) == {"items", "count", "hasMore", "limit", "offset", "links"}
    assert body["count"] == 25
    assert body["limit"] == 25
    assert body["offset"] == 0
    assert body["hasMore"] is True
    assert body["links"][0]["rel"] == "self"
    assert body["links"][0]["kind"] == "collection"


async def test_limit_is_capped_at_500(api: httpx.AsyncClient, many_suppliers: FusionState) -> None:
    """§3.3: the server caps limit (500 here)."""
    body = (await api.get("suppliers", params={"limit": 1000})).json()
    assert body["count"] == 500
    assert body["limit"] == 500
    assert body["hasMore"] is True


async def test_max_limit_knob_499(
    make_api: Callable[..., httpx.AsyncClient], many_suppliers: FusionState
) -> None:
    """§3.3 / DESIGN §5: some pods give at most 499 rows; trust hasMore, not the count."""
    async with make_api(FusionSimConfig(max_limit=499)) as api:
        body = (await api.get("suppliers", params={"limit": 500})).json()
        assert body["count"] == 499
        assert body["hasMore"] is True


async def test_offset_walks_to_the_end(api: httpx.AsyncClient, many_suppliers: FusionState) -> None:
    """§3.3: zero-based offset; the last page has hasMore false; no row is seen twice."""
    seen: list[int] = []
    offset = 0
    while True:
        body = (await api.get("suppliers", params={"limit": 250, "offset": offset})).json()
        seen += [item["SupplierId"] for item in body["items"]]
        if not body["hasMore"]:
            break
        offset += body["count"]
    assert len(seen) == len(set(seen)) == len(many_suppliers.suppliers)
    past = (await api.get("suppliers", params={"offset": 10_000})).json()
    assert past["count"] == 0
    assert past["hasMore"] is False


async def test_total_results_only_when_asked(
    api: httpx.AsyncClient, many_suppliers: FusionState
) -> None:
    """§3.4: totalResults appears only with totalResults=true."""
    body = (await api.get("suppliers", params={"totalResults": "true", "limit": 5})).json()
    assert body["totalResults"] == len(many_suppliers.suppliers)
    assert "totalResults" not in (await api.get("suppliers", params={"limit": 5})).json()


async def test_order_by_two_keys(api: httpx.AsyncClient, fusion_state: FusionState) -> None:
    """§3.3: orderBy=Attr:asc,Other:desc — ties on the first key are broken by the second."""
    for n in range(4):
        fusion_state.add_supplier(f"Same Name {n}", number=f"S{n}", AlternateName="zz-tie")
    body = (
        await api.get(
            "suppliers",
            params={"orderBy": "AlternateName:desc,SupplierNumber:desc", "limit": 4},
        )
    ).json()
    assert [i["SupplierNumber"] for i in body["items"]] == ["S3", "S2", "S1", "S0"]
    asc = (await api.get("suppliers", params={"orderBy": "SupplierNumber:asc"})).json()
    numbers = [i["SupplierNumber"] for i in asc["items"]]
    assert numbers == sorted(numbers)


async def test_order_by_unknown_attribute_is_400(api: httpx.AsyncClient) -> None:
    """§3.3: orderBy on an unknown attribute is a validation error."""
    assert (await api.get("suppliers", params={"orderBy": "Nope:asc"})).status_code == 400


async def test_keyset_paging_on_last_update_date(
    api: httpx.AsyncClient, many_suppliers: FusionState
) -> None:
    """DESIGN §3.2 rule 1 over §3.1: q on LastUpdateDate + orderBy LastUpdateDate,SupplierId pages by key."""
    first = (
        await api.get(
            "suppliers",
            params={"orderBy": "LastUpdateDate:asc,SupplierId:asc", "limit": 100},
        )
    ).json()
    last = first["items"][-1]
    nxt = (
        await api.get(
            "suppliers",
            params={
                "q": f"LastUpdateDate>'{last['LastUpdateDate']}'",
                "orderBy": "LastUpdateDate:asc,SupplierId:asc",
                "limit": 100,
            },
        )
    ).json()
    assert nxt["items"][0]["LastUpdateDate"] > last["LastUpdateDate"]
    assert not {i["SupplierId"] for i in first["items"]} & {i["SupplierId"] for i in nxt["items"]}
