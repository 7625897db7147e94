"""ServiceTitan's OpenAPI documents as a test oracle (reference servicetitan-api.md §0).

Loads ``shared/specs/servicetitan/<namespace>-v2.json`` and validates bodies against an operation's
request or response schema with ``jsonschema`` (OpenAPI 3.1 schemas are JSON Schema 2020-12;
``$ref``s resolve inside the same document; an OpenAPI 3.0 ``nullable: true`` is read as "or null").
The specs set ``additionalProperties: false`` on most schemas, so a body with an invented field
fails too.

Reuse from other tests: ``from contract.specs import load_spec, validate_response``.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

NAMESPACES = ("accounting", "inventory", "crm", "settings", "jpm", "pricebook")
_SPEC_URI = "urn:servicetitan-spec"
_PARAM = re.compile(r"\{[^}]+\}")


def _nullable(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 ``nullable: true`` into JSON Schema null unions, recursively."""
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items()}
    if out.pop("nullable", False) is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = [*kind, "null"]
        elif kind is None:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        spec: dict[str, Any] = _nullable(json.load(fh))
    return spec


def load_spec(shared_dir: Path, namespace: str) -> dict[str, Any]:
    """The parsed document for ``namespace`` (``inventory``, ``accounting`` …), cached per file."""
    return _load(str(shared_dir / "specs" / "servicetitan" / f"{namespace}-v2.json"))


def normalise(path_template: str) -> str:
    """``/tenant/{tenant}/invoices/{invoiceId}`` → ``/tenant/{}/invoices/{}`` for comparisons.

    A full API path (``/accounting/v2/tenant/{tenant}/…``) is accepted too: the namespace prefix is
    dropped, as the specs' paths are relative to ``https://api.servicetitan.io/<namespace>/v2``.
    """
    path = path_template
    start = path.find("/tenant/")
    if start > 0:
        path = path[start:]
    return _PARAM.sub("{}", path)


def find_path(spec: dict[str, Any], path_template: str) -> str | None:
    """The spec's own spelling of ``path_template`` (parameter names may differ), or None."""
    wanted = normalise(path_template)
    return next((p for p in spec["paths"] if normalise(p) == wanted), None)


def operation(spec: dict[str, Any], method: str, path_template: str) -> tuple[str, dict[str, Any]]:
    path = find_path(spec, path_template)
    if path is None or method.lower() not in spec["paths"][path]:
        raise AssertionError(f"{method} {path_template} is not in the spec")
    return path, spec["paths"][path][method.lower()]


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validator(spec: dict[str, Any], pointer: str) -> jsonschema.protocols.Validator:
    registry: Registry[Any] = Registry().with_resource(
        _SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return jsonschema.Draft202012Validator({"$ref": f"{_SPEC_URI}#/{pointer}"}, registry=registry)


def _errors(validator: jsonschema.protocols.Validator, body: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:300]}"
        for e in validator.iter_errors(body)
    ]


def validate_response(
    spec: dict[str, Any], method: str, path_template: str, status: int, body: Any
) -> None:
    """Assert ``body`` fits the operation's ``status`` response schema (application/json)."""
    path, op = operation(spec, method, path_template)
    response = op["responses"].get(str(status))
    if response is None:
        raise AssertionError(f"{method} {path_template} documents no {status} response")
    content = response.get("content", {})
    if "application/json" not in content:
        if body not in (None, b"", ""):
            raise AssertionError(f"{method} {path_template} {status} has no JSON body in the spec")
        return
    pointer = _pointer(
        "paths",
        path,
        method.lower(),
        "responses",
        str(status),
        "content",
        "application/json",
        "schema",
    )
    errors = _errors(_validator(spec, pointer), body)
    if errors:
        raise AssertionError(f"{method} {path_template} {status}:\n" + "\n".join(errors[:20]))


def validate_request(spec: dict[str, Any], method: str, path_template: str, body: Any) -> None:
    """Assert ``body`` fits the operation's JSON request schema."""
    path, op = operation(spec, method, path_template)
    if "requestBody" not in op:
        raise AssertionError(f"{method} {path_template} takes no request body in the spec")
    pointer = _pointer(
        "paths", path, method.lower(), "requestBody", "content", "application/json", "schema"
    )
    errors = _errors(_validator(spec, pointer), body)
    if errors:
        raise AssertionError(f"request {method} {path_template}:\n" + "\n".join(errors[:20]))


def scopes(spec: dict[str, Any], method: str, path_template: str) -> set[str]:
    """The OAuth2 scopes the spec names for an operation (S1b lists them)."""
    _, op = operation(spec, method, path_template)
    return {s for req in op.get("security", []) for s in req.get("oauth", [])}
