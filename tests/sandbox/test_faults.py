"""Fault injection: each kind at rate 1.0 and 0.0, on a FakeClock (DESIGN §3.4, issue 3).

Bodies follow servicetitan-api.md §9 (429 ProblemDetails with "Try again in N seconds.", HTML on
5xx) and §10, and oracle-fusion-api.md §6 (no documented 429; empty or plain-text bodies).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ml_connector.clock import FakeClock
from ml_connector.sandbox.faults import (
    ConnectionDropped,
    DropStyle,
    FaultConfig,
    FaultMiddleware,
    Latency,
    RateLimitStyle,
    RouteLatency,
    wrap_with_faults,
)


@dataclass
class TinyState:
    """What the stand-in simulator committed and which tokens it still accepts."""

    items: list[dict[str, object]] = field(default_factory=list)
    calls: int = 0
    tokens_valid: bool = True
    revocations: int = 0

    def revoke(self) -> None:
        self.tokens_valid = False
        self.revocations += 1


def tiny_app(state: TinyState) -> Starlette:
    """A list endpoint paged by ``page``/``pageSize``, a create endpoint and a token endpoint."""

    async def list_items(request: Request) -> JSONResponse:
        state.calls += 1
        if not state.tokens_valid:
            return JSONResponse({"title": "Unauthorized", "status": 401}, status_code=401)
        page = int(request.query_params.get("page", "1"))
        size = int(request.query_params.get("pageSize", "2"))
        rows = state.items[(page - 1) * size : page * size]
        has_more = page * size < len(state.items)
        return JSONResponse({"page": page, "data": rows, "hasMore": has_more})

    async def create_item(request: Request) -> JSONResponse:
        state.calls += 1
        body = await request.json()
        item = {"id": len(state.items) + 1, **body}
        state.items.append(item)
        return JSONResponse({"id": item["id"]})

    async def token(request: Request) -> JSONResponse:
        state.calls += 1
        state.tokens_valid = True
        return JSONResponse({"access_token": "t", "expires_in": 900, "token_type": "Bearer"})

    async def missing(request: Request) -> JSONResponse:
        state.calls += 1
        return JSONResponse({"title": "Not found"}, status_code=404)

    return Starlette(
        routes=[
            Route("/items", list_items, methods=["GET"]),
            Route("/items", create_item, methods=["POST"]),
            Route("/connect/token", token, methods=["POST"]),
            Route("/missing", missing, methods=["GET"]),
        ]
    )


@pytest.fixture
def state() -> TinyState:
    return TinyState(items=[{"id": i, "name": f"row {i}"} for i in range(1, 6)])


@pytest.fixture
def faults(state: TinyState, clock: FakeClock) -> FaultMiddleware:
    return wrap_with_faults(tiny_app(state), clock=clock, revoke_tokens=state.revoke)


@pytest.fixture
async def client(faults: FaultMiddleware) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=faults)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as c:
        yield c


async def test_default_config_is_transparent(
    client: httpx.AsyncClient, faults: FaultMiddleware, clock: FakeClock
) -> None:
    """With every fault off the simulator answers as if unwrapped (contract tests rely on it)."""
    for _ in range(20):
        assert (await client.get("/items")).status_code == 200
    assert (await client.post("/items", json={"name": "new"})).status_code == 200
    assert clock.slept == []
    assert faults.counts() == {"requests": 21, "writes": 1}


async def test_writes_are_counted_as_the_base_of_the_drop_rate(
    client: httpx.AsyncClient, faults: FaultMiddleware, state: TinyState
) -> None:
    """``writes`` counts the requests a drop-after-commit could hit (``drop_methods``, not excluded),
    whether or not a fault fires, so a soak can state the share of writes whose answer was lost."""
    faults.set_config(FaultConfig(rate_drop_after_commit=1.0, drop_methods=["POST"]))
    for _ in range(3):
        assert (await client.post("/items", json={"name": "w"})).status_code == 504
    assert (await client.get("/items")).status_code == 200
    assert (await client.post("/connect/token")).status_code == 200  # excluded: not counted
    counts = faults.counts()
    assert (counts["writes"], counts["drop_after_commit"], counts["requests"]) == (3, 3, 4)
    faults.set_config(FaultConfig(rate_5xx=1.0))
    assert (await client.post("/items", json={"name": "x"})).status_code >= 500
    assert faults.counts()["writes"] == 4, "a write answered by another fault still counts"
    assert len(state.items) == 8


async def test_fixed_latency_advances_the_fake_clock(
    client: httpx.AsyncClient, faults: FaultMiddleware, clock: FakeClock
) -> None:
    """150 ms per ServiceTitan request (DESIGN §5 benchmark conditions) costs no real time."""
    faults.set_config(FaultConfig(latency=Latency(fixed_ms=150)))
    before = clock.monotonic()
    await client.get("/items")
    await client.get("/items")
    assert clock.slept == [pytest.approx(0.15), pytest.approx(0.15)]
    assert clock.monotonic() - before == pytest.approx(0.30)
    assert faults.counts()["latency"] == 2


async def test_route_latency_overrides_the_default(
    client: httpx.AsyncClient, faults: FaultMiddleware, clock: FakeClock
) -> None:
    """ "200 ms per Fusion page": a per-route override beats the default latency."""
    page = RouteLatency(path="/items", method="GET", latency=Latency(fixed_ms=200))
    faults.set_config(FaultConfig(latency=Latency(fixed_ms=10), route_latency=[page]))
    await client.get("/items", params={"page": 2})
    await client.post("/items", json={"name": "x"})
    assert clock.slept == [pytest.approx(0.2), pytest.approx(0.01)]


def test_latency_distributions_are_seeded_and_bounded() -> None:
    import random

    normal = Latency(mean_ms=100, sd_ms=30)
    first = [normal.sample_seconds(random.Random(7)) for _ in range(3)]
    again = [normal.sample_seconds(random.Random(7)) for _ in range(3)]
    assert first == again
    rng = random.Random(1)
    draws = [normal.sample_seconds(rng) for _ in range(2000)]
    assert min(draws) >= 0.0
    assert 0.09 < sum(draws) / len(draws) < 0.11
    always_tail = Latency(fixed_ms=5, tail_probability=1.0, tail_ms=2000)
    assert always_tail.sample_seconds(rng) == pytest.approx(2.005)
    never_tail = Latency(fixed_ms=5, tail_probability=0.0, tail_ms=2000)
    assert never_tail.sample_seconds(rng) == pytest.approx(0.005)


async def test_429_servicetitan_style(
    client: httpx.AsyncClient, faults: FaultMiddleware, state: TinyState
) -> None:
    """servicetitan-api.md §9: Retry-After plus a ProblemDetails title ending in the seconds."""
    faults.set_config(FaultConfig(rate_429=1.0, retry_after_seconds=7))
    response = await client.get("/items")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    body = response.json()
    assert body["title"] == "Rate limit is exceeded. Try again in 7 seconds."
    assert body["status"] == 429
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-00", body["traceId"])
    assert int(body["title"].split()[-2]) == 7  # how S4 reads the wait (§9)
    assert state.calls == 0
    faults.set_config(FaultConfig(rate_429=0.0))
    assert (await client.get("/items")).status_code == 200
    assert faults.counts()["429"] == 1


@pytest.mark.parametrize(
    ("style", "body", "content_type"),
    [
        (RateLimitStyle.FUSION_EMPTY, b"", None),
        (RateLimitStyle.FUSION_TEXT, b"Too Many Requests", "text/plain; charset=utf-8"),
    ],
)
async def test_429_fusion_styles(
    client: httpx.AsyncClient,
    faults: FaultMiddleware,
    style: RateLimitStyle,
    body: bytes,
    content_type: str | None,
) -> None:
    """oracle-fusion-api.md §6: 429 is undocumented; clients see an empty or text body."""
    faults.set_config(FaultConfig(rate_429=1.0, rate_429_style=style, retry_after_seconds=3))
    response = await client.get("/items")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.content == body
    assert response.headers.get("content-type") == content_type


async def test_5xx_with_html_bodies(
    client: httpx.AsyncClient, faults: FaultMiddleware, state: TinyState
) -> None:
    """servicetitan-api.md §9–§10: 5xx arrive with HTML, not JSON."""
    faults.set_config(FaultConfig(rate_5xx=1.0, statuses_5xx=[502, 504]))
    statuses = set()
    for _ in range(30):
        response = await client.get("/items")
        statuses.add(response.status_code)
        assert response.headers["content-type"] == "text/html"
        assert f"<title>{response.status_code} " in response.text
        with pytest.raises(ValueError, match="Expecting value"):
            response.json()
    assert statuses == {502, 504}
    assert state.calls == 0
    faults.set_config(FaultConfig(rate_5xx=1.0, statuses_5xx=[503], retry_after_seconds=4))
    response = await client.get("/items")
    assert (response.status_code, response.headers["retry-after"]) == (503, "4")
    faults.set_config(FaultConfig(rate_5xx=0.0))
    assert (await client.get("/items")).status_code == 200
    assert faults.counts()["5xx"] == 31


def test_5xx_statuses_are_gateway_statuses() -> None:
    with pytest.raises(ValueError, match="statuses_5xx"):
        FaultConfig(statuses_5xx=[418])


async def test_timeout_hangs_on_the_clock_then_504(
    client: httpx.AsyncClient, faults: FaultMiddleware, clock: FakeClock, state: TinyState
) -> None:
    """The answer comes only after ``timeout_seconds``: a client with a shorter timeout gives up."""
    faults.set_config(FaultConfig(rate_timeout=1.0, timeout_seconds=45))
    before = clock.monotonic()
    response = await client.get("/items")
    assert clock.monotonic() - before == pytest.approx(45)
    assert response.status_code == 504
    assert "Gateway Time-out" in response.text
    assert state.calls == 0
    faults.set_config(FaultConfig(rate_timeout=0.0, timeout_seconds=45))
    assert (await client.get("/items")).status_code == 200
    assert clock.monotonic() - before == pytest.approx(45)


async def test_drop_after_commit_504(
    client: httpx.AsyncClient, faults: FaultMiddleware, state: TinyState
) -> None:
    """The write is committed, the client sees a 504: DESIGN §3.2 rule 2's case to recover from."""
    faults.set_config(FaultConfig(rate_drop_after_commit=1.0))
    response = await client.post("/items", json={"name": "committed"})
    assert response.status_code == 504
    assert response.headers["content-type"] == "text/html"
    assert state.items[-1] == {"id": 6, "name": "committed"}
    assert (await client.get("/items")).status_code == 200  # reads are never dropped
    assert faults.counts()["drop_after_commit"] == 1
    faults.set_config(FaultConfig(rate_drop_after_commit=0.0))
    assert (await client.post("/items", json={"name": "ok"})).json() == {"id": 7}


