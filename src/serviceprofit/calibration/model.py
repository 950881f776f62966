"""The model as ABC sees it: parameter values in, the targets' statistics out.

:class:`KPIModel` is plain, picklable data (the base scenario already scaled and cut to
the targets' weeks, the keys being fitted, the statistics wanted, the seed), so the same
object runs in this process, on a local worker or on a Dask worker. Its one verb,
:meth:`KPIModel.evaluate`, takes a *batch* of parameter sets and runs them as one
numba ensemble (``simulate_many``: one compiled call, parallel over runs). pyabc judges
one particle at a time, so during the fit a batch is one particle; the posterior-
predictive runs and the scale check send whole batches.

Seeds: the run of a parameter set is seeded from the calibration seed and the exact
bits of its values (``SeedSequence``), never from where or when it ran, so a particle's
KPIs can be reproduced from the history alone. Different particles get different seeds:
common random numbers across particles would make the posterior condition on one
realisation of the model's noise and come out too narrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from serviceprofit.calibration.targets import EXTENSIVE, Statistic
from serviceprofit.model.outcomes import WEEKLY

if TYPE_CHECKING:
    import pandas as pd

    from serviceprofit.model.result import RunResult
    from serviceprofit.model.scenario import Scenario

__all__ = ["KPIModel", "calibration_base", "parameter_seed", "pyabc_name", "statistics_of"]


def pyabc_name(key: str) -> str:
    """The parameter's name inside pyabc's history (dots are not safe in its column names)."""
    return key.replace(".", "__")


def parameter_seed(seed: int, values: tuple[float, ...]) -> int:
    """A run seed from the calibration seed and the parameter values' exact bits."""
    bits = np.asarray(values, dtype=np.float64).view(np.uint64).tolist()
    sequence = np.random.SeedSequence([int(seed), *bits])
    return int(sequence.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def calibration_base(scenario: Scenario, weeks: int, scale: float) -> Scenario:
    """The scenario the calibration runs: the targets' weeks, the firm scaled by ``scale``.

    Scaling multiplies customers, staff, marketing spend and initial cash together
    (``claims.scale_firm`` plus cash), so every ratio that sets a rate stays put.
    """
    from serviceprofit.comparison.claims import scale_firm

    overrides: dict[str, Any] = {"weeks": weeks, **scale_firm(scenario, scale)}
    if scale != 1.0:
        overrides["owner.initial_cash"] = scenario.owner.initial_cash * scale
    return scenario.with_overrides(overrides, source="calibration runs")


def _finite(value: Any) -> float:
    """A statistic as a float; a missing or non-finite one never matches (infinity)."""
    if value is None:
        return math.inf
    number = float(value)
    return number if math.isfinite(number) else math.inf


def statistics_of(
    result: RunResult, statistics: tuple[Statistic, ...], scale: float
) -> dict[str, float]:
    """The targets' statistics of one run; extensive figures divided by ``scale``."""
    series: pd.DataFrame = result.timeseries
    out: dict[str, float] = {}
    for stat in statistics:
        if stat.weeks is None:
            value = _finite(result.summary.get(stat.metric))
        else:
            first, last = stat.weeks
            window = series[stat.metric].iloc[first : last + 1].to_numpy(dtype=float)
            how = WEEKLY[stat.metric].aggregate  # flows sum, levels average, stocks: the last
            value = float(
                window.sum() if how == "sum" else window[-1] if how == "last" else window.mean()
            )
            value = value if math.isfinite(value) else math.inf
        if stat.metric in EXTENSIVE and math.isfinite(value):
            value /= scale
        out[stat.key] = value
    return out


@dataclass(frozen=True)
class KPIModel:
    """One calibration's model: parameters (dotted keys) to the targets' statistics."""

    base: Scenario
    keys: tuple[str, ...]
    statistics: tuple[Statistic, ...]
    scale: float
    seed: int
    backend: str = "numba"

    def scenario_at(self, values: tuple[float, ...]) -> Scenario:
        """The base scenario with the fitted keys set to ``values`` (validated)."""
        overrides = dict(zip(self.keys, (float(v) for v in values), strict=True))
        return self.base.with_overrides(overrides, source="calibration particle")

    def run(self, values: tuple[float, ...], seed: int | None = None) -> RunResult:
        """One run at these parameter values (seeded from them unless ``seed`` is given)."""
        from serviceprofit.backends.simulate import simulate

        run_seed = parameter_seed(self.seed, values) if seed is None else seed
        return simulate(self.scenario_at(values), backend=self.backend, seed=run_seed)

    def evaluate(self, batch: list[tuple[float, ...]]) -> list[dict[str, float]]:
        """The statistics of each parameter set in ``batch``, run as one ensemble.

        ``simulate_many`` runs the batch in one compiled call, each run giving the bits
        it gives alone. A set the scenario schema refuses (a normal prior's tail beyond a
        key's range) or whose run overflows (NaN or infinity) gets infinite statistics:
        the particle is rejected, which truncates the prior to what the model accepts.
        """
        from serviceprofit.backends.simulate import simulate_many
        from serviceprofit.model.result import NonFiniteResultError
        from serviceprofit.model.scenario import ScenarioError

        rejected = {s.key: math.inf for s in self.statistics}
        out: list[dict[str, float]] = [rejected] * len(batch)
        scenarios, seeds, where = [], [], []
        for i, values in enumerate(batch):
            try:
                scenarios.append(self.scenario_at(values))
            except ScenarioError:
                continue
            seeds.append(parameter_seed(self.seed, values))
            where.append(i)
        if not scenarios:
            return out
        try:
            results = simulate_many(scenarios, seeds, backend=self.backend)
        except (NonFiniteResultError, FloatingPointError, ZeroDivisionError):
            if len(scenarios) == 1:
                return out
            # one overflowing run sank the ensemble: run them one by one to find it
            return [self.evaluate([values])[0] for values in batch]
        for i, result in zip(where, results, strict=True):
            out[i] = statistics_of(result, self.statistics, self.scale)
        return out

    def replicates(self, seeds: list[int]) -> list[dict[str, float]]:
        """The statistics of the base scenario (no fitted keys set) on each seed: one
        ensemble call."""
        from serviceprofit.backends.simulate import simulate_many

        results = simulate_many(self.base, seeds, backend=self.backend)
        return [statistics_of(r, self.statistics, self.scale) for r in results]

    def __call__(self, parameters: dict[str, float]) -> dict[str, float]:
        """pyabc's model interface: one particle's parameters to its statistics."""
        values = tuple(float(parameters[pyabc_name(k)]) for k in self.keys)
        return self.evaluate([values])[0]
