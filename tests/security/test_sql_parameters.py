"""SQL only through bound parameters (issue 8): no statement text is built from values.

The store speaks SQLAlchemy Core, whose expressions bind every value. The ways around that are
raw text — ``text(...)``, ``exec_driver_sql(...)``, or a string handed to ``.execute(...)`` — so
this test reads every module of ``src/ml_connector`` and fails on any such call whose statement is
not a plain literal: an f-string, ``%``, ``.format()``, ``+`` concatenation, or a variable (a
literal such as ``"SELECT pg_advisory_lock(%s)"`` with its parameters beside it is fine). A
statement formatted from constants only goes in ``ALLOWED`` as written, so a change to it is seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import ml_connector

SRC = Path(ml_connector.__file__).resolve().parent
RAW = {"text", "exec_driver_sql"}
#: (module, statement as written) — static statements with no outside value in them
ALLOWED = {("store/engine.py", "f'PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}'")}


def _callee(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _raw_statements(tree: ast.AST) -> list[tuple[int, str, ast.expr]]:
    """(line, callee, statement argument) of every raw SQL call in a module.

    ``.execute(select(...))`` passes an expression and ``.execute(text(...))`` is checked at its
    ``text``; any other argument of ``.execute`` is looked at (``.format()`` is a call too).
    """
    found: list[tuple[int, str, ast.expr]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name, first = _callee(node), node.args[0]
        built_by_call = isinstance(first, ast.Call) and _callee(first) != "format"
        if name in RAW or (name == "execute" and not built_by_call):
            found.append((node.lineno, str(name), first))
    return found


def _problems(path: Path, source: str) -> list[str]:
    rel = path.relative_to(SRC).as_posix() if path.is_relative_to(SRC) else path.name
    problems = []
    for line, name, arg in _raw_statements(ast.parse(source)):
        statement = arg.value if isinstance(arg, ast.Constant) else ast.unparse(arg)
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            continue  # a literal cannot carry a value; parameters are bound beside it
        if (rel, statement) in ALLOWED:
            continue
        if name == "execute" and isinstance(arg, ast.Name | ast.Attribute | ast.Subscript):
            continue  # a statement object built elsewhere (select(), insert()…), not text
        problems.append(f"{rel}:{line}: {name}({statement!r})")
    return problems


def test_no_sql_text_is_built_from_values() -> None:
    problems = []
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50
    for path in files:
        source = path.read_text(encoding="utf-8")
        if "execute" in source or "text(" in source or "exec_driver_sql" in source:
            problems += _problems(path, source)
    assert problems == []


def test_the_scanner_catches_each_kind_of_formatting(tmp_path: Path) -> None:
    bad = """
name = "x"
text(f"SELECT * FROM audit WHERE source_id = '{name}'")
text("SELECT * FROM audit WHERE source_id = '%s'" % name)
text("SELECT * FROM audit WHERE source_id = '{}'".format(name))
conn.exec_driver_sql("DELETE FROM inbox WHERE id = " + name)
conn.execute("DROP TABLE " + name)
conn.execute(f"VACUUM {name}")
text(query)
text("SELECT 2")
"""
    good = """
conn.execute(select(audit).where(audit.c.id == ident))
conn.execute(stmt, {"id": 1})
conn.execute(text("SELECT 1"))
"""
    path = tmp_path / "app.py"
    assert len(_problems(path, bad)) == 7
    assert _problems(SRC / "web" / "app.py", good) == []
