"""The resource tree: what a URL path can address and what each resource allows.

A :class:`Node` describes one resource or child resource: its item key, how to list its rows under a parent,
its children, finders, and the handlers for writes and actions. The generic code in ``dispatch.py`` does
paths, querying, paging and rendering for every node, so adding a resource is adding a Node (see
``registry.py``), not writing another GET handler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import FusionSimConfig
from .errors import Reply
from .query import MISSING
from .state import FusionState


@dataclass(frozen=True, kw_only=True)
class Ctx:
    """Per-request context handed to handlers."""

    state: FusionState
    config: FusionSimConfig
    framework: int
    base: (
        str  # absolute URL of the version root, e.g. http://host/fscmRestApi/resources/11.13.18.05
    )


def default_get(row: Any, name: str) -> Any:
    return getattr(row, name, MISSING)


def default_attrs(row: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = row.attrs()
    return attrs


Rows = Callable[[Ctx, Any], Sequence[Any]]
Create = Callable[[Ctx, Any, Mapping[str, Any]], Any]
Update = Callable[[Ctx, Any, Mapping[str, Any]], None]
Action = Callable[[Ctx, Any, Any], Reply]


@dataclass(frozen=True, kw_only=True)
class Node:
    name: str
    key: str
    attr_names: frozenset[str]
    rows: Rows  # (ctx, parent row or None) -> rows in their natural order
    children: tuple[Node, ...] = ()
    get: Callable[[Any, str], Any] = default_get
    attrs: Callable[[Any], dict[str, Any]] = default_attrs
    lookup: Callable[[Ctx, str], Any] | None = (
        None  # fast item lookup for big top-level collections
    )
    # the table behind a big top-level collection of Stamped rows (id -> row, natural order), for the
    # page index (index.py); None: pages are a full scan
    table: Callable[[Ctx], Mapping[Any, Any]] | None = None
    finders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> variables
    create: Create | None = None
    update: Update | None = None
    actions: Callable[[Ctx], Mapping[str, Action]] = lambda ctx: {}
    before_read: Callable[[Ctx, Sequence[Any]], None] | None = None

    def known(self, name: str) -> bool:
        return name in self.attr_names

    def child(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)

    def find(self, ctx: Ctx, parent: Any, key: str) -> Any:
        if self.lookup is not None and parent is None:
            return self.lookup(ctx, key)
        return next((r for r in self.rows(ctx, parent) if str(self.get(r, self.key)) == key), None)
