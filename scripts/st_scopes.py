"""List the ServiceTitan API scopes each flow needs, from the code and ServiceTitan's OpenAPI specs.

Nothing here is a hand list. The script reads the ServiceTitan client
(``src/ml_connector/systems/servicetitan/*.py``) and finds every call it makes: the HTTP method,
the API namespace and the resource template (``resource="vendors/{id}"``), following the client's
own methods into each other. It then reads which client methods each flow's modules call (a flow's
modules are its own module and the ``ml_connector.flows`` modules it imports), and looks every
operation up in ServiceTitan's OpenAPI documents (``../shared/specs/servicetitan/*.json``), whose
operations carry their OAuth scopes (``security: [{oauth: ["tn.inv.vendors:r"]}]``).

Usage::

    python scripts/st_scopes.py                       # print the Markdown section
    python scripts/st_scopes.py --write docs/going-live.md   # replace the section in the page

The page holds the output between ``<!-- st-scopes:start -->`` and ``<!-- st-scopes:end -->``;
``tests/docs/test_st_scopes.py`` fails when it is stale.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIENT_DIR = ROOT / "src" / "ml_connector" / "systems" / "servicetitan"
FLOWS_DIR = ROOT / "src" / "ml_connector" / "flows"
DEFAULT_SPECS = ROOT.parent / "shared" / "specs" / "servicetitan"
START, END = "<!-- st-scopes:start -->", "<!-- st-scopes:end -->"

#: The client's request helpers: name → (index of the method argument or None for GET,
#: index of the namespace argument).
HELPERS: dict[str, tuple[int | None, int]] = {
    "_write": (0, 1),
    "send_json": (0, 1),
    "_get": (None, 0),
    "_list": (None, 0),
    "_collect": (None, 0),
    "_by_ids": (None, 0),
    "_feed": (None, 0),
    "get_json": (None, 0),
}

#: What each row of the table covers: a flow's entry module, or another user of the client.
USERS: dict[str, list[str]] = {
    "suppliers (F1)": ["flows/suppliers.py"],
    "purchase-orders (F2)": ["flows/purchase_orders.py"],
    "receipts (F3)": ["flows/receipts.py"],
    "invoices (F4)": ["flows/invoices.py"],
    "payments (F5)": ["flows/payments.py"],
    "webhooks (inbox worker, F4–F5)": ["flows/inbox_worker.py"],
    "reconcile": ["reconcile/read.py"],
    "check": ["cli/check_cmd.py", "flows/validation.py"],
}


@dataclass(frozen=True, order=True)
class Operation:
    method: str
    namespace: str
    resource: str

    @property
    def label(self) -> str:
        return f"{self.method} {self.namespace}/{self.resource}"


def _constants(tree: ast.Module) -> dict[str, object]:
    out: dict[str, object] = {}
    for node in tree.body:
        target = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        if isinstance(target, ast.Name):
            try:
                out[target.id] = ast.literal_eval(value)
            except ValueError:
                continue
    return out


def _value(node: ast.expr, constants: dict[str, object]) -> object:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in constants:
        return constants[node.id]
    return None


def _loop_bindings(loop: ast.For, constants: dict[str, object]) -> list[dict[str, object]]:
    """One binding of the loop's names per iteration, when the loop runs over a literal table."""
    try:
        table = ast.literal_eval(loop.iter)
    except ValueError:
        table = constants.get(loop.iter.id) if isinstance(loop.iter, ast.Name) else None
    if not isinstance(table, tuple | list):
        return []
    out: list[dict[str, object]] = []
    for row in table:
        if isinstance(loop.target, ast.Name):
            out.append({loop.target.id: row})
        elif isinstance(loop.target, ast.Tuple) and isinstance(row, tuple | list):
            names = [t.id if isinstance(t, ast.Name) else "" for t in loop.target.elts]
            out.append(dict(zip(names, row, strict=True)))
    return out


def _calls(
    node: ast.AST, constants: dict[str, object], ops: set[Operation], used: set[str]
) -> None:
    """Walk ``node``: helper calls → ``ops`` (a loop over a table: once per row); ``self.x()`` →
    ``used``."""
    if isinstance(node, ast.For):
        rows = _loop_bindings(node, constants)
        for row in rows or [{}]:
            for child in node.body:
                _calls(child, {**constants, **row}, ops, used)
        return
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        name = node.func.attr
        if name in HELPERS:
            ops.add(_helper_op(node, name, constants))
        elif isinstance(node.func.value, ast.Name) and node.func.value.id == "self":
            used.add(name)
    for child in ast.iter_child_nodes(node):
        _calls(child, constants, ops, used)


def client_operations(client_dir: Path = CLIENT_DIR) -> dict[str, set[Operation]]:
    """Every public client method → the operations it performs (its own and its helpers')."""
    direct: dict[str, set[Operation]] = {}
    calls: dict[str, set[str]] = {}
    constants: dict[str, object] = {}
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in sorted(client_dir.glob("*.py"))]
    for tree in trees:
        constants.update(_constants(tree))
    for tree in trees:
        for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
            for fn in cls.body:
                if (
                    isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
                    and fn.name not in HELPERS
                ):
                    ops, used = direct.setdefault(fn.name, set()), calls.setdefault(fn.name, set())
                    for statement in fn.body:
                        _calls(statement, constants, ops, used)
    resolved: dict[str, set[Operation]] = {}

    def resolve(name: str, seen: frozenset[str]) -> set[Operation]:
        if name not in resolved:
            ops = set(direct.get(name, set()))
            for other in calls.get(name, set()) - seen:
                ops |= resolve(other, seen | {name})
            resolved[name] = ops
        return resolved[name]

    everything = {name: resolve(name, frozenset()) for name in direct}
    return {name: ops for name, ops in everything.items() if ops and not name.startswith("_")}


