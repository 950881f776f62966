"""Analysis of a finished sweep: sensitivity indices, main effects, rank correlations.

The functions that compute take only aligned tables (the design's unit coordinates or
factor values, and the outcomes), as the EMA Workbench's analysis does; ``analyze(DIR)``
reads a sweep directory, picks the method its design calls for, and writes tables
(CSV) and figures (PNG) to ``DIR/analysis/``:

- ``sobol``: first-order and total Sobol indices with bootstrap confidence intervals
  (Sobol 2001; Saltelli et al. 2010; SALib's ``analyze.sobol``);
- ``morris``: mu* (mean absolute elementary effect), mu and sigma (Morris 1991;
  Campolongo et al. 2007; SALib's ``analyze.morris``), in outcome units per full range;
- ``grid``: main effects, the mean of each outcome at each level of each factor with a
  95% interval over the runs at that level;
- ``latin_hypercube``: Spearman rank correlation of each factor with each outcome.

Replicates of a design point are averaged before Sobol and Morris analysis, which is the
usual way to estimate indices of the mean response of a stochastic model.

``analyze(DIR, series=[metric, ...])`` also draws, for a sweep that kept its weekly
series, the mean and the 5-95% band across runs of each weekly metric at each level of
each factor (:func:`series_bands`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from serviceprofit.sweeps.experiment import Experiment, ExperimentError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AnalysisReport",
    "analyze",
    "main_effects",
    "morris_indices",
    "rank_correlations",
    "series_bands",
    "series_levels",
    "sobol_indices",
]

#: A factor with more distinct values than this is cut into ``SERIES_BINS`` bins of
#: equal run counts for series bands; one with fewer is shown level by level.
SERIES_MAX_LEVELS = 6
SERIES_BINS = 3
#: The band drawn around the mean of a weekly series: 5th to 95th percentile of runs.
BAND = (0.05, 0.95)


@dataclass
class AnalysisReport:
    """What ``analyze`` wrote, and the table it computed."""

    method: str
    table: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    runs: int = 0
    runs_total: int = 0
    set_aside: list[str] = field(default_factory=list)


def _problem(names: list[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}


def sobol_indices(
    names: list[str],
    outcomes: pd.DataFrame,
    *,
    second_order: bool = False,
    seed: int = 0,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """S1, ST and their confidence half-widths for each outcome column.

    ``outcomes`` holds one row per design point, in the order of the Saltelli sample.
    """
    import pandas as pd
    from SALib.analyze import sobol

    problem = _problem(names)
    rows = []
    for outcome in outcomes.columns:
        y = outcomes[outcome].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            si = sobol.analyze(
                problem, y, calc_second_order=second_order, conf_level=conf_level, seed=seed
            )
        for j, name in enumerate(names):
            rows.append(
                {
                    "outcome": outcome,
                    "factor": name,
                    "S1": si["S1"][j],
                    "S1_conf": si["S1_conf"][j],
                    "ST": si["ST"][j],
                    "ST_conf": si["ST_conf"][j],
                }
            )
    return pd.DataFrame(rows)


def morris_indices(
    names: list[str],
    unit: np.ndarray,
    outcomes: pd.DataFrame,
    *,
    levels: int = 4,
    seed: int = 0,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """mu*, its confidence half-width, mu and sigma for each outcome column.

    ``unit`` is the Morris sample in unit coordinates, so effects are per full range.
    """
    import pandas as pd
    from SALib.analyze import morris

    problem = _problem(names)
    rows = []
    for outcome in outcomes.columns:
        y = outcomes[outcome].to_numpy(dtype=float)
        si = morris.analyze(problem, unit, y, num_levels=levels, conf_level=conf_level, seed=seed)
        for j, name in enumerate(names):
            rows.append(
                {
                    "outcome": outcome,
                    "factor": name,
                    "mu_star": si["mu_star"][j],
                    "mu_star_conf": si["mu_star_conf"][j],
                    "mu": si["mu"][j],
                    "sigma": si["sigma"][j],
                }
            )
    return pd.DataFrame(rows)


def main_effects(runs: pd.DataFrame, names: list[str], outcomes: list[str]) -> pd.DataFrame:
    """Mean of each outcome at each level of each factor, with a normal 95% interval."""
    import pandas as pd

    rows = []
    for name in names:
        for level, group in runs.groupby(name, sort=True):
            for outcome in outcomes:
                y = group[outcome].to_numpy(dtype=float)
                mean = float(y.mean())
                half = 1.96 * float(y.std(ddof=1)) / np.sqrt(len(y)) if len(y) > 1 else np.nan
                rows.append(
                    {
                        "outcome": outcome,
                        "factor": name,
                        "level": level,
                        "mean": mean,
                        "ci_low": mean - half,
                        "ci_high": mean + half,
                        "runs": len(y),
                    }
                )
    return pd.DataFrame(rows)


def rank_correlations(runs: pd.DataFrame, names: list[str], outcomes: list[str]) -> pd.DataFrame:
    """Spearman's rank correlation of every factor with every outcome."""
    import pandas as pd

    rows = []
    for name in names:
        x = runs[name].rank().to_numpy(dtype=float)
        for outcome in outcomes:
            y = runs[outcome].rank().to_numpy(dtype=float)
            rho = float(np.corrcoef(x, y)[0, 1]) if np.std(x) and np.std(y) else np.nan
            rows.append({"outcome": outcome, "factor": name, "spearman": rho})
    return pd.DataFrame(rows)


