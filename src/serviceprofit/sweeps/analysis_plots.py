"""Figures of a sweep's analysis, one panel per outcome. matplotlib loads on first use."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["plot", "plot_series_bands"]


def _short(name: str) -> str:
    """``strategy.process.empowerment`` -> ``process.empowerment``: labels that fit."""
    parts = str(name).split(".")
    return ".".join(parts[-2:]) if len(parts) > 2 else str(name)


def _panels(count: int, columns: int = 3) -> tuple[Any, Any, list[Any]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(columns, count)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[count:]:
        ax.set_visible(False)
    return plt, fig, flat[:count]


def _sobol(table: pd.DataFrame, axes: list[Any]) -> None:
    import numpy as np

    for ax, (outcome, part) in zip(axes, table.groupby("outcome", sort=False), strict=True):
        y = np.arange(len(part))
        ax.barh(y - 0.2, part["S1"], 0.4, xerr=part["S1_conf"], label="first order S1")
        ax.barh(y + 0.2, part["ST"], 0.4, xerr=part["ST_conf"], label="total ST")
        ax.set_yticks(y, [_short(f) for f in part["factor"]])
        ax.invert_yaxis()
        ax.axvline(0.0, color="grey", lw=0.5)
        ax.set_title(outcome)
        ax.set_xlabel("Sobol index (95% interval)")
    axes[0].legend(loc="lower right", fontsize="small")


def _morris(table: pd.DataFrame, axes: list[Any]) -> None:
    for ax, (outcome, part) in zip(axes, table.groupby("outcome", sort=False), strict=True):
        ax.scatter(part["mu_star"], part["sigma"])
        for _, row in part.iterrows():
            ax.annotate(_short(row["factor"]), (row["mu_star"], row["sigma"]), fontsize="small")
        ax.set_title(outcome)
        ax.set_xlabel("mu* (mean |elementary effect|)")
        ax.set_ylabel("sigma")


def _main_effects(table: pd.DataFrame, plt: Any) -> Any:
    outcomes = list(dict.fromkeys(table["outcome"]))
    factors = list(dict.fromkeys(table["factor"]))
    fig, axes = plt.subplots(
        len(outcomes),
        len(factors),
        figsize=(3.6 * len(factors), 2.6 * len(outcomes)),
        squeeze=False,
        sharey="row",
    )
    for i, outcome in enumerate(outcomes):
        for j, factor in enumerate(factors):
            ax = axes[i, j]
            part = table[(table["outcome"] == outcome) & (table["factor"] == factor)]
            x = range(len(part))
            err = [part["mean"] - part["ci_low"], part["ci_high"] - part["mean"]]
            ax.errorbar(x, part["mean"], yerr=err, marker="o", capsize=3)
            ax.set_xticks(list(x), [str(v) for v in part["level"]], fontsize="small")
            if i == len(outcomes) - 1:
                ax.set_xlabel(_short(factor))
            if j == 0:
                ax.set_ylabel(outcome, fontsize="small")
    return fig


def _correlations(table: pd.DataFrame, axes: list[Any]) -> None:
    for ax, (outcome, part) in zip(axes, table.groupby("outcome", sort=False), strict=True):
        ax.barh([_short(f) for f in part["factor"]], part["spearman"])
        ax.invert_yaxis()
        ax.set_xlim(-1, 1)
        ax.axvline(0.0, color="grey", lw=0.5)
        ax.set_title(outcome)
        ax.set_xlabel("Spearman rank correlation")


def plot(method: str, table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Draw the analysis ``table`` of a ``method`` design into ``path``."""
    path = Path(path)
    count = table["outcome"].nunique()
    if method == "grid":
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig = _main_effects(table, plt)
    else:
        plt, fig, axes = _panels(count)
        {"sobol": _sobol, "morris": _morris, "latin_hypercube": _correlations}[method](table, axes)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_series_bands(table: pd.DataFrame, metric: str, path: str | Path, title: str = "") -> Path:
    """One factor's bands (``analysis.series_bands``): a mean line and a shaded 5-95%
    band across runs per level, over the weeks of the run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    factor = str(table["factor"].iloc[0]) if len(table) else ""
    for level, part in table.groupby("level", sort=True, observed=True):
        runs = int(part["runs"].max())
        (line,) = ax.plot(part["week"], part["mean"], label=f"{level} ({runs} runs)")
        ax.fill_between(part["week"], part["p05"], part["p95"], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("week")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by {_short(factor)}: mean and 5-95% of runs", fontsize="medium")
    ax.legend(title=_short(factor), fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
