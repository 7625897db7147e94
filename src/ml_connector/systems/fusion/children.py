"""Complete expanded child collections that came back cut short.

From ``REST-Framework-Version`` 3 an expanded child is a collection object with its own ``hasMore``
(oracle-fusion-api.md §1.1), and a pod may cap it like any collection (default ``limit`` 25, §3.3).
A supplier with 30 sites would otherwise reach the flows with 25 and no sign that 5 are missing.
So every expanded child that says ``hasMore`` is re-read through its child resource
(``suppliers/{SupplierId}/child/sites``), nested the same way (``purchaseOrders/{POHeaderId}/child/
lines/{POLineId}/child/schedules``), and replaced by the complete list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ReadAll = Callable[[str, Mapping[str, str]], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True, kw_only=True)
class Child:
    """An expanded child: its item key (for grandchildren's paths) and its own children."""

    key: str | None = None
    children: Mapping[str, Child] = field(default_factory=dict)

    def expand(self, prefix: str = "") -> list[str]:
        """``expand`` values for the grandchildren of a re-read child (``schedules`` under lines)."""
        out: list[str] = []
        for name, child in self.children.items():
            out.append(prefix + name)
            out.extend(child.expand(prefix + name + "."))
        return out


SUPPLIER_CHILDREN: Mapping[str, Child] = {
    "addresses": Child(),
    "sites": Child(),
    "contacts": Child(),
}
PO_CHILDREN: Mapping[str, Child] = {
    "lines": Child(key="POLineId", children={"schedules": Child()}),
}
RECEIVING_CHILDREN: Mapping[str, Child] = {
    "lines": Child(key="InterfaceTransactionId", children={"processingErrors": Child()}),
}


async def complete(
    read_all: ReadAll, path: str, item: dict[str, Any], tree: Mapping[str, Child]
) -> None:
    """Replace every cut-short expanded child of ``item`` (at ``path``) by the full list, in place.

    ``read_all(path, params)`` reads a whole collection. Complete children are left untouched
    (one request per truncated child only).
    """
    for name, spec in tree.items():
        value = item.get(name)
        if not isinstance(value, Mapping):
            rows = value if isinstance(value, list) else []
        elif value.get("hasMore"):
            params = {"onlyData": "true"}
            expand = spec.expand()
            if expand:
                params["expand"] = ",".join(expand)
            rows = await read_all(f"{path}/child/{name}", params)
            item[name] = rows
        else:
            rows = list(value.get("items") or [])
        if spec.children and spec.key is not None:
            for row in rows:
                if isinstance(row, dict) and row.get(spec.key) is not None:
                    child_path = f"{path}/child/{name}/{row[spec.key]}"
                    await complete(read_all, child_path, row, spec.children)
