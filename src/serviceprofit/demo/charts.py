"""What the page draws, as Vega-Lite specifications built from the firms' histories.

The browser draws Vega-Lite, so a redraw costs the server only a small JSON document,
not a rendered image: that keeps the page responsive at the default 5,000 customers.
The charts follow the chain from staff to profit, both firms on every chart in fixed
colours, with a plain caption for students. Noisy weekly counts are shown as short
moving averages, and each caption or title says so.

Every axis fits its data: x spans the run's horizon (and any week drawn beyond it),
and y is the measure's natural range (0 to 100 for satisfaction and first-contact
resolution) while the data stay inside it, else the data's own range with a margin,
so no line is ever cut off at the frame (:func:`y_domain`). The exported chart image
(:mod:`.export`) uses the same ranges.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from serviceprofit.demo.classroom import PopulationCounts
from serviceprofit.model.outcomes import WEEKLY

__all__ = [
    "CHARTS",
    "FIRM_COLOURS",
    "MEASURES",
    "ChartSpec",
    "Measure",
    "chart_spec",
    "measure_series",
    "population_spec",
    "rivals_spec",
    "waffle_unit",
    "x_domain",
    "y_domain",
]

History = Sequence[Mapping[str, float]]

FIRM_COLOURS: tuple[str, ...] = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")
KIND_COLOURS: dict[str, str] = {
    "fans (promoters)": "#1a9850",
    "passive": "#fee08b",
    "critics (detractors)": "#d73027",
    "left since week 0": "#bdbdbd",
}
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
EMBED = {"embedOptions": {"actions": False}}
TURNOVER_FIRST_WEEK = 8


def _rolling(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _column(history: History, name: str) -> list[float]:
    return [float(row[name]) for row in history]


def annual_rate(weekly: float) -> float:
    """A weekly rate as the share lost over a year of such weeks (compounded)."""
    return 1.0 - math.pow(1.0 - min(max(weekly, 0.0), 1.0), 52.0)


def _staff_turnover(history: History) -> list[float]:
    """Quits over the last 13 weeks per head, as a yearly percentage.

    Quits are a few a month among 50 staff, so the first weeks (one quit in week 1
    reads as 65% a year) say nothing yet: they are left blank (NaN).
    """
    quits = _rolling(_column(history, "staff_quits"), 13)
    staff = _rolling(_column(history, "staff_active"), 13)
    return [
        100.0 * annual_rate(q / s) if s and week >= TURNOVER_FIRST_WEEK else math.nan
        for week, (q, s) in enumerate(zip(quits, staff, strict=True), start=1)
    ]


def _churn(history: History) -> list[float]:
    weekly = _rolling(_column(history, "churn_rate"), 4)
    return [100.0 * annual_rate(w) for w in weekly]


def _scaled(name: str, window: int = 1) -> Callable[[History], list[float]]:
    """A weekly metric in the units people read it in (its scale in the registry)."""
    factor = WEEKLY[name].scale

    def series(history: History) -> list[float]:
        values = [factor * v for v in _column(history, name)]
        return _rolling(values, window) if window > 1 else values

    return series


@dataclass(frozen=True)
class Measure:
    """One line per firm on a panel: a title students can read, and how to compute it.

    ``bounds`` is the measure's natural range, which its axis shows while the data fit
    in it: a 0-100 score on a 0-100 axis does not make small gaps look large.
    """

    title: str
    series: Callable[[History], list[float]]
    fmt: str = ",.0f"
    bounds: tuple[float, float] | None = None


PERCENT = (0.0, 100.0)
MARGIN = 0.06  # of the data's span, above and below, when the data set the range

MEASURES: dict[str, Measure] = {
    "staff_satisfaction": Measure(
        "Staff satisfaction (0-100)", _scaled("staff_satisfaction"), bounds=PERCENT
    ),
    "staff_turnover": Measure("Staff leaving (% a year, 13-week avg)", _staff_turnover),
    "fcr": Measure(
        "Fixed at first contact (%, 4-week avg)", _scaled("fcr", window=4), bounds=PERCENT
    ),
    "handoffs_per_contact": Measure(
        "Handoffs per contact (4-week avg)", _scaled("handoffs_per_contact", window=4), fmt=".2f"
    ),
    "customer_satisfaction": Measure(
        "Customer satisfaction (0-100)", _scaled("customer_satisfaction"), bounds=PERCENT
    ),
    "nps": Measure("Net promoter score (-100 to 100)", _scaled("nps")),
    "churn": Measure("Customers leaving (% a year, 4-week avg)", _churn),
    "customers_acquired": Measure(
        "New customers a week (4-week avg)", _scaled("customers_acquired", window=4)
    ),
    "customers_active": Measure("Customers", _scaled("customers_active")),
    "revenue": Measure("Revenue a week (4-week avg)", _scaled("revenue", window=4)),
    "cost_total": Measure("Costs a week (4-week avg)", _scaled("cost_total", window=4)),
    "cumulative_profit": Measure("Profit so far", _scaled("cumulative_profit")),
}


@dataclass(frozen=True)
class ChartSpec:
    """A chart of the page: panels side by side, both firms on each, and its caption."""

    key: str
    title: str
    measures: tuple[str, ...]
    caption: str


CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "staff",
        "1. Staff",
        ("staff_satisfaction", "staff_turnover"),
        "The chain starts inside the firm. Training, authority to act and a workload staff "
        "can manage keep them satisfied, and satisfied staff stay. Look for: which firm's "
        "staff are happier, and which firm keeps losing people it must replace.",
    ),
    ChartSpec(
        "service",
        "2. Service",
        ("fcr", "handoffs_per_contact"),
        "What customers get when they call. 'Fixed at first contact' is the share of "
        "problems solved by the first person they reach; a handoff passes them to another "
        "team. Look for: staff with time, skill and authority fix more at once.",
    ),
    ChartSpec(
        "customers",
        "3. Customers",
        ("customer_satisfaction", "nps"),
        "How customers feel. The net promoter score is the share of fans minus the share "
        "of critics. Look for: customer satisfaction follows the service, weeks later.",
    ),
    ChartSpec(
        "loyalty",
        "4. Loyalty and growth",
        ("churn", "customers_acquired", "customers_active"),
        "Unhappy customers leave, and most leave without complaining. Marketing buys new "
        "ones. Look for: does buying customers keep up with those walking out the back "
        "door (the leaky bucket)?",
    ),
    ChartSpec(
        "money",
        "5. Money",
        ("revenue", "cost_total", "cumulative_profit"),
        "Revenue comes from customers who stay and buy more over time; costs include wages, "
        "training, marketing and replacing staff who quit. Look for: the cheaper firm often "
        "leads at first. Does its lead last?",
    ),
)


def measure_series(history: History, measure: str) -> list[float]:
    """One measure of one firm, week by week (what a chart line shows)."""
    return MEASURES[measure].series(history) if history else []


def y_domain(measure: Measure, values: Sequence[float]) -> list[float]:
    """The y range of a panel: the measure's natural range when every value fits in it,
    else the values' range widened by a margin (a flat line gets a band around it).

    Never narrower than the data, so a line is never cut off at the frame.
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return list(measure.bounds or (0.0, 1.0))  # an empty frame still needs a range
    low, high = min(finite), max(finite)
    if measure.bounds and measure.bounds[0] <= low and high <= measure.bounds[1]:
        return list(measure.bounds)
    pad = MARGIN * (high - low) or max(0.05 * abs(high), 1.0)
    # no negative stretch under counts, rates and money that never went below zero
    return [max(low - pad, 0.0) if low >= 0 else low - pad, high + pad]


