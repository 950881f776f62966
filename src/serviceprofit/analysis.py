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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .experiment import Experiment, ExperimentError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AnalysisReport",
    "analyze",
    "main_effects",
    "morris_indices",
    "rank_correlations",
    "sobol_indices",
]


@dataclass
class AnalysisReport:
    """What ``analyze`` wrote, and the table it computed."""

    method: str
    table: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    runs: int = 0
    runs_total: int = 0


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


def analyze(out: str | Path) -> AnalysisReport:
    """Analyse the sweep in ``out`` and write tables and figures to ``out/analysis``."""
    from . import analysis_plots
    from .store import load_design, load_runs, read_manifest

    out = Path(out)
    manifest = read_manifest(out)
    try:
        experiment = Experiment.model_validate(manifest["experiment"])
    except Exception as exc:
        raise ExperimentError(str(out / "manifest.json"), "experiment", str(exc)) from None
    design = load_design(out)
    runs = load_runs(out)
    if runs.empty:
        raise ExperimentError(str(out), "", "no finished runs yet: run the sweep first")
    names, outcomes = experiment.names, experiment.outcomes
    method = experiment.design.method
    target = out / "analysis"
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
    table.to_csv(csv, index=False)
    files.append(csv)
    figure = target / f"{stem}.png"
    analysis_plots.plot(method, table, figure, title=experiment.name)
    files.append(figure)
    total = int(manifest.get("runs_total", len(design) * experiment.replicates))
    return AnalysisReport(method, table, files, runs=len(runs), runs_total=total)