async def test_drop_after_commit_connection_reset(
    client: httpx.AsyncClient, faults: FaultMiddleware, state: TinyState
) -> None:
    faults.set_config(
        FaultConfig(rate_drop_after_commit=1.0, drop_style=DropStyle.CONNECTION_RESET)
    )
    with pytest.raises(httpx.ReadError) as caught:
        await client.post("/items", json={"name": "lost answer"})
    assert isinstance(caught.value, ConnectionDropped)
    assert state.items[-1]["name"] == "lost answer"


async def test_revocation_every_n_api_calls(
    client: httpx.AsyncClient, faults: FaultMiddleware, state: TinyState
) -> None:
    """Every 3rd API call revokes tokens; the token endpoint is not an API call."""
    faults.set_config(FaultConfig(revoke_tokens_every=3))
    statuses = []
    for _ in range(6):
        statuses.append((await client.get("/items")).status_code)
        if statuses[-1] == 401:
            await client.post("/connect/token")
    assert statuses == [200, 200, 401, 200, 200, 401]
    assert state.revocations == 2
    assert faults.counts()["revocation"] == 2


async def test_async_revocation_callback(state: TinyState, clock: FakeClock) -> None:
    revoked: list[int] = []

    async def revoke() -> None:
        revoked.append(1)

    app = wrap_with_faults(
        tiny_app(state), FaultConfig(revoke_tokens_every=1), clock=clock, revoke_tokens=revoke
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        await c.get("/items")
        await c.get("/items")
    assert revoked == [1, 1]


async def test_token_and_admin_paths_are_excluded(
    client: httpx.AsyncClient, faults: FaultMiddleware
) -> None:
    faults.set_config(FaultConfig(rate_429=1.0, rate_5xx=1.0, rate_timeout=1.0))
    assert (await client.post("/connect/token")).status_code == 200
    assert (await client.get("/__admin/faults")).status_code == 200
    assert (await client.get("/items")).status_code == 504
    faults.set_config(FaultConfig(rate_429=1.0, exclude_paths=["/items"]))
    assert (await client.get("/items")).status_code == 200
    assert (await client.post("/connect/token")).status_code == 429


async def test_seed_makes_a_run_reproducible(state: TinyState, clock: FakeClock) -> None:
    async def run() -> list[int]:
        app = wrap_with_faults(tiny_app(state), FaultConfig(seed=42, rate_429=0.5), clock=clock)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as c:
            return [(await c.get("/items")).status_code for _ in range(40)]

    first, second = await run(), await run()
    assert first == second
    assert 5 < first.count(429) < 35


async def test_token_endpoint_throttling(
    client: httpx.AsyncClient, faults: FaultMiddleware
) -> None:
    """servicetitan-api.md §9: the token endpoint is throttled too (its own knob)."""
    faults.set_config(FaultConfig(rate_429_token=1.0, retry_after_seconds=5))
    response = await client.post("/connect/token")
    assert (response.status_code, response.headers["retry-after"]) == (429, "5")
    assert (await client.get("/items")).status_code == 200
    faults.set_config(FaultConfig(rate_429_token=0.0))
    assert (await client.post("/connect/token")).status_code == 200
    assert faults.counts()["429_token"] == 1


async def test_a_refused_write_keeps_its_answer_under_drop_after_commit() -> None:
    """Only committed writes lose their answer: a 4xx/429 refusal is what the client sees."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from ml_connector.sandbox.faults import FaultConfig, wrap_with_faults

    async def refuse(request: object) -> JSONResponse:
        return JSONResponse(
            {"title": "Rate limit is exceeded. Try again in 1 seconds."}, status_code=429
        )

    app = wrap_with_faults(
        Starlette(routes=[Route("/w", refuse, methods=["POST"])]),
        FaultConfig(rate_drop_after_commit=1.0),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.post("/w")
    assert response.status_code == 429
    assert app.counts().get("drop_after_commit", 0) == 0


async def test_a_client_gone_before_its_body_arrived_is_counted_not_raised(
    faults: FaultMiddleware, state: TinyState
) -> None:
    """A connector killed mid-request (the soak's SIGKILL): the server has nobody to answer and
    commits nothing; the simulator logs no traceback."""
    sent: list[dict[str, object]] = []
    before = list(state.items)

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/items",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
    }
    await faults(scope, receive, send)  # type: ignore[arg-type]
    assert state.items == before
    # (Starlette's error middleware sends its 500 into the closed connection before re-raising)
    assert faults.counts()["client_disconnects"] == 1
