"""The ServiceTitan simulator as one Starlette app: token endpoint, API and admin on one port.

Tests mount it in-process with ``httpx.ASGITransport``; ``ml-connector sandbox`` serves it with
uvicorn on 127.0.0.1:8720 (DESIGN §5). To add an endpoint, declare an :class:`Op` in the module of
its namespace and append it to that module's ``OPS``; it must exist in the specs (the contract
tests check every route).
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector.clock import Clock, SystemClock
from ml_connector.sandbox import credentials
from ml_connector.sandbox.servicetitan import (
    accounting,
    crm,
    inventory,
    jpm,
    pricebook,
    purchasing,
    settings_api,
)
from ml_connector.sandbox.servicetitan.admin import admin_routes
from ml_connector.sandbox.servicetitan.auth import TokenError, TokenIssuer
from ml_connector.sandbox.servicetitan.config import STSimConfig
from ml_connector.sandbox.servicetitan.limiter import RateLimiter
from ml_connector.sandbox.servicetitan.problems import ApiProblem, rate_limited
from ml_connector.sandbox.servicetitan.routing import Op, STSim, endpoint
from ml_connector.sandbox.servicetitan.state import STState

OPERATIONS: tuple[Op, ...] = (
    *inventory.OPS,
    *purchasing.OPS,
    *pricebook.OPS,
    *accounting.OPS,
    *crm.OPS,
    *settings_api.OPS,
    *jpm.OPS,
)


def _token_endpoint(sim: STSim) -> Any:
    async def token(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        form: dict[str, str] = {}
        if content_type.startswith("application/x-www-form-urlencoded"):
            parsed = await request.form()
            form = {k: v for k, v in parsed.items() if isinstance(v, str)}
        try:
            body = sim.tokens.issue(
                grant_type=form.get("grant_type", ""),
                client_id=form.get("client_id", ""),
                client_secret=form.get("client_secret", ""),
            )
        except TokenError as exc:
            if exc.retry_after is not None:
                sim.counters.errors[429] += 1
                return rate_limited(exc.retry_after).response()
            sim.counters.errors[400] += 1
            return JSONResponse({"error": exc.error}, status_code=400)
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return token


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    sim: STSim = request.app.state.servicetitan_sim
    sim.counters.errors[status] += 1
    return ApiProblem(status, "Not Found" if status == 404 else "Method Not Allowed").response()


def create_app(
    state: STState | None = None,
    *,
    clock: Clock | None = None,
    config: STSimConfig | None = None,
) -> Starlette:
    """A simulator over ``state`` (empty when omitted); ``clock`` drives tokens and the limiter."""
    config = config or STSimConfig()
    clock = clock or (state.clock if state is not None else SystemClock())
    state = state if state is not None else STState(clock=clock, tenant_id=config.tenant_id)
    sim = STSim(
        state=state,
        config=config,
        clock=clock,
        tokens=TokenIssuer(config, clock),
        limiter=RateLimiter(config.requests_per_second, clock),
    )
    routes = [Route("/connect/token", _token_endpoint(sim), methods=["POST"])]
    routes += admin_routes(sim)
    routes += [Route(op.route_path, endpoint(op, sim), methods=[op.method]) for op in OPERATIONS]
    app = Starlette(routes=routes, exception_handlers={404: _http_error, 405: _http_error})
    app.state.servicetitan = state
    app.state.servicetitan_sim = sim
    return app


def serve(
    app: Starlette | None = None,
    *,
    host: str = credentials.SERVICETITAN_HOST,
    port: int = credentials.SERVICETITAN_PORT,
) -> None:
    """Serve the simulator with uvicorn (blocking); 127.0.0.1:8720 by default (DESIGN §5)."""
    import uvicorn

    uvicorn.run(app or create_app(), host=host, port=port, log_level="warning")
