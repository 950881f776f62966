"""Figures of the chain. matplotlib is imported here only, on first use, headless."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CHAIN_PANELS", "plot_chain"]

# (title, [(column, label)], y-axis label, scale): the chain read from staff to profit,
# in the units the demo shows (satisfaction 0-100, shares in percent); "money" in a
# label becomes the scenario's currency.
CHAIN_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...], str, float], ...] = (
    ("Staff", (("staff_satisfaction", "staff satisfaction"),), "satisfaction 0-100", 100.0),
    ("Service", (("fcr", "first-contact resolution"),), "% of first contacts", 100.0),
    ("Customers' mood", (("customer_satisfaction", "customer satisfaction"),), "0-100", 100.0),
    ("Loyalty", (("nps", "NPS"),), "promoters - detractors, %", 1.0),
    ("Customers", (("customers_active", "active customers"),), "customers", 1.0),
    (
        "Money per week",
        (("revenue", "revenue"), ("cost_total", "cost"), ("profit", "profit")),
        "money per week",
        1.0,
    ),
    ("Cumulative profit", (("cumulative_profit", "cumulative profit"),), "money", 1.0),
    ("Churn", (("churn_rate", "weekly churn rate"),), "% per week", 100.0),
)


def plot_chain(
    timeseries: pd.DataFrame, path: str | Path, title: str = "", currency: str = "EUR"
) -> Path:
    """Draw the chain's main series over time, one panel per link, into ``path``; money
    is labelled with ``currency`` (the scenario's ``economics.currency``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(16, 7), constrained_layout=True)
    for ax, (panel, series, ylabel, scale) in zip(axes.flat, CHAIN_PANELS, strict=True):
        for column, label in series:
            ax.plot(timeseries["week"], timeseries[column] * scale, label=label, lw=1.4)
        ax.set_title(panel)
        ax.set_xlabel("week")
        ax.set_ylabel(ylabel.replace("money", currency))
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