def _helper_op(node: ast.Call, name: str, constants: dict[str, object]) -> Operation:
    method_at, namespace_at = HELPERS[name]
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    method = _value(node.args[method_at], constants) if method_at is not None else "GET"
    namespace = (
        _value(node.args[namespace_at], constants) if len(node.args) > namespace_at else None
    )
    resource = _value(keywords["resource"], constants) if "resource" in keywords else None
    if isinstance(method, str) and isinstance(namespace, str) and isinstance(resource, str):
        return Operation(method.upper(), namespace, resource)
    raise SystemExit(
        f"st_scopes: cannot read the operation of the {name}() call at line {node.lineno}"
    )


def _imports(path: Path, entries: set[Path]) -> set[Path]:
    """The ``ml_connector.flows`` modules ``path`` uses: helper modules always; another flow's
    entry module only when a ``…Flow`` class is imported from it (that flow is run from here)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[Path] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1 and node.module is None:
            targets = [(FLOWS_DIR / f"{a.name}.py", a.name) for a in node.names]
        elif node.level == 1 or (node.module and node.module.startswith("ml_connector.flows.")):
            module = (node.module or "").rsplit(".", 1)[-1]
            targets = [(FLOWS_DIR / f"{module}.py", a.name) for a in node.names]
        elif node.module == "ml_connector.flows":
            targets = [(FLOWS_DIR / f"{a.name}.py", a.name) for a in node.names]
        else:
            continue
        for target, name in targets:
            if target.exists() and (target not in entries or name.endswith("Flow")):
                out.add(target)
    return out


def modules_of(entry: Path, entries: set[Path]) -> list[Path]:
    """The entry module and the ``ml_connector.flows`` modules it uses, transitively."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        if path.parent == FLOWS_DIR:
            todo.extend(_imports(path, entries - {path}) - seen)
    return sorted(seen)


def methods_called(paths: list[Path], methods: set[str]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            if called and node.func.attr in methods:  # type: ignore[attr-defined]
                found.add(node.func.attr)  # type: ignore[attr-defined]
    return found


def spec_scopes(specs_dir: Path) -> dict[tuple[str, str, str], list[str]]:
    """(method, namespace, normalised path) → OAuth scopes, from every spec in ``specs_dir``."""
    out: dict[tuple[str, str, str], list[str]] = {}
    for spec_path in sorted(specs_dir.glob("*-v2.json")):
        namespace = spec_path.name.removesuffix("-v2.json")
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if not isinstance(op, dict) or "security" not in op:
                    continue
                scopes = sorted({s for req in op["security"] for s in req.get("oauth", [])})
                out[(method.upper(), namespace, _normal(path))] = scopes
    return out


def _normal(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def scope_of(op: Operation, table: dict[tuple[str, str, str], list[str]]) -> list[str]:
    key = (op.method, op.namespace, _normal(f"/tenant/{{tenant}}/{op.resource}"))
    if key not in table:
        raise SystemExit(f"st_scopes: {op.label} is not in the OpenAPI documents")
    return table[key]


def render(specs_dir: Path = DEFAULT_SPECS) -> str:
    """The Markdown section: one row per flow or user, then every scope the connector needs."""
    ops_of = client_operations()
    table = spec_scopes(specs_dir)
    src = ROOT / "src" / "ml_connector"
    lines = [
        "| flow or command | scopes | operations |",
        "| --- | --- | --- |",
    ]
    every: set[str] = set()
    rows: list[tuple[str, set[Operation]]] = []
    flow_entries = {src / e for entries in USERS.values() for e in entries}
    for user, entries in USERS.items():
        paths = sorted({m for e in entries for m in modules_of(src / e, flow_entries)})
        called = methods_called(paths, set(ops_of))
        ops = {op for name in called for op in ops_of[name]}
        rows.append((user, ops))
    for user, ops in rows:
        scopes = sorted({s for op in ops for s in scope_of(op, table)})
        every.update(scopes)
        lines.append(
            f"| {user} | {', '.join(f'`{s}`' for s in scopes)} | "
            f"{'<br>'.join(f'`{op.label}`' for op in sorted(ops))} |"
        )
    lines += [
        "",
        "Every scope the connector uses (tick these on the application):",
        "",
        "```text",
        " ".join(sorted(every)),
        "```",
    ]
    return "\n".join(lines) + "\n"


def replace_section(page: str, section: str) -> str:
    before, rest = page.split(START, 1)
    _old, after = rest.split(END, 1)
    return f"{before}{START}\n{section}{END}{after}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--specs", type=Path, default=DEFAULT_SPECS)
    parser.add_argument("--write", type=Path, help="replace the section in this Markdown page")
    args = parser.parse_args(argv)
    if not args.specs.is_dir():
        print(f"st_scopes: no specs at {args.specs}", file=sys.stderr)
        return 2
    section = render(args.specs)
    if args.write:
        page = args.write.read_text(encoding="utf-8")
        args.write.write_text(replace_section(page, section), encoding="utf-8")
    else:
        sys.stdout.write(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
