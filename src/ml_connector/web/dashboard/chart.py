"""A stacked bar chart of records per day, laid out here and drawn by the template as inline SVG.

No JavaScript and no chart library: the geometry is plain arithmetic, so it is tested like any
other function, and the page still reads as a table for screen readers (the template adds one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 720, 180
LEFT, BOTTOM, TOP = 40, 22, 10
#: colour per flow (stable across pages); unknown flows fall back to grey
COLOURS = {
    "suppliers": "#3b6ea8",
    "purchase_orders": "#5fa35f",
    "receipts": "#b5883a",
    "invoices": "#8a5fb0",
    "payments": "#c4574f",
}
OTHER = "#888888"


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    labels: list[tuple[float, str]]
    ticks: list[tuple[float, int]]
    legend: list[tuple[str, str]]
    days: list[date]
    flows: list[str]
    table: list[tuple[date, list[int], int]]
    peak: int


def _nice_max(value: int) -> int:
    """The smallest 1/2/5 × 10ⁿ at or above ``value`` (at least 1), for round axis ticks."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return max(1, m * step)
        step *= 10


def stacked_bars(counts: dict[date, dict[str, int]]) -> Chart:
    days = sorted(counts)
    flows = sorted({flow for per_day in counts.values() for flow in per_day})
    totals = [sum(counts[d].values()) for d in days]
    peak = max(totals, default=0)
    top = _nice_max(peak)
    plot_w, plot_h = WIDTH - LEFT - 10, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(1, len(days))
    bar_w = slot * 0.7
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar_w) / 2
        base = float(HEIGHT - BOTTOM)
        for flow in flows:
            n = counts[day].get(flow, 0)
            if not n:
                continue
            h = plot_h * n / top
            base -= h
            bars.append(
                Bar(
                    x=round(x, 1),
                    y=round(base, 1),
                    width=round(bar_w, 1),
                    height=round(h, 1),
                    colour=COLOURS.get(flow, OTHER),
                    title=f"{day.isoformat()} {flow}: {n}",
                )
            )
        labels.append((round(x + bar_w / 2, 1), day.strftime("%d %b")))
    ticks = [(round(HEIGHT - BOTTOM - plot_h * f, 1), int(top * f)) for f in (0, 0.5, 1)]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        labels=labels,
        ticks=ticks,
        legend=[(flow, COLOURS.get(flow, OTHER)) for flow in flows],
        days=days,
        flows=flows,
        table=[
            (d, [counts[d].get(f, 0) for f in flows], t) for d, t in zip(days, totals, strict=True)
        ],
        peak=peak,
    )
