"""Rate limiter and errors: servicetitan-api.md §9 (60 calls/s per app + tenant, 429 with
``Retry-After`` and the "Try again in N seconds." title) and §10 (ProblemDetails); admin endpoints."""

from __future__ import annotations

import re

import pytest
from st_helpers import ST

from ml_connector.sandbox.servicetitan import STSimConfig
from ml_connector.sandbox.servicetitan.limiter import RateLimiter

TRACE = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-00$")


@pytest.fixture
def st_config() -> STSimConfig:
    """The documented default of 60 requests per second."""
    return STSimConfig()


async def test_sixty_requests_per_second_then_429(st: ST) -> None:
    """§9: the 61st call within one second → 429, ``Retry-After``, ProblemDetails title."""
    assert STSimConfig().requests_per_second == 60
    statuses = [(await st.get("jpm", "/jobs")).status_code for _ in range(60)]
    assert statuses == [200] * 60
    limited = await st.get("jpm", "/jobs")
    assert limited.status_code == 429
    seconds = int(limited.headers["Retry-After"])
    assert seconds >= 1
    problem = limited.json()
    assert problem["status"] == 429
    assert problem["title"] == f"Rate limit is exceeded. Try again in {seconds} seconds."
    assert TRACE.match(problem["traceId"])
    st.clock.advance(seconds)
    assert (await st.get("jpm", "/jobs")).status_code == 200
    counts = (await st.client.get("/__admin/counts")).json()
    assert counts["rateLimited"] == 1
    assert counts["errors"]["429"] == 1
    assert counts["apiRequests"]["GET /jpm/v2/tenant/{tenant}/jobs"] == 62


async def test_limit_is_configurable(st: ST) -> None:
    """§9: a benchmark sets the limit it aims at (DESIGN §5)."""
    limiter = RateLimiter(2, st.clock)
    assert limiter.acquire("k", 1) is None
    assert limiter.acquire("k", 1) is None
    assert limiter.acquire("k", 1) == 1
    assert limiter.acquire("k", 2) is None, "another tenant has its own budget"
    st.clock.advance(1)
    assert limiter.acquire("k", 1) is None


async def test_problem_details_shape_on_404(st: ST) -> None:
    """§10: ``{type, title, status, traceId, errors, data}`` with a W3C-style trace id."""
    response = await st.get("crm", "/customers/1")
    assert response.status_code == 404
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "traceId", "errors", "data"}
    assert problem["status"] == 404
    assert TRACE.match(problem["traceId"])
    unknown_path = await st.client.get("/crm/v2/tenant/1/nothing-here", headers=st.headers)
    assert unknown_path.status_code == 404
    assert unknown_path.json()["status"] == 404


async def test_invalid_json_is_400(st: ST) -> None:
    """§10: a body that is not JSON → 400 ProblemDetails."""
    response = await st.client.post(
        f"/inventory/v2/tenant/{st.state.tenant_id}/vendors",
        content=b"{not json",
        headers={**st.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"]


async def test_admin_counts_and_state(st: ST) -> None:
    """Admin: counts by method + template, errors by status; state dump per resource."""
    await st.get("inventory", "/vendors")
    await st.get("inventory", f"/vendors/{st.seed.vendors[0]}")
    await st.get("inventory", "/vendors/1")
    counts = (await st.client.get("/__admin/counts")).json()
    assert counts["tokenRequests"] == 1
    assert counts["apiRequests"]["GET /inventory/v2/tenant/{tenant}/vendors"] == 1
    assert counts["apiRequests"]["GET /inventory/v2/tenant/{tenant}/vendors/{id}"] == 2
    assert counts["errors"] == {"404": 1}
    dump = (await st.client.get("/__admin/state", params={"resource": "vendors"})).json()
    assert dump["count"] == 3
    assert {v["id"] for v in dump["data"]} == {*st.seed.vendors, st.seed.inactive_vendor}
    po = (await st.client.get("/__admin/state", params={"resource": "purchase-orders"})).json()
    assert po["count"] == 1
    missing = await st.client.get("/__admin/state", params={"resource": "nope"})
    assert missing.status_code == 404
    assert "vendors" in missing.json()["resources"]


async def test_state_is_reachable_from_the_app(st: ST) -> None:
    """DESIGN §3.4: seeds, faults and webhooks reach the state through the app."""
    assert st.app.state.servicetitan is st.state
