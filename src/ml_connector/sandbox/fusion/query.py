"""``q`` parsing and evaluation (reference §3.1, §3.2); the other query parameters are in ``params.py``.

``q`` has two grammars, chosen by ``REST-Framework-Version`` (DESIGN §5):

* below 2, query-by-example: ``Attr<op>value`` clauses joined by ``;``. Anything else (an ``and``, a
  parenthesis) does not parse into a clause and matches nothing, which gives the "200 with 0 rows" seen on
  real pods (reference §3.1).
* from 2 up, expressions: comparisons, ``and``/``or``, parentheses, ``in``, ``like``, ``between``,
  ``is [not] null``, ``upper(Attr)``. A string that is not an expression but contains ``;`` is read in
  the ``;`` form, which pods still accept.

Literals are converted to the attribute's type (dates, timestamps with offsets, numbers, Y/N and
booleans), once per type per request; a literal that does not convert matches nothing, as a type
mismatch does on a pod.

Next to the predicate, parsing gives the query's :data:`Shape`: its plain comparisons joined by
``and``/``or``, everything else opaque. ``index.py`` reads from it the range of ``LastUpdateDate`` or
of the id that every matching row must fall in, to narrow the rows the predicate runs over.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import ApiError

Getter = Callable[[Any, str], Any]
Predicate = Callable[[Any], bool]
MISSING: Any = object()


class QueryError(Exception):
    """``q`` cannot be parsed in the current grammar."""


# --- shapes ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Cmp:
    """``attr op literal`` with a plain attribute (no ``upper``): true only where the value compares so."""

    attr: str
    op: str
    literal: str


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Shape, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Shape, ...]


@dataclass(frozen=True)
class Opaque:
    """Anything else (``not``, ``like``, ``is null``, ``upper``): says nothing about ranges."""


@dataclass(frozen=True)
class Nothing:
    """Matches no row (a ``;`` clause that does not parse, below framework 2)."""


Shape = Cmp | AllOf | AnyOf | Opaque | Nothing
OPAQUE = Opaque()
NOTHING = Nothing()
Cond = tuple[Predicate, Shape]


# --- literals --------------------------------------------------------------------------------


def parse_timestamp(text: str) -> datetime | None:
    """``YYYY-MM-DD`` (midnight UTC) or ISO-8601 with optional offset (naive = UTC)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def coerce(literal: str, like: Any) -> Any:
    """Convert ``literal`` to the type of ``like`` (an attribute value); MISSING if impossible."""
    if isinstance(like, bool):
        low = literal.lower()
        if low in ("true", "y"):
            return True
        if low in ("false", "n"):
            return False
        return MISSING
    if isinstance(like, datetime):
        ts = parse_timestamp(literal)
        return MISSING if ts is None else ts
    if isinstance(like, date):
        ts = parse_timestamp(literal)
        return MISSING if ts is None else ts.date()
    if isinstance(like, int):
        try:
            return int(literal)
        except ValueError:
            return MISSING
    if isinstance(like, Decimal):
        try:
            return Decimal(literal)
        except InvalidOperation:
            return MISSING
    return literal


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<>": lambda a, b: bool(a != b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
}


@dataclass(kw_only=True)
class Attr:
    name: str
    upper: bool = False


def _compare(get: Getter, attr: Attr, op: str, literal: str) -> Predicate:
    fn = _OPS[op]
    converted: dict[type, Any] = {}  # the literal parsed once per attribute type, not once per row

    def pred(row: Any) -> bool:
        value = get(row, attr.name)
        if value is None or value is MISSING:
            return False
        kind = type(value)
        other = converted.get(kind, MISSING)
        if other is MISSING:
            other = converted[kind] = coerce(literal, value)
        if other is MISSING:
            return False
        if attr.upper and isinstance(value, str):
            value, other = value.upper(), str(other).upper()
        try:
            return fn(value, other)
        except TypeError:
            return False

    return pred


# --- the ';' form ------------------------------------------------------------------------------

_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<>|!=|>=|<=|=|>|<)\s*(.*?)\s*$", re.S)


def split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    quoted = False
    for ch in text:
        if ch == "'":
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


def unquote(value: str) -> str:
    if (
        len(value) >= 2
        and value[0] == value[-1] == "'"
        and "'" not in value[1:-1].replace("''", "")
    ):
        return value[1:-1].replace("''", "'")
    return value


def _never(row: Any) -> bool:
    return False


def parse_semicolon(q: str, get: Getter, known: Callable[[str], bool], *, strict: bool) -> Cond:
    """Query-by-example: every clause must hold. Unparseable clauses match nothing (or raise if strict)."""
    preds: list[Predicate] = []
    shapes: list[Shape] = []
    for clause in split_outside_quotes(q, ";"):
        if not clause.strip():
            continue
        m = _CLAUSE.match(clause)
        if m is None:
            if strict:
                raise QueryError(f"cannot parse {clause!r}")
            return _never, NOTHING
        name, op, value = m.groups()
        if not known(name):
            if strict:
                raise ApiError.bad(f"Attribute {name} is not queryable.", code="JBO-25064")
            return _never, NOTHING
        preds.append(_compare(get, Attr(name=name), op, unquote(value)))
        shapes.append(Cmp(attr=name, op=op, literal=unquote(value)))
    return (lambda row: all(p(row) for p in preds)), AllOf(tuple(shapes))


