"""Designs: the points of an experiment, first in the unit hypercube, then as values.

Every design is drawn in [0, 1]^k and mapped to factor values by each factor's own
transform (a range's ends, a level's slot, a distribution's quantile function). Keeping
the unit coordinates lets analysis hand SALib exactly what it sampled, whatever the
factors' units; storing them with the results (``design.parquet``) means a resumed
sweep or a later analysis never depends on a sampler giving the same numbers twice.

Sobol points follow Saltelli's scheme (Saltelli 2002; Saltelli et al. 2010) and Morris
trajectories Morris (1991), both from SALib; the Latin hypercube is SALib's as well.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

from serviceprofit.sweeps.experiment import Distribution, Levels, Range

if TYPE_CHECKING:
    import pandas as pd

    from serviceprofit.sweeps.experiment import Experiment

__all__ = ["column_values", "factor_columns", "salib_problem", "unit_design", "values_at"]


def salib_problem(experiment: Experiment) -> dict[str, Any]:
    """SALib's problem: the factors on the unit interval (values come from the transforms)."""
    k = len(experiment.factors)
    return {"num_vars": k, "names": experiment.names, "bounds": [[0.0, 1.0]] * k}


def _grid_axis(factor: Range | Levels | Distribution) -> np.ndarray:
    if isinstance(factor, Levels):
        k = len(factor.levels)
        return (np.arange(k) + 0.5) / k
    if isinstance(factor, Range) and factor.points is not None:
        return np.linspace(0.0, 1.0, factor.points)
    raise ValueError("a grid axis needs levels or a range with points")


def unit_design(experiment: Experiment) -> np.ndarray:
    """The design's points in [0, 1]^k, one row per point, in a fixed order."""
    design = experiment.design
    problem = salib_problem(experiment)
    seed = experiment.seed
    if design.method == "grid":
        axes = [_grid_axis(f) for f in experiment.factors.values()]
        return np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, len(axes))
    if design.method == "latin_hypercube":
        from SALib.sample import latin

        return latin.sample(problem, design.samples, seed=seed)
    if design.method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(
            problem, design.samples, calc_second_order=design.second_order, seed=seed
        )
    from SALib.sample import morris

    return morris.sample(problem, design.trajectories, num_levels=design.levels, seed=seed)


def values_at(experiment: Experiment, unit: np.ndarray) -> dict[str, list[Any]]:
    """Factor values for rows of unit coordinates, as plain Python values per factor."""
    out: dict[str, list[Any]] = {}
    for j, (name, factor) in enumerate(experiment.factors.items()):
        values = factor.values(unit[:, j])
        out[name] = [v.item() if hasattr(v, "item") else v for v in values]
    return out


def column_values(factor: Range | Levels | Distribution, values: list[Any]) -> list[Any]:
    """A Parquet-friendly column: one type per column; mappings and mixed levels as JSON."""
    import json

    if not isinstance(factor, Levels):
        return values
    kinds = {type(v) for v in factor.levels}
    if kinds <= {int, float} and kinds != {bool}:
        return [float(v) for v in values] if float in kinds else values
    if len(kinds) == 1 and kinds <= {str, bool}:
        return values
    return [json.dumps(v, sort_keys=True) for v in values]


def factor_columns(experiment: Experiment, unit: np.ndarray) -> pd.DataFrame:
    """The design as a table: ``point``, one column per factor (its value) and its ``u:`` twin."""
    import pandas as pd

    values = values_at(experiment, unit)
    table: dict[str, Any] = {"point": np.arange(len(unit), dtype=np.int64)}
    for name, factor in experiment.factors.items():
        table[name] = column_values(factor, values[name])
    for j, name in enumerate(experiment.names):
        table[f"u:{name}"] = unit[:, j]
    return pd.DataFrame(table)
