"""Server-rendered SVG charts (the pages run no script)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ohm.models import no_key

PALETTE = ["#0b6e4f", "#2a6fdb", "#d1495b", "#edae49", "#6a4c93", "#00798c", "#8c5e3c", "#66a182", "#c44900",
           "#5f6b76"]


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class Chart:
    width: int
    height: int
    bars: list[Bar]
    legend: list[tuple[str, str]]
    ticks: list[tuple[float, str]]  # (y, label)
    labels: list[tuple[float, str]]  # (x, day label)
    plot_left: int
    plot_bottom: int


def stacked_daily(rows: list[dict], start: date, days: int, *, width: int = 760, height: int = 260) -> Chart:
    """Stacked bars: one per day, one segment per agent (cost in USD)."""
    left, right, top, bottom = 56, 8, 10, 28
    agents = sorted({r["agent"] or no_key("agent") for r in rows if r["cost_usd"]})
    colours = {a: PALETTE[i % len(PALETTE)] for i, a in enumerate(agents)}
    per_day: dict[date, list[tuple[str, Decimal]]] = {}
    for r in rows:
        if r["cost_usd"]:
            per_day.setdefault(r["day"], []).append((r["agent"] or no_key("agent"), Decimal(r["cost_usd"])))
    peak = max((sum((c for _, c in v), Decimal(0)) for v in per_day.values()), default=Decimal(0))
    scale_top = _nice(peak) if peak > 0 else Decimal(1)
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / days
    bars, labels = [], []
    for i in range(days):
        day = start + timedelta(days=i)
        x = left + i * slot + slot * 0.15
        y: float = top + plot_h
        for agent, cost in sorted(per_day.get(day, []), key=lambda item: agents.index(item[0])):
            h = float(cost / scale_top) * plot_h
            y -= h
            bars.append(Bar(round(x, 1), round(y, 1), round(slot * 0.7, 1), round(h, 1), colours[agent],
                            f"{day.isoformat()} · {agent}: ${cost:.4f}"))
        if days <= 14 or i % max(1, days // 10) == 0:
            labels.append((round(left + i * slot + slot / 2, 1), day.strftime("%m-%d")))
    ticks = [(round(top + plot_h - plot_h * k / 4, 1), f"${scale_top * k / 4:.2f}") for k in range(5)]
    return Chart(width, height, bars, [(a, colours[a]) for a in agents], ticks, labels, left, top + plot_h)


def _nice(value: Decimal) -> Decimal:
    """A round axis maximum at or above ``value``."""
    magnitude = Decimal(10) ** (len(str(int(value))) - 1) if value >= 1 else Decimal("0.01")
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 5, 10):
        if magnitude * step >= value:
            return magnitude * step
    return magnitude * 10