def x_domain(weeks: int, drawn: Sequence[int] = ()) -> list[int]:
    """The x range: week 0 to the horizon, so lines grow from left to right as the run
    goes, or further should any week be drawn beyond the horizon."""
    return [0, max([weeks, *drawn])]


def chart_spec(
    chart: ChartSpec,
    histories: Mapping[str, History],
    weeks: int,
    width: int = 600,
    panel_height: int = 140,
) -> dict[str, Any]:
    """A Vega-Lite spec: one panel per measure, one line per firm, x over the horizon.

    The x axis spans the whole run from the start, so the lines grow from left to right
    and a class sees how far the run has gone. The panels share ``width`` pixels.
    """
    firms = list(histories)
    panel_width = max(120, (width - 60 * len(chart.measures)) // len(chart.measures))
    panels = []
    for name in chart.measures:
        measure = MEASURES[name]
        values = [
            {"week": i + 1, "firm": firm, "value": v}
            for firm in firms
            for i, v in enumerate(measure_series(histories[firm], name))
            if math.isfinite(v)
        ]
        x = x_domain(weeks, [row["week"] for row in values])
        y = y_domain(measure, [row["value"] for row in values])
        panels.append(
            {
                "title": {"text": measure.title, "fontSize": 12},
                "width": panel_width,
                "height": panel_height,
                "data": {"values": values},
                "mark": {"type": "line", "strokeWidth": 2},
                "encoding": {
                    "x": {
                        "field": "week",
                        "type": "quantitative",
                        "scale": {"domain": x},
                        "axis": {"title": "week", "tickCount": 6 if panel_width > 180 else 3},
                    },
                    "y": {
                        "field": "value",
                        "type": "quantitative",
                        # rounded outwards to tick values: wider, never narrower
                        "scale": {"domain": y, "nice": True},
                        "axis": {"title": None, "format": measure.fmt},
                    },
                    "color": _firm_colour(firms),
                    "tooltip": [
                        {"field": "firm", "type": "nominal"},
                        {"field": "week", "type": "quantitative"},
                        {"field": "value", "type": "quantitative", "format": measure.fmt},
                    ],
                },
            }
        )
    return {
        "$schema": SCHEMA,
        "hconcat": panels,
        "config": {"view": {"stroke": "#ddd"}, "legend": {"orient": "bottom"}},
        "usermeta": EMBED,
    }


def _firm_colour(firms: list[str]) -> dict[str, Any]:
    return {
        "field": "firm",
        "type": "nominal",
        "title": None,
        "scale": {"domain": firms, "range": list(FIRM_COLOURS[: len(firms)])},
    }


def waffle_unit(customers: int, squares: int = 250) -> int:
    """Customers per square, so that a firm's starting customers fill about ``squares``."""
    return max(1, round(customers / squares))


def population_spec(
    counts: Mapping[str, PopulationCounts], unit: int, columns: int = 25
) -> dict[str, Any]:
    """A waffle per firm: customers now, coloured by how they would score the firm,
    then grey squares for every customer lost since week 0."""
    values = []
    for firm, c in counts.items():
        kinds = list(KIND_COLOURS)
        runs = [c.promoters, c.passives, c.detractors, c.churned]
        i = 0
        for kind, n in zip(kinds, runs, strict=True):
            for _ in range(round(n / unit)):
                values.append({"firm": firm, "col": i % columns, "row": i // columns, "kind": kind})
                i += 1
    return {
        "$schema": SCHEMA,
        "data": {"values": values},
        "facet": {"column": {"field": "firm", "title": None, "header": {"labelFontSize": 13}}},
        "spec": {
            "width": columns * 11,
            "mark": {"type": "square", "size": 80},
            "encoding": {
                "x": {"field": "col", "type": "ordinal", "axis": None},
                "y": {"field": "row", "type": "ordinal", "axis": None},
                "color": {
                    "field": "kind",
                    "type": "nominal",
                    "title": f"each square = {unit} customers",
                    "scale": {"domain": list(KIND_COLOURS), "range": list(KIND_COLOURS.values())},
                },
            },
        },
        "config": {"view": {"stroke": None}, "legend": {"orient": "bottom"}},
        "usermeta": EMBED,
    }


def rivals_spec(
    weekly: Mapping[str, Sequence[Mapping[str, float]]], weeks: int, width: int = 600
) -> dict[str, Any]:
    """The firms as rivals: each one's market share and its customers, week by week.

    ``weekly`` holds, per firm label, its market run's weekly rows (``market_share``,
    ``customers_active``, ``won_from_rivals``, ``lost_to_rivals``); the firm colours are
    those of every other chart.
    """
    firms = list(weekly)
    panels = []
    for column, title, fmt in (
        ("market_share", "Market share (% of both firms' customers)", ".0%"),
        ("customers_active", "Customers", ",.0f"),
        ("won_from_rivals", "Won from the rival (4-week average)", ",.1f"),
    ):
        values = []
        for firm in firms:
            series = [float(row[column]) for row in weekly[firm]]
            if column == "won_from_rivals":
                series = _rolling(series, 4)
            values += [{"week": i + 1, "firm": firm, "value": v} for i, v in enumerate(series)]
        panels.append(
            {
                "title": {"text": title, "fontSize": 12},
                "width": max(120, (width - 180) // 3),
                "height": 140,
                "data": {"values": values},
                "mark": {"type": "line", "strokeWidth": 2},
                "encoding": {
                    "x": {
                        "field": "week",
                        "type": "quantitative",
                        "scale": {"domain": x_domain(weeks, [r["week"] for r in values])},
                        "axis": {"title": "week", "tickCount": 4},
                    },
                    "y": {
                        "field": "value",
                        "type": "quantitative",
                        "scale": {"zero": True, "nice": True},
                        "axis": {"title": None, "format": fmt},
                    },
                    "color": _firm_colour(firms),
                    "tooltip": [
                        {"field": "firm", "type": "nominal"},
                        {"field": "week", "type": "quantitative"},
                        {"field": "value", "type": "quantitative", "format": fmt},
                    ],
                },
            }
        )
    return {
        "$schema": SCHEMA,
        "hconcat": panels,
        "config": {"view": {"stroke": "#ddd"}, "legend": {"orient": "bottom"}},
        "usermeta": EMBED,
    }
