"""Inspection endpoints under ``/__admin/`` (JSON, no auth): request counts, state dumps, token revocation.

They are for tests, the demo and fault injection; a real pod has nothing like them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .render import to_json
from .state import FusionState
from .tree import Ctx, Node


def _dump(ctx: Ctx, node: Node, row: Any) -> dict[str, Any]:
    out = {k: to_json(v) for k, v in node.attrs(row).items()}
    for child in node.children:
        out[child.name] = [_dump(ctx, child, r) for r in child.rows(ctx, row)]
    return out


def _ctx(request: Request) -> Ctx:
    return Ctx(
        state=request.app.state.fusion,
        config=request.app.state.fusion_config,
        framework=1,
        base="",
    )


async def counts(request: Request) -> Response:
    meta = _ctx(request).state.meta
    return JSONResponse(
        {
            "token_requests": meta.token_requests,
            "api_requests": dict(meta.api_requests),
            "errors": dict(meta.errors),
        }
    )


async def dump_state(request: Request) -> Response:
    ctx = _ctx(request)
    registry: Mapping[str, Node] = request.app.state.fusion_registry
    wanted = request.query_params.get("resource")
    if wanted is not None and wanted not in registry:
        return JSONResponse({"error": f"unknown resource {wanted}"}, status_code=404)
    names = [wanted] if wanted else list(registry)
    body = {n: [_dump(ctx, registry[n], r) for r in registry[n].rows(ctx, None)] for n in names}
    return JSONResponse(body)


async def revoke_tokens(request: Request) -> Response:
    state: FusionState = request.app.state.fusion
    revoked = len(state.meta.tokens)
    state.revoke_tokens()
    return JSONResponse({"revoked": revoked})


routes = [
    Route("/__admin/counts", counts, methods=["GET"]),
    Route("/__admin/state", dump_state, methods=["GET"]),
    Route("/__admin/revoke-tokens", revoke_tokens, methods=["POST"]),
]
