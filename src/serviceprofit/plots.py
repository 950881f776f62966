"""Figures of the chain. matplotlib is imported here only, on first use, headless."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CHAIN_PANELS", "plot_chain"]

# (title, [(column, label)], y-axis label): the chain read from staff to profit.
CHAIN_PANELS: tuple[tuple[str, tuple[tuple[str, str], ...], str], ...] = (
    ("Staff", (("staff_satisfaction", "staff satisfaction"),), "satisfaction 0-1"),
    (
        "Service",
        (("fcr", "first-contact resolution"), ("handoffs_per_contact", "handoffs per contact")),
        "share",
    ),
    ("Customers' mood", (("customer_satisfaction", "customer satisfaction"),), "0-1"),
    ("Loyalty", (("nps", "NPS"),), "promoters - detractors, %"),
    ("Customers", (("customers_active", "active customers"),), "customers"),
    (
        "Money per week",
        (("revenue", "revenue"), ("cost_total", "cost"), ("profit", "profit")),
        "per week",
    ),
    ("Cumulative profit", (("cumulative_profit", "cumulative profit"),), "total"),
    ("Churn", (("churn_rate", "weekly churn rate"),), "share per week"),
)


def plot_chain(timeseries: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Draw the chain's main series over time, one panel per link, into ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(16, 7), constrained_layout=True)
    for ax, (panel, series, ylabel) in zip(axes.flat, CHAIN_PANELS, strict=True):
        for column, label in series:
            ax.plot(timeseries["week"], timeseries[column], label=label, lw=1.4)
        ax.set_title(panel)
        ax.set_xlabel("week")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
