"""Inspection endpoints under ``/__admin/`` (JSON, no auth): counts, state dumps, token revocation.

They are the simulator's own, not ServiceTitan's; the contract tests leave them out of the
"every route exists in the specs" check on purpose.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ml_connector.sandbox.servicetitan.routing import STSim


def admin_routes(sim: STSim) -> list[Route]:
    async def counts(request: Request) -> JSONResponse:
        c = sim.counters
        return JSONResponse(
            {
                "tokenRequests": sim.tokens.requests_served,
                "apiRequests": dict(sorted(c.api_requests.items())),
                "apiRequestsTotal": sum(c.api_requests.values()),
                "rateLimited": c.rate_limited,
                "errors": {str(k): v for k, v in sorted(c.errors.items())},
            }
        )

    async def state(request: Request) -> JSONResponse:
        resource = (request.query_params.get("resource") or "").replace("-", "_")
        tables = sim.state.tables
        if resource not in tables:
            return JSONResponse(
                {"error": f"unknown resource {resource!r}", "resources": sorted(tables)},
                status_code=404,
            )
        data = sim.state.snapshot(resource)
        return JSONResponse({"resource": resource, "count": len(data), "data": data})

    async def revoke(request: Request) -> JSONResponse:
        return JSONResponse({"revoked": sim.revoke_tokens()})

    return [
        Route("/__admin/counts", counts, methods=["GET"]),
        Route("/__admin/state", state, methods=["GET"]),
        Route("/__admin/revoke-tokens", revoke, methods=["POST"]),
    ]
