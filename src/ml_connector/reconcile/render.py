"""A reconciliation as a terminal table, CSV or a standalone HTML page.

Every row keeps its status text exactly as :class:`~.model.ReconStatus` spells it, so the three
forms and the dashboard agree. The HTML is rendered by Jinja2 with autoescaping on: reference
numbers and details carry text typed in ServiceTitan.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ml_connector.csvcells import safe_cell

from .model import KINDS, Reconciliation, ReconRow, ReconStatus

CSV_COLUMNS = (
    "kind",
    "status",
    "servicetitan_id",
    "reference",
    "date",
    "servicetitan_amount",
    "fusion_ids",
    "fusion_amount",
    "attention_id",
    "detail",
)

_env = Environment(
    loader=PackageLoader("ml_connector.reconcile", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)

_STYLE = {
    ReconStatus.MATCHED: "green",
    ReconStatus.ATTENTION: "yellow",
}


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _cells(row: ReconRow) -> list[str]:
    return [
        row.kind,
        row.status.value,
        row.servicetitan_id or "",
        row.reference,
        row.date.isoformat() if row.date else "",
        _money(row.servicetitan_amount),
        " ".join(row.fusion_ids),
        _money(row.fusion_amount),
        "" if row.attention_id is None else str(row.attention_id),
        row.detail,
    ]


def _ordered(rec: Reconciliation) -> list[ReconRow]:
    """Problems first, then attention, then matched; by kind and reference within each."""
    rank = {s: i for i, s in enumerate(ReconStatus)}
    order = {
        ReconStatus.MATCHED: 9,
        ReconStatus.ATTENTION: 8,
    }
    return sorted(
        rec.rows,
        key=lambda r: (order.get(r.status, rank[r.status]), r.kind, r.reference, r.fusion_ids),
    )


def as_csv(rec: Reconciliation) -> str:
    """One line per row, the columns of :data:`CSV_COLUMNS`; amounts with two decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in _ordered(rec):
        writer.writerow([safe_cell(cell) for cell in _cells(row)])
    return out.getvalue()


def _summary(rec: Reconciliation) -> Table:
    counts = rec.counts()
    totals = rec.totals()
    table = Table(
        "kind",
        *(s.value for s in ReconStatus),
        "total",
        "ServiceTitan amount",
        "Fusion amount",
        title=f"{rec.connection}: reconciliation {rec.period.label}",
        caption=f"generated {rec.generated_at.isoformat(timespec='seconds')}",
    )
    for kind in KINDS:
        per = counts[kind]
        table.add_row(
            kind,
            *(str(per[s.value]) for s in ReconStatus),
            str(sum(per.values())),
            _money(totals[kind]["servicetitan"]),
            _money(totals[kind]["fusion"]),
        )
    return table


def as_table(rec: Reconciliation, *, all_rows: bool = False) -> RenderableType:
    """The counts per kind and status (with amounts), then every row that is not matched — or
    every row with ``all_rows``."""
    rows = [r for r in _ordered(rec) if all_rows or r.status is not ReconStatus.MATCHED]
    parts: list[RenderableType] = [_summary(rec)]
    if rows:
        detail = Table(*CSV_COLUMNS[:-1], "detail", show_lines=False)
        for row in rows:
            cells = _cells(row)
            detail.add_row(*cells, style=_STYLE.get(row.status, "red"))
        parts.append(detail)
    problems = len(rec.problems)
    parts.append(
        Text(
            f"{problems} problem(s)" if problems else "no problems",
            style="red bold" if problems else "green bold",
        )
    )
    return Group(*parts)


def as_html(rec: Reconciliation) -> str:
    """A standalone page (inline CSS, no scripts): counts, amounts and every row."""
    counts = rec.counts()
    totals = rec.totals()
    template = _env.get_template("reconcile.html")
    return template.render(
        rec=rec,
        kinds=KINDS,
        statuses=[s.value for s in ReconStatus],
        counts=counts,
        totals={k: {side: _money(v) for side, v in t.items()} for k, t in totals.items()},
        columns=CSV_COLUMNS,
        rows=[(r.problem, r.status.value, _cells(r)) for r in _ordered(rec)],
        problems=len(rec.problems),
    )