def series_levels(values: pd.Series) -> pd.Series:
    """The level of each run for series bands: the factor's value when it takes few
    values (a grid, levels), else the bin of equal run counts it falls in, labelled by
    its range (a sampled range)."""
    import pandas as pd

    if values.nunique() <= SERIES_MAX_LEVELS:
        return values.astype(str) if values.dtype == object else values
    bins = pd.qcut(values, SERIES_BINS, duplicates="drop")
    return bins.map(lambda b: f"{b.left:.3g} to {b.right:.3g}").astype(str)


def series_bands(
    series: pd.DataFrame, runs: pd.DataFrame, factor: str, metric: str
) -> pd.DataFrame:
    """Mean and 5-95% band across runs of weekly ``metric`` at each level of ``factor``.

    ``series`` is long (``run_id``, ``week``, metrics), ``runs`` one row per run with
    the factor's column. Returns factor, level, week, mean, p05, p95, runs.
    """
    levels = series_levels(runs.set_index("run_id")[factor]).rename("level")
    merged = series[["run_id", "week", metric]].join(levels, on="run_id", how="inner")
    grouped = merged.groupby(["level", "week"], sort=True, observed=True)[metric]
    table = grouped.agg(
        mean="mean",
        p05=lambda y: y.quantile(BAND[0]),
        p95=lambda y: y.quantile(BAND[1]),
        runs="count",
    ).reset_index()
    table.insert(0, "factor", factor)
    return table


# ---------------------------------------------------------------------------
# Reading a sweep directory


def _point_means(
    runs: pd.DataFrame, points: int, outcomes: list[str], out: Path, method: str
) -> pd.DataFrame:
    means = runs.groupby("point")[outcomes].mean().reindex(range(points))
    missing = int(means.isna().any(axis=1).sum())
    if missing:
        raise ExperimentError(
            str(out),
            "",
            f"{missing} of {points} design points have no finished run; a {method} analysis"
            " needs them all: run the same sweep command again to finish it",
        )
    return means


def _weekly_metrics() -> list[str]:
    from serviceprofit.model.outcomes import WEEKLY_METRICS

    return [m for m in WEEKLY_METRICS if m != "week"]


def _check_series_names(out: Path, series: Sequence[str]) -> None:
    allowed = _weekly_metrics()
    for name in series:
        if name not in allowed:
            raise ExperimentError(
                str(out), "series", f"unknown weekly metric {name!r}; allowed: {', '.join(allowed)}"
            )


_UNTOUCHED = "the sweep's results are untouched"


