"""Figures of a comparison, as PNG bytes ready to embed in a report.

Every time-series panel draws, per scenario, the mean over replicates as a line and
the range of the replicates (lowest to highest) as a shaded band: the band shows how
far luck alone moves a run, the line where the scenario sits on average. Weekly rates
that jump from week to week (churn, quits) are smoothed with a trailing window, and
the caption says so. matplotlib is imported here only, on first use, headless.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import pandas as pd

from serviceprofit.model.outcomes import OUTCOMES, SUMMARY, WEEKLY
from serviceprofit.model.outcomes import outcome as declared

if TYPE_CHECKING:
    from serviceprofit.comparison.compare import Comparison
    from serviceprofit.comparison.crossing import Crossing
    from serviceprofit.comparison.market import MarketComparison

__all__ = [
    "CHAIN_SERIES",
    "currency",
    "figure_chain",
    "figure_churn_satisfaction",
    "figure_cumulative_profit",
    "figure_differences",
    "figure_market_flows",
    "figure_market_shares",
    "figure_staff",
    "firm_colours",
    "outcome_scale",
    "outcome_unit",
    "scenario_colours",
]


def outcome_unit(outcome: str, currency: str) -> str:
    """The unit people read ``outcome`` in, with ``money`` as the scenario's currency."""
    return declared(outcome).unit_in(currency)


def outcome_scale(outcome: str) -> float:
    """The factor from the model's value of ``outcome`` to the value people read."""
    return declared(outcome).scale


# The chain read from staff to profit: (column, panel title); each panel's axis reads
# the metric's unit and scale from the registry (:data:`serviceprofit.model.outcomes.WEEKLY`).
CHAIN_SERIES: tuple[tuple[str, str], ...] = (
    ("staff_satisfaction", "Staff satisfaction"),
    ("fcr", "First-contact resolution"),
    ("customer_satisfaction", "Customer satisfaction"),
    ("nps", "NPS"),
    ("customers_active", "Active customers"),
    ("profit", "Profit per week"),
)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scenario_colours(names: list[str]) -> dict[str, str]:
    """One colour per scenario, the same in every figure (the baseline gets grey-blue)."""
    palette = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    _pyplot().close(fig)
    return buffer.getvalue()


def _per_replicate(weekly: pd.DataFrame, column: str, scenario: str) -> pd.DataFrame:
    """One column per replicate, one row per week."""
    rows = weekly[weekly.scenario == scenario]
    return rows.pivot(index="week", columns="replicate", values=column)


def _band(ax: Any, table: pd.DataFrame, colour: str, label: str) -> None:
    weeks = table.index.to_numpy()
    ax.fill_between(weeks, table.min(axis=1), table.max(axis=1), color=colour, alpha=0.2, lw=0)
    ax.plot(weeks, table.mean(axis=1), color=colour, lw=1.6, label=label)


def _panel(ax: Any, title: str, ylabel: str) -> None:
    from matplotlib.ticker import StrMethodFormatter

    ax.set_title(title, fontsize=11)
    ax.set_xlabel("week")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if max(abs(v) for v in ax.get_ylim()) >= 10_000:
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def currency(comparison: Comparison) -> str:
    """The currency money is stated in: the baseline's (every scenario's, or "money")."""
    names = {s.economics.currency for s in comparison.scenarios}
    return names.pop() if len(names) == 1 else "money"


def _series_panels(
    comparison: Comparison,
    panels: list[tuple[str, str, str, Any]],
    columns: int,
) -> bytes:
    """Panels of (column, title, ylabel, transform) with bands, one line per scenario."""
    money = currency(comparison)
    plt = _pyplot()
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.6 * columns, 3.3 * rows), squeeze=False, constrained_layout=True
    )
    colours = scenario_colours(comparison.names)
    for ax, (column, title, ylabel, transform) in zip(axes.flat, panels, strict=False):
        for name in comparison.names:
            table = _per_replicate(comparison.weekly, column, name)
            if transform is not None:
                table = transform(table, name)
            _band(ax, table, colours[name], name)
        _panel(ax, title, ylabel.replace("money", money))
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=8, loc="best")
    return _png(fig)


def figure_chain(comparison: Comparison) -> bytes:
    """The chain's main series over time, staff to profit."""
    money = currency(comparison)
    panels = [
        (
            column,
            title,
            WEEKLY[column].unit_in(money),
            None if WEEKLY[column].scale == 1.0 else _rolling(1, WEEKLY[column].scale),
        )
        for column, title in CHAIN_SERIES
    ]
    return _series_panels(comparison, panels, columns=3)


