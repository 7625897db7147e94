"""Runtime fault control (``/__admin/faults``) and "records inserted while a client pages".

Issue 3 asks for faults "configurable in code and at runtime through an admin endpoint"; the
paging hook models the row drift of oracle-fusion-api.md §10 ("a knob that changes rows between
pages") and DESIGN §3.2 rule 1, for either simulator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ml_connector.clock import FakeClock
from ml_connector.sandbox.faults import FaultConfig, FaultMiddleware, wrap_with_faults


def paged_app(rows: list[int]) -> Starlette:
    """Offset paging over ``rows`` (newest last), like a list endpoint without keyset paging."""

    async def list_rows(request: Request) -> JSONResponse:
        offset = int(request.query_params.get("offset", "0"))
        limit = int(request.query_params.get("limit", "3"))
        page = rows[offset : offset + limit]
        return JSONResponse({"items": page, "hasMore": offset + limit < len(rows)})

    async def missing(request: Request) -> JSONResponse:
        return JSONResponse({}, status_code=404)

    return Starlette(routes=[Route("/rows", list_rows), Route("/missing", missing)])


@pytest.fixture
def rows() -> list[int]:
    return list(range(1, 10))


@pytest.fixture
def served() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def faults(rows: list[int], served: list[tuple[str, str]], clock: FakeClock) -> FaultMiddleware:
    def update_oldest(path: str, query: str) -> None:
        """An update moves the oldest row to the end of a LastUpdateDate-ordered list."""
        served.append((path, query))
        rows.append(rows.pop(0))

    return wrap_with_faults(paged_app(rows), clock=clock, on_page_served=update_oldest)


@pytest.fixture
async def client(faults: FaultMiddleware) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=faults)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


async def test_get_shows_config_and_counts(client: httpx.AsyncClient) -> None:
    response = await client.get("/__admin/faults")
    assert response.status_code == 200
    state = response.json()
    assert state["counts"] == {}
    assert state["config"]["rate_429"] == 0.0
    assert "/__admin/*" in state["config"]["exclude_paths"]


async def test_put_replaces_the_config_at_runtime(
    client: httpx.AsyncClient, faults: FaultMiddleware
) -> None:
    assert (await client.get("/rows")).status_code == 200
    response = await client.put("/__admin/faults", json={"rate_429": 1.0, "retry_after_seconds": 9})
    assert response.status_code == 200
    assert faults.config.rate_429 == 1.0
    limited = await client.get("/rows")
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "9")
    # PUT replaces, it does not merge: the 429 rate goes back to its default.
    await client.put("/__admin/faults", json={"rate_5xx": 1.0, "statuses_5xx": [502]})
    assert (await client.get("/rows")).status_code == 502
    counts = (await client.get("/__admin/faults")).json()["counts"]
    assert counts == {"requests": 3, "429": 1, "5xx": 1}


async def test_patch_merges_and_delete_switches_everything_off(
    client: httpx.AsyncClient, faults: FaultMiddleware
) -> None:
    await client.put("/__admin/faults", json={"rate_429": 1.0})
    await client.patch("/__admin/faults", json={"retry_after_seconds": 1})
    assert (faults.config.rate_429, faults.config.retry_after_seconds) == (1.0, 1)
    response = await client.delete("/__admin/faults")
    assert response.json()["config"] == FaultConfig().model_dump(mode="json")
    assert (await client.get("/rows")).status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"rate_429": 2}', 422),
        (b'{"rate_492": 0.5}', 422),  # a typo is refused, not silently ignored
        (b'{"statuses_5xx": [404]}', 422),
        (b"not json", 400),
    ],
)
async def test_put_refuses_invalid_config(
    client: httpx.AsyncClient, faults: FaultMiddleware, body: bytes, status: int
) -> None:
    before = faults.config
    response = await client.put("/__admin/faults", content=body)
    assert response.status_code == status
    assert faults.config is before


async def test_other_methods_are_not_allowed(client: httpx.AsyncClient) -> None:
    response = await client.post("/__admin/faults", json={})
    assert response.status_code == 405
    assert "PUT" in response.headers["allow"]


async def test_rows_inserted_while_a_client_pages(
    client: httpx.AsyncClient, faults: FaultMiddleware, served: list[tuple[str, str]]
) -> None:
    """A row updated mid-read moves to the end and the next row slips back across the page
    boundary, where plain offset paging skips it for good (DESIGN §3.2 rule 1)."""
    faults.set_config(FaultConfig(insert_while_paging_every=1))
    seen: list[int] = []
    offset = 0
    while True:
        page = (await client.get("/rows", params={"offset": offset, "limit": 3})).json()
        seen.extend(page["items"])
        offset += 3
        if not page["hasMore"]:
            break
    assert served[0] == ("/rows", "offset=0&limit=3")
    assert seen == [1, 2, 3, 5, 6, 7, 9, 1, 2]
    assert {4, 8}.isdisjoint(seen)  # skipped for good
    assert faults.counts()["insert_while_paging"] == len(served)


async def test_paging_hook_every_n_pages_and_only_on_success(
    client: httpx.AsyncClient, faults: FaultMiddleware, served: list[tuple[str, str]]
) -> None:
    faults.set_config(FaultConfig(insert_while_paging_every=2, paging_paths=["/rows"]))
    for _ in range(5):
        await client.get("/rows")
    await client.get("/missing")
    await client.get("/missing")
    assert len(served) == 2
    faults.set_config(FaultConfig(insert_while_paging_rate=0.0))
    await client.get("/rows")
    await client.get("/rows")
    assert len(served) == 2
