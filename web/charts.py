"""Geometry for the dashboard's charts, drawn as SVG by the templates (no JavaScript charting).

These functions only compute numbers (bar positions and sizes); the markup lives in
``templates/_charts.html``, so every label is escaped like any other template text.
"""

from __future__ import annotations

import msgspec

from outreach.kernel.services.stats import DayCount, FunnelStep


class Bar(msgspec.Struct, frozen=True):
    """One bar: its box, its label and the number it stands for."""

    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    #: Share of the first bar (funnel) or of the tallest bar (days), 0..1.
    share: float


class Chart(msgspec.Struct, frozen=True):
    """A chart's canvas and bars."""

    width: int
    height: int
    bars: list[Bar]
    total: int


def funnel_chart(steps: list[FunnelStep], *, width: int = 520, row: int = 34, label_width: int = 92) -> Chart:
    """Horizontal bars, one per funnel step, each as long as its share of the first step."""
    top = steps[0].count if steps else 0
    span = width - label_width - 70
    bars = []
    for i, step in enumerate(steps):
        share = step.count / top if top else 0.0
        bars.append(
            Bar(
                x=label_width,
                y=i * row + 4,
                width=max(2.0, round(span * share, 1)) if step.count else 0.0,
                height=row - 10,
                label=step.name,
                value=step.count,
                share=share,
            )
        )
    return Chart(width=width, height=len(steps) * row + 4, bars=bars, total=top)


def daily_chart(days: list[DayCount], *, width: int = 520, height: int = 160, axis: int = 22) -> Chart:
    """Vertical bars, one per day, scaled to the busiest day."""
    peak = max((day.count for day in days), default=0)
    slot = width / max(1, len(days))
    plot = height - axis - 14
    bars = []
    for i, day in enumerate(days):
        share = day.count / peak if peak else 0.0
        bar_height = round(plot * share, 1)
        bars.append(
            Bar(
                x=round(i * slot + slot * 0.15, 1),
                y=round(14 + plot - bar_height, 1),
                width=round(slot * 0.7, 1),
                height=bar_height,
                label=day.day.strftime("%d %b"),
                value=day.count,
                share=share,
            )
        )
    return Chart(width=width, height=height, bars=bars, total=sum(day.count for day in days))
