"""The Fusion simulator as a Starlette ASGI app (DESIGN §3.4, §5 "Sandbox layout").

``create_app`` returns a plain Starlette app; the state is ``app.state.fusion`` so tests, the data generator
and the fault middleware (written elsewhere, wrapping this app) can reach it. Served by uvicorn on
127.0.0.1:8710 with the token endpoint and the API on the same port.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ml_connector.clock import Clock

from . import admin
from .auth import authenticated, token_endpoint, unauthorized
from .batch import BATCH, run_batch
from .config import FusionSimConfig
from .dispatch import dispatch
from .errors import ApiError, ErrorDetail, Reply, error_reply
from .registry import build_registry
from .seed import seed_minimal
from .state import FusionState
from .tree import Ctx

VERSIONS = ("11.13.18.05", "latest")
API_ROOT = "/fscmRestApi/resources"


def _framework(request: Request, config: FusionSimConfig) -> int:
    raw = request.headers.get("rest-framework-version")
    if raw is None:
        return config.default_framework_version
    try:
        version = int(raw)
    except ValueError:
        raise ApiError.bad(f"The REST framework version {raw} isn't valid.") from None
    if not 1 <= version <= 9:
        raise ApiError.bad(f"The REST framework version {raw} isn't supported.")
    return version


def _to_response(reply: Reply) -> Response:
    if reply.body is None:
        return Response(status_code=reply.status, headers=dict(reply.headers))
    if isinstance(reply.body, str):
        content = reply.body.encode()
    else:
        content = json.dumps(reply.body, separators=(",", ":")).encode()
    return Response(
        content=content,
        status_code=reply.status,
        media_type=reply.content_type,
        headers=dict(reply.headers),
    )


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError.bad("The request body isn't valid JSON.", code="JBO-27027") from None


async def api(request: Request) -> Response:
    state: FusionState = request.app.state.fusion
    config: FusionSimConfig = request.app.state.fusion_config
    version = request.path_params["version"]
    path = request.path_params.get("path", "")
    segments = [s for s in path.split("/") if s]
    kind = segments[0] if segments else "(root)"
    state.meta.api_requests[f"{request.method} {kind}"] += 1
    if not authenticated(request, state):
        state.meta.errors["401"] += 1
        return unauthorized()
    try:
        if version not in VERSIONS:
            raise ApiError.not_found(f"Version {version} not found.")
        ctx = Ctx(
            state=state,
            config=config,
            framework=_framework(request, config),
            base=str(request.base_url).rstrip("/") + f"{API_ROOT}/{version}",
        )
        registry = request.app.state.fusion_registry
        body = await _body(request)
        if not segments and request.method == "POST":
            if BATCH not in request.headers.get("content-type", ""):
                raise ApiError(415, ErrorDetail(detail=f"Use Content-Type {BATCH}."))
            reply = run_batch(ctx, registry, body)
        else:
            reply = dispatch(
                ctx,
                registry,
                request.method,
                segments,
                request.query_params,
                body,
                request.headers,
            )
    except ApiError as err:
        if err.status == 405 and not err.details:
            err = ApiError(405, ErrorDetail(detail=f"Method {request.method} isn't allowed here."))
        reply = error_reply(err, accept=request.headers.get("accept", ""))
    if reply.status >= 400:
        state.meta.errors[str(reply.status)] += 1
    return _to_response(reply)


async def catalog(request: Request) -> Response:
    """``GET /fscmRestApi/resources/``: the version list (reference §1, VERIFIED [S3])."""
    return JSONResponse(
        {
            "items": [
                {
                    "name": "11.13.18.05",
                    "isLatest": True,
                    "adf:extension": {
                        "defaultFrameworkVersion": "1",
                        "allowedFrameworkVersions": [str(v) for v in range(1, 10)],
                    },
                }
            ]
        }
    )


def create_app(
    state: FusionState | None = None,
    *,
    clock: Clock | None = None,
    config: FusionSimConfig | None = None,
) -> Starlette:
    """Build the simulator. Without ``state`` a fresh one is made on ``clock`` and given the minimal seed;
    with ``state``, its data is used as is (seed it yourself)."""
    if state is None:
        state = FusionState(clock)
        seed_minimal(state)
    config = config or FusionSimConfig()
    methods = ["GET", "POST", "PATCH", "DELETE", "PUT"]
    app = Starlette(
        routes=[
            Route("/oauth2/v1/token", token_endpoint, methods=["POST"]),
            *admin.routes,
            Route(f"{API_ROOT}/", catalog, methods=["GET"]),
            Route(f"{API_ROOT}/{{version}}/", api, methods=methods),
            Route(f"{API_ROOT}/{{version}}/{{path:path}}", api, methods=methods),
        ]
    )
    app.state.fusion = state
    app.state.fusion_config = config
    app.state.fusion_registry = build_registry(config)
    return app