def _plot_series(
    out: Path, experiment: Experiment, runs: pd.DataFrame, metrics: Sequence[str]
) -> tuple[list[Path], list[str]]:
    """Write a CSV of bands per metric and a figure per metric and factor."""
    import pandas as pd

    from serviceprofit.sweeps import analysis_plots
    from serviceprofit.sweeps.store import io_errors, load_series

    series = load_series(out, columns=list(metrics))
    set_aside = list(series.attrs.get("set_aside", []))
    if series.empty:
        raise ExperimentError(str(out), "", "no weekly series of a finished run yet")
    files: list[Path] = []
    for metric in metrics:
        tables = [series_bands(series, runs, name, metric) for name in experiment.names]
        csv = out / "analysis" / f"series_{metric}.csv"
        with io_errors(f"write {csv.name}", csv.parent, _UNTOUCHED):
            pd.concat(tables, ignore_index=True).to_csv(csv, index=False)
            files.append(csv)
            for name, table in zip(experiment.names, tables, strict=True):
                figure = out / "analysis" / f"series_{metric}_{name}.png"
                analysis_plots.plot_series_bands(table, metric, figure, title=experiment.name)
                files.append(figure)
    return files, set_aside


def analyze(out: str | Path, series: Sequence[str] = ()) -> AnalysisReport:
    """Analyse the sweep in ``out`` and write tables and figures to ``out/analysis``.

    ``series`` names weekly metrics (:data:`serviceprofit.model.outcomes.WEEKLY`) to draw as
    bands by factor level; the sweep must have kept its series. Damaged batch files are
    set aside (listed in ``report.set_aside``) and the analysis uses the rest.
    """
    from serviceprofit.sweeps import analysis_plots
    from serviceprofit.sweeps.store import io_errors, load_design, load_runs, read_manifest

    out = Path(out)
    manifest = read_manifest(out)
    _check_series_names(out, series)
    try:
        experiment = Experiment.model_validate(manifest["experiment"])
    except Exception as exc:
        raise ExperimentError(str(out / "manifest.json"), "experiment", str(exc)) from None
    design = load_design(out)
    runs = load_runs(out)
    set_aside = list(runs.attrs.get("set_aside", []))
    if runs.empty:
        why = f" ({set_aside[0]})" if set_aside else ""
        raise ExperimentError(
            str(out), "", f"no finished runs{why}: run the sweep command to run them"
        )
    names, outcomes = experiment.names, experiment.outcomes
    method = experiment.design.method
    target = out / "analysis"
    with io_errors("create the analysis folder", target, _UNTOUCHED):
        target.mkdir(exist_ok=True)
    files: list[Path] = []
    if method in ("sobol", "morris"):
        means = _point_means(runs, len(design), outcomes, out, method)
        if method == "sobol":
            table = sobol_indices(
                names,
                means,
                second_order=experiment.design.second_order,  # type: ignore[union-attr]
                seed=experiment.seed,
            )
        else:
            unit = design[[f"u:{n}" for n in names]].to_numpy()
            table = morris_indices(
                names,
                unit,
                means,
                levels=experiment.design.levels,  # type: ignore[union-attr]
                seed=experiment.seed,
            )
    elif method == "grid":
        table = main_effects(runs, names, outcomes)
    else:
        table = rank_correlations(runs, names, outcomes)
    stem = {
        "sobol": "sobol_indices",
        "morris": "morris_indices",
        "grid": "main_effects",
        "latin_hypercube": "rank_correlations",
    }[method]
    csv = target / f"{stem}.csv"
    figure = target / f"{stem}.png"
    with io_errors(f"write {csv.name}", target, _UNTOUCHED):
        table.to_csv(csv, index=False)
        analysis_plots.plot(method, table, figure, title=experiment.name)
    files += [csv, figure]
    if series:
        more, series_set_aside = _plot_series(out, experiment, runs, series)
        files += more
        set_aside += series_set_aside
    total = int(manifest.get("runs_total", len(design) * experiment.replicates))
    return AnalysisReport(
        method, table, files, runs=len(runs), runs_total=total, set_aside=set_aside
    )