def _rolling(window: int, scale: float = 1.0) -> Any:
    def transform(table: pd.DataFrame, _name: str) -> pd.DataFrame:
        return table.rolling(window, min_periods=1).mean() * scale

    return transform


def figure_churn_satisfaction(comparison: Comparison) -> bytes:
    """Weekly churn (4-week trailing mean), customer satisfaction and complaints."""
    panels = [
        ("churn_rate", "Churn (4-week trailing mean)", "% of customers per week", _rolling(4, 100)),
        ("customer_satisfaction", "Customer satisfaction", "0-100", _rolling(1, 100)),
        ("complaints", "Complaints (4-week trailing mean)", "per week", _rolling(4)),
    ]
    return _series_panels(comparison, panels, columns=3)


def _turnover(table: pd.DataFrame, name: str, staff: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Annualised staff turnover over a trailing 13 weeks: quits / mean headcount * 4.

    Drawn from week 13 on: over fewer weeks one quit would read as a huge annual rate.
    """
    quits = table.rolling(13, min_periods=13).sum()
    heads = staff[name].rolling(13, min_periods=13).mean()
    return quits.div(heads) * 4 * 100


def figure_staff(comparison: Comparison) -> bytes:
    """Staff turnover (annualised, trailing 13 weeks), headcount and time per contact."""
    staff = {n: _per_replicate(comparison.weekly, "staff_active", n) for n in comparison.names}
    panels = [
        (
            "staff_quits",
            "Staff turnover (trailing 13 weeks)",
            "% of staff per year",
            lambda table, name: _turnover(table, name, staff),
        ),
        ("staff_active", "Staff in post", "staff", None),
        ("time_per_contact", "Time taken per contact", "hours", None),
    ]
    return _series_panels(comparison, panels, columns=3)


def figure_cumulative_profit(comparison: Comparison, crossing: Crossing | None) -> bytes:
    """Cumulative profit with bands; marks week 13 and the week the leaders cross."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.6), constrained_layout=True)
    colours = scenario_colours(comparison.names)
    for name in comparison.names:
        _band(ax, _per_replicate(comparison.weekly, "cumulative_profit", name), colours[name], name)
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(13, color="grey", lw=0.8, ls=":")
    ax.annotate(" week 13", (13, 0.02), xycoords=("data", "axes fraction"), fontsize=8)
    if crossing is not None and crossing.week is not None:
        ax.axvline(crossing.week, color="black", lw=1.0, ls="--")
        ax.annotate(
            f" {crossing.long_term} overtakes {crossing.short_term} (week {crossing.week})",
            (crossing.week, 0.93),
            xycoords=("data", "axes fraction"),
            fontsize=9,
        )
    _panel(ax, "Cumulative profit", currency(comparison))
    ax.legend(
        fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(comparison.names)
    )
    return _png(fig)


def figure_differences(comparison: Comparison) -> bytes | None:
    """Paired differences from the baseline with 95% intervals, as % of the baseline mean.

    Outcomes whose baseline mean is zero or that cross zero (NPS) are left out: a
    percentage of them means nothing. ``None`` when nothing is left to draw.
    """
    plt = _pyplot()
    wide = comparison.wide().set_index(["scenario", "outcome"])
    others = [n for n in comparison.names if n != comparison.baseline]
    outcomes = [
        o
        for o in OUTCOMES
        if o != "nps_final" and abs(wide.loc[(comparison.baseline, o), "mean"]) > 1e-12
    ]
    if not others or not outcomes:
        return None
    colours = scenario_colours(comparison.names)
    fig, ax = plt.subplots(figsize=(10, 0.3 * len(outcomes) + 1.2), constrained_layout=True)
    step = 0.8 / len(others)
    for k, name in enumerate(others):
        for j, outcome in enumerate(outcomes):
            base = abs(wide.loc[(comparison.baseline, outcome), "mean"])
            row = wide.loc[(name, outcome)]
            y = j + (k - (len(others) - 1) / 2) * step
            low, mid, high = (
                100 * row[s] / base for s in ("diff_ci_low", "diff_mean", "diff_ci_high")
            )
            clear = low > 0 or high < 0
            ax.plot([low, high], [y, y], color=colours[name], lw=2)
            ax.plot(
                [mid],
                [y],
                "o",
                color=colours[name],
                mfc=colours[name] if clear else "white",
                label=name if j == 0 else None,
            )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(range(len(outcomes)), [SUMMARY[o].label for o in outcomes])
    ax.invert_yaxis()
    ax.set_xlabel(f"difference from {comparison.baseline}, % of its mean (95% interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    return _png(fig)


def firm_colours(names: list[str]) -> dict[str, str]:
    """One colour per firm of the compared markets, the same in every market's panel."""
    palette = ["#1b7837", "#b2182b", "#2166ac", "#e08214", "#762a83", "#8c510a", "#4d4d4d"]
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def _market(comparison: Comparison) -> MarketComparison:
    if comparison.market is None:
        raise ValueError("a market figure needs a market comparison (compare --firm)")
    return comparison.market


def _market_firms(comparison: Comparison) -> list[str]:
    """Every firm of the compared markets, the focal firm first, then in file order."""
    market = _market(comparison)
    names = [market.firm]
    for m in market.markets:
        names += [f for f in m.firms if f not in names]
    return names


def figure_market_shares(comparison: Comparison) -> bytes:
    """Each firm's market share over time, one panel per compared market (mean over
    replicates, band: their range); the focal firm drawn thicker."""
    market = _market(comparison)
    plt = _pyplot()
    colours = firm_colours(_market_firms(comparison))
    n = len(comparison.names)
    columns = min(n, 3)
    rows = -(-n // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.8 * columns, 3.4 * rows), squeeze=False,
        constrained_layout=True, sharey=True,
    )  # fmt: skip
    for k, name in enumerate(comparison.names):
        ax = axes[k // columns][k % columns]
        own = market.weekly[market.weekly.scenario == name]
        for firm in dict.fromkeys(own["firm"]):
            table = own[own.firm == firm].pivot(
                index="week", columns="replicate", values="market_share"
            )
            weeks = table.index.to_numpy()
            ax.fill_between(
                weeks, 100 * table.min(axis=1), 100 * table.max(axis=1),
                color=colours[firm], alpha=0.15, lw=0,
            )  # fmt: skip
            ax.plot(
                weeks, 100 * table.mean(axis=1), color=colours[firm],
                lw=2.6 if firm == market.firm else 1.4, label=firm,
            )  # fmt: skip
        _panel(ax, name, "market share (%)")
        ax.legend(fontsize=8, loc="best")
    for k in range(n, rows * columns):
        axes[k // columns][k % columns].set_visible(False)
    return _png(fig)


def figure_market_flows(comparison: Comparison) -> bytes:
    """The focal firm's customers won and lost per year, by where they came from and went
    (mean over replicates), one group of bars per compared market and year."""
    market = _market(comparison)
    plt = _pyplot()
    parts = (
        ("won_from_prospects", "won from prospects", "#a6d96a", 1),
        ("won_from_rivals", "won from rivals", "#1a9641", 1),
        ("lost_to_rivals", "lost to rivals", "#d7191c", -1),
        ("lost_to_outside", "left the category", "#fdae61", -1),
    )
    focal = market.weekly[market.weekly.firm == market.firm].copy()
    focal["year"] = (focal["week"] - focal["week"].min()) // 52 + 1  # as switching_table
    per_year = focal.groupby(["scenario", "replicate", "year"])[[p[0] for p in parts]].sum()
    mean = per_year.groupby(["scenario", "year"]).mean()
    labels, groups, x = [], [], 0.0
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(mean) + 2), 3.8), constrained_layout=True)
    for name in comparison.names:
        start = x
        for year in mean.loc[name].index:
            row = mean.loc[(name, year)]
            up = down = 0.0
            for column, label, colour, sign in parts:
                value = float(row[column])
                bottom = up if sign > 0 else down
                ax.bar(x, sign * value, bottom=bottom, color=colour, width=0.7,
                       label=label if not labels else None)  # fmt: skip
                if sign > 0:
                    up += value
                else:
                    down -= value
            labels.append((x, str(year)))
            x += 1.0
        groups.append(((start + x - 1.0) / 2, name))
        x += 0.8
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks([p for p, _ in labels], [t for _, t in labels], fontsize=8)
    ax.set_xlabel("year of the run")
    for centre, name in groups:  # each market's name over its years
        ax.text(centre, 1.01, name, transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=9)  # fmt: skip
    ax.set_ylabel(f"{market.firm}'s customers per year")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4)
    return _png(fig)
