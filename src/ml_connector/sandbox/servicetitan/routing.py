"""How an API operation is declared and what runs around it.

An :class:`Op` names the method, namespace, path template (as in the spec, after
``/tenant/{tenant}``), the OAuth scope and the handler. :func:`endpoint` wraps a handler with what
the API gateway does before any resource code runs (reference §1.2, §9): ``ST-App-Key`` check →
token check → tenant match → scope → rate limit; it counts requests per template and errors per
status, and turns :class:`ApiProblem`, :class:`Invalid` and :class:`Conflict` into ProblemDetails.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ml_connector.clock import Clock
from ml_connector.sandbox.servicetitan.auth import TokenIssuer
from ml_connector.sandbox.servicetitan.config import STSimConfig
from ml_connector.sandbox.servicetitan.limiter import RateLimiter
from ml_connector.sandbox.servicetitan.paging import Predicate, export_envelope, page_envelope
from ml_connector.sandbox.servicetitan.problems import ApiProblem, rate_limited
from ml_connector.sandbox.servicetitan.records import to_wire
from ml_connector.sandbox.servicetitan.state import Conflict, Invalid, STState


@dataclass(kw_only=True)
class Counters:
    """What ``GET /__admin/counts`` reports."""

    api_requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0


@dataclass(kw_only=True)
class STSim:
    """Everything a running simulator holds: state, config, clock, tokens, limiter, counters."""

    state: STState
    config: STSimConfig
    clock: Clock
    tokens: TokenIssuer
    limiter: RateLimiter
    counters: Counters = field(default_factory=Counters)

    def revoke_tokens(self) -> int:
        """Fault injection: every issued token stops working at once."""
        return self.tokens.revoke_all()


class ApiRequest:
    """What a handler sees: the sim, the tenant, path ids, query and the JSON body."""

    def __init__(self, request: Request, sim: STSim, tenant: int) -> None:
        self.request = request
        self.sim = sim
        self.state = sim.state
        self.tenant = tenant
        self.query: QueryParams = request.query_params

    def path_int(self, name: str) -> int:
        return int(self.request.path_params[name])

    async def json(self) -> Any:
        raw = await self.request.body()
        if not raw.strip():
            return None
        try:
            return json.loads(raw, parse_float=Decimal)
        except ValueError as exc:
            raise ApiProblem(400, errors={"$": [f"Invalid JSON: {exc}"]}) from None

    def page(self, table: str, predicates: list[Predicate]) -> dict[str, Any]:
        return page_envelope(
            self.state,
            table,
            self.query,
            predicates,
            default_page_size=self.sim.config.default_page_size,
            max_page_size=self.sim.config.max_page_size,
        )

    def export(self, table: str) -> dict[str, Any]:
        config = self.sim.config
        return export_envelope(
            self.state, table, self.query, config.export_page_size, config.recent_changes_overlap
        )


Handler = Callable[[ApiRequest], Awaitable[Any]]


@dataclass(frozen=True, kw_only=True)
class Op:
    method: str
    namespace: str
    template: str
    scope: str
    handler: Handler

    @property
    def route_path(self) -> str:
        """The Starlette path: ``{id}``-style parameters become integers."""
        path = self.template
        for name in ("id", "invoiceId"):
            path = path.replace("{" + name + "}", "{" + name + ":int}")
        return f"/{self.namespace}/v2/tenant/{{tenant:int}}{path}"

    @property
    def label(self) -> str:
        return f"{self.method} /{self.namespace}/v2/tenant/{{tenant}}{self.template}"


def _problem(sim: STSim, problem: ApiProblem) -> Response:
    sim.counters.errors[problem.status] += 1
    return problem.response()


def endpoint(op: Op, sim: STSim) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        sim.counters.api_requests[op.label] += 1
        tenant = int(request.path_params["tenant"])
        app_key = request.headers.get("st-app-key")
        if app_key != sim.config.app_key:
            return _problem(sim, ApiProblem(401, "Missing or invalid ST-App-Key header"))
        token = sim.tokens.check(request.headers.get("authorization"))
        if token is None:
            return _problem(sim, ApiProblem(401, "Missing, invalid or expired access token"))
        if token.tenant != tenant:
            return _problem(sim, ApiProblem(403, f"The token is not valid for tenant {tenant}"))
        if op.scope not in token.scopes:
            return _problem(sim, ApiProblem(403, f"The token lacks the scope {op.scope}"))
        wait = sim.limiter.acquire(app_key, tenant)
        if wait is not None:
            sim.counters.rate_limited += 1
            return _problem(sim, rate_limited(wait))
        try:
            result = await op.handler(ApiRequest(request, sim, tenant))
        except ApiProblem as problem:
            return _problem(sim, problem)
        except Invalid as exc:
            return _problem(sim, ApiProblem(400, errors={exc.field: [exc.message]}))
        except Conflict as exc:
            return _problem(sim, ApiProblem(409, str(exc)))
        if isinstance(result, Response):
            return result
        return JSONResponse(to_wire(result))

    return run
