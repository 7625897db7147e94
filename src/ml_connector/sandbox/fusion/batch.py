"""The batch endpoint (reference §5): ``POST /fscmRestApi/resources/{version}/`` with
``application/vnd.oracle.adf.batch+json``.

Parts run in order against the live state after a snapshot; if any part fails, the snapshot is restored
(all-or-nothing) and only the failing parts are returned. Custom actions are refused in a batch. The
response status (200 on success, 400 on failure) and the error-part shape (``payload`` holding the ADF error
object) are INFERRED. The snapshot is a deep copy: O(data size) per batch, acceptable for a sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .dispatch import dispatch
from .errors import ApiError, ErrorDetail, Reply, error_reply
from .tree import Ctx, Node

BATCH = "application/vnd.oracle.adf.batch+json"
_METHODS = {
    "get": "GET",
    "create": "POST",
    "update": "PATCH",
    "replace": "PATCH",
    "delete": "DELETE",
}


def _segments(path: str) -> list[str]:
    path = path.split("?", 1)[0]
    marker = "/resources/"
    if marker in path:  # absolute path or URL: drop everything up to and including the version
        path = path.split(marker, 1)[1].partition("/")[2]
    return [s for s in path.split("/") if s]


def run_batch(ctx: Ctx, registry: Mapping[str, Node], body: Any) -> Reply:
    parts = body.get("parts") if isinstance(body, Mapping) else None
    if not isinstance(parts, list):
        raise ApiError.bad("A batch request needs a parts array.", code="JBO-27027")
    snapshot = ctx.state.snapshot()
    done: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for part in parts:
        if not isinstance(part, Mapping):
            raise ApiError.bad("Each batch part must be an object.", code="JBO-27027")
        operation = str(part.get("operation", ""))
        path = str(part.get("path", ""))
        segments = _segments(path)
        out = {
            "id": part.get("id"),
            "path": f"{ctx.base}/{'/'.join(segments)}",
            "operation": operation,
        }
        try:
            method = _METHODS.get(operation)
            if method is None:
                raise ApiError.bad(f"The operation {operation} isn't valid.", code="JBO-27027")
            if "action" in segments:
                name = segments[-1]
                raise ApiError(
                    400, ErrorDetail(detail=f"The action {name} isn't enabled for batch execution.")
                )
            reply = dispatch(ctx, registry, method, segments, {}, part.get("payload") or {})
            out["payload"] = reply.body
            done.append(out)
        except ApiError as err:
            failed.append(
                {
                    **out,
                    "payload": error_reply(
                        err, accept="application/vnd.oracle.adf.error+json"
                    ).body,
                }
            )
    if failed:
        ctx.state.restore(snapshot)
        return Reply(status=400, body={"parts": failed}, content_type=BATCH)
    return Reply(status=200, body={"parts": done}, content_type=BATCH)