# --- the expression form -----------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:('(?:[^']|'')*')|(<>|!=|>=|<=|=|>|<)|([(),])|([^\s()',=<>!]+))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"unexpected character at {pos}")
        pos = m.end()
        if m.group(1) is not None:
            out.append(("str", m.group(1)[1:-1].replace("''", "'")))
        elif m.group(2) is not None:
            out.append(("op", m.group(2)))
        elif m.group(3) is not None:
            out.append(("punct", m.group(3)))
        else:
            out.append(("word", m.group(4)))
    return out


@dataclass(kw_only=True)
class _Parser:
    toks: list[tuple[str, str]]
    get: Getter
    known: Callable[[str], bool]
    pos: int = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise QueryError("unexpected end of q")
        self.pos += 1
        return tok

    def keyword(self, *words: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == "word" and tok[1].lower() in words:
            self.pos += 1
            return True
        return False

    def expect(self, kind: str, text: str) -> None:
        if self.take() != (kind, text):
            raise QueryError(f"expected {text!r}")

    def expr(self) -> Cond:
        conds = [self.term()]
        while self.keyword("or"):
            conds.append(self.term())
        if len(conds) == 1:
            return conds[0]
        preds = [p for p, _ in conds]
        return (lambda row: any(p(row) for p in preds)), AnyOf(tuple(s for _, s in conds))

    def term(self) -> Cond:
        conds = [self.factor()]
        while self.keyword("and"):
            conds.append(self.factor())
        if len(conds) == 1:
            return conds[0]
        preds = [p for p, _ in conds]
        return (lambda row: all(p(row) for p in preds)), AllOf(tuple(s for _, s in conds))

    def factor(self) -> Cond:
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.expr()
            self.expect("punct", ")")
            return inner
        if self.keyword("not"):
            negated, _ = self.factor()
            return (lambda row: not negated(row)), OPAQUE
        return self.comparison()

    def attr(self) -> Attr:
        kind, text = self.take()
        if kind != "word":
            raise QueryError("expected an attribute")
        if text.lower() == "upper" and self.peek() == ("punct", "("):
            self.take()
            inner = self.attr()
            self.expect("punct", ")")
            return Attr(name=inner.name, upper=True)
        if not self.known(text):
            raise ApiError.bad(f"Attribute {text} is not queryable.", code="JBO-25064")
        return Attr(name=text)

    def value(self) -> str:
        kind, text = self.take()
        if kind not in ("str", "word"):
            raise QueryError("expected a value")
        return text

    def cmp(self, attr: Attr, op: str, literal: str) -> Shape:
        return OPAQUE if attr.upper else Cmp(attr=attr.name, op=op, literal=literal)

    def comparison(self) -> Cond:
        attr = self.attr()
        tok = self.peek()
        if tok is not None and tok[0] == "op":
            self.take()
            literal = self.value()
            return _compare(self.get, attr, tok[1], literal), self.cmp(attr, tok[1], literal)
        negate = self.keyword("not")
        if self.keyword("is"):
            want_null = not self.keyword("not")
            self.expect("word", "null") if self.peek() == ("word", "null") else self.keyword("null")
            return (lambda row: (self.get(row, attr.name) in (None, MISSING)) == want_null), OPAQUE
        if self.keyword("in"):
            self.expect("punct", "(")
            values = [self.value()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.value())
            self.expect("punct", ")")
            preds = [_compare(self.get, attr, "=", v) for v in values]
            shape: Shape = (
                OPAQUE if negate else AnyOf(tuple(self.cmp(attr, "=", v) for v in values))
            )
            return (lambda row: any(p(row) for p in preds) != negate), shape
        if self.keyword("like"):
            regex = re.compile(
                "^" + ".*".join(re.escape(p) for p in self.value().split("%")) + "$",
                re.I if attr.upper else 0,
            )

            def like(row: Any) -> bool:
                value = self.get(row, attr.name)
                return (isinstance(value, str) and bool(regex.match(value))) != negate

            return like, OPAQUE
        if self.keyword("between"):
            low = self.value()
            if not self.keyword("and"):
                raise QueryError("between needs and")
            high = self.value()
            lo, hi = _compare(self.get, attr, ">=", low), _compare(self.get, attr, "<=", high)
            between: Shape = (
                OPAQUE if negate else AllOf((self.cmp(attr, ">=", low), self.cmp(attr, "<=", high)))
            )
            return (lambda row: (lo(row) and hi(row)) != negate), between
        raise QueryError(f"expected an operator after {attr.name}")


def compile_q(q: str, *, framework: int, get: Getter, known: Callable[[str], bool]) -> Predicate:
    """The row predicate for ``q`` under ``framework``; raises ApiError(400) for bad expressions."""
    return compile_cond(q, framework=framework, get=get, known=known)[0]


def compile_cond(q: str, *, framework: int, get: Getter, known: Callable[[str], bool]) -> Cond:
    """The row predicate for ``q`` and its shape; the same errors as :func:`compile_q`."""
    if framework < 2:
        return parse_semicolon(q, get, known, strict=False)
    try:
        parser = _Parser(toks=_tokens(q), get=get, known=known)
        cond = parser.expr()
        if parser.peek() is not None:
            raise QueryError("trailing text")
        return cond
    except QueryError as exc:
        if ";" in q:
            return parse_semicolon(q, get, known, strict=True)
        raise ApiError.bad(f"Invalid query expression: {exc}", code="JBO-27122") from exc
