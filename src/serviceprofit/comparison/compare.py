"""Comparing strategies: replicated runs under common random numbers, and their statistics.

A strategist asks "which of these strategies is better, by how much, and how sure are
we?". :func:`compare` answers with replicated runs of every scenario:

- **Common random numbers.** Replicate ``i`` of every scenario runs on the same seed,
  ``replicate_seeds(seed, replicates)[i]``. The model's draws are keyed on
  (run, purpose, week, agent) (see :mod:`serviceprofit.model.rng`), so customer 1234 meets
  the same luck in week 50 in every scenario wherever the scenarios do not differ.
  Outcomes of one replicate are then positively correlated across scenarios, and
  the *paired* difference ``x_scenario,i - x_baseline,i`` varies far less than
  the difference of two independent runs (Law and Kelton, *Simulation Modeling and
  Analysis*, on common random numbers).
- **Intervals.** Each scenario's mean of each summary outcome gets a Student-t 95%
  interval over its replicates; each non-baseline scenario gets the mean paired
  difference from the baseline with its own Student-t 95% interval (``R - 1``
  degrees of freedom for ``R`` replicates).
- **Where it runs.** :func:`serviceprofit.backends.batch.run_jobs`: numba in this process on
  every core (ensembles where available), mesa on a process pool. Each run is a pure
  function of (scenario, backend, seed), collected in job order, so a parallel run
  equals a serial one.

Seeds: replicate ``i`` runs on :func:`serviceprofit.model.seeds.replicate_seed` ``(seed, i)``,
the scheme claims and sweeps use too, so replicate ``i`` here is replicate ``i`` there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from serviceprofit.backends.batch import Job, run_jobs
from serviceprofit.model.outcomes import MARKET_OUTCOMES, OUTCOMES
from serviceprofit.model.scenario import Scenario, ScenarioError, load_scenario
from serviceprofit.model.seeds import replicate_seeds
from serviceprofit.provenance import record

if TYPE_CHECKING:
    from serviceprofit.comparison.market import MarketComparison

__all__ = [
    "CONFIDENCE",
    "Comparison",
    "compare",
    "replicate_seeds",
    "t_interval",
]

CONFIDENCE = 0.95


ScenarioLike = Scenario | str | Path


@dataclass
class Comparison:
    """Replicated runs of several scenarios, and what they say.

    ``runs``: one row per run: ``scenario``, ``replicate`` and every summary field.
    ``table``: tidy statistics: ``scenario, outcome, statistic, value``; statistics are
    ``n, mean, sd, half_width, ci_low, ci_high`` for every scenario and, for the others,
    ``diff_mean, diff_half_width, diff_ci_low, diff_ci_high`` (paired, scenario minus
    baseline). ``weekly``: every weekly series of every run, long form, with
    ``scenario`` and ``replicate`` columns. ``sources`` holds each scenario's file, if
    it came from one.
    """

    scenarios: list[Scenario]
    baseline: str
    backend: str
    seed: int
    seeds: list[int]
    runs: pd.DataFrame
    table: pd.DataFrame
    weekly: pd.DataFrame
    sources: dict[str, Path | None] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)  # see provenance.record
    posterior: str | None = None
    """With a posterior: where it came from; replicate i ran posterior draw ``draws[i]``."""
    draws: list[int] | None = None
    seeds_per_draw: int = 0
    market: MarketComparison | None = None
    """Comparing markets: the focal firm, its rivals, shares and switching
    (:mod:`serviceprofit.comparison.market`); the scenarios are then the focal firm as it
    stands in each market, named after the market."""

    @property
    def names(self) -> list[str]:
        """Scenario names, baseline first, then in the order given."""
        return [s.name for s in self.scenarios]

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The outcomes compared: the registry's, and a market's figures when comparing markets."""
        return (*OUTCOMES, *MARKET_OUTCOMES) if self.market is not None else OUTCOMES

    @property
    def replicates(self) -> int:
        return len(self.seeds)

    def statistic(self, scenario: str, outcome: str, statistic: str) -> float:
        """One number from the tidy table, e.g. ``("merged", "fcr_mean", "diff_ci_low")``."""
        t = self.table
        hit = t[(t.scenario == scenario) & (t.outcome == outcome) & (t.statistic == statistic)]
        if hit.empty:
            raise KeyError(f"no {statistic} of {outcome} for {scenario}")
        return float(hit["value"].iloc[0])

    def wide(self) -> pd.DataFrame:
        """The table with one row per (scenario, outcome) and one column per statistic."""
        out = self.table.pivot_table(
            index=["scenario", "outcome"], columns="statistic", values="value", sort=False
        )
        out.columns.name = None
        return out.reset_index()

    def differences_exclude_zero(self, scenario: str, outcome: str) -> bool:
        """Whether the 95% interval of the paired difference from baseline excludes zero."""
        low = self.statistic(scenario, outcome, "diff_ci_low")
        high = self.statistic(scenario, outcome, "diff_ci_high")
        return low > 0.0 or high < 0.0


def t_interval(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """Mean, sample sd and Student-t half-width of the 95% interval of the mean.

    With fewer than two values the half-width is NaN: one run says nothing about spread.
    The quantile is ``scipy.special.stdtrit`` (what ``scipy.stats.t.ppf`` computes), which
    loads in a fraction of the time ``scipy.stats`` takes: a comparison pays it on every
    command.
    """
    from scipy.special import stdtrit

    x = np.asarray(values, dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan
    sd = float(x.std(ddof=1))
    half = float(stdtrit(n - 1, 0.5 + CONFIDENCE / 2) * sd / math.sqrt(n))
    return mean, sd, half


def _load(item: ScenarioLike, overrides: dict[str, Any]) -> tuple[Scenario, Path | None]:
    if isinstance(item, Scenario):
        return (item.with_overrides(overrides) if overrides else item), None
    return load_scenario(item, overrides or None), Path(item)


def _same_file(a: Path | None, b: Path | None) -> bool:
    return a is not None and b is not None and a.resolve() == b.resolve()


def _resolve(
    scenarios: Sequence[ScenarioLike], baseline: ScenarioLike | None, overrides: dict[str, Any]
) -> tuple[list[Scenario], dict[str, Path | None]]:
    """Load the scenarios, put the baseline first, and check that names are distinct."""
    if not scenarios:
        raise ScenarioError("", "scenarios", "give at least one scenario to compare")
    return resolve_compared(
        scenarios,
        baseline,
        lambda item: _load(item, overrides),
        Scenario,
        "scenario",
        lambda item: Path(item).exists(),
    )


def resolve_compared(
    items: Sequence[Any],
    baseline: Any,
    load: Callable[[Any], tuple[Any, Path | None]],
    kind: type,
    noun: str,
    loadable: Callable[[Any], bool],
) -> tuple[list[Any], dict[str, Path | None]]:
    """Load what is compared (scenarios or markets: ``kind``, named ``noun``), put the
    baseline first (one of them by name, object or file, or loaded besides), and check
    that names are distinct: one rule for both, each name in its own words."""
    loaded = [load(item) for item in items]
    if baseline is not None:
        index = next(
            (
                i
                for i, (x, src) in enumerate(loaded)
                if (isinstance(baseline, kind) and x.name == baseline.name)
                or (isinstance(baseline, str) and x.name == baseline)
                or (not isinstance(baseline, kind) and _same_file(src, Path(baseline)))
            ),
            None,
        )
        if index is None:
            if isinstance(baseline, str | Path) and not loadable(baseline):
                names = ", ".join(x.name for x, _ in loaded)
                raise ScenarioError(
                    "--baseline",
                    str(baseline),
                    f"neither a {noun} file nor one of the compared {noun}s ({names})",
                )
            loaded.insert(0, load(baseline))
        else:
            loaded.insert(0, loaded.pop(index))
    seen: dict[str, Path | None] = {}
    for x, src in loaded:
        if x.name in seen:
            raise ScenarioError(
                str(src or seen[x.name] or ""),
                "name",
                f"two compared {noun}s are both named {x.name!r}; each needs its own name",
            )
        seen[x.name] = src
    if len(loaded) < 2:
        raise ScenarioError(
            str(loaded[0][1] or ""), "scenarios", f"give at least two {noun}s to compare"
        )
    return [x for x, _ in loaded], seen


def _statistics(
    runs: pd.DataFrame, names: list[str], baseline: str, outcomes: Sequence[str] = OUTCOMES
) -> pd.DataFrame:
    """The tidy table: each scenario's mean and interval; paired differences from baseline.

    A summary field a run could not measure (``None``: see
    :func:`serviceprofit.model.result.summarise`) is left out: ``n`` counts the runs that have
    it and a difference uses the pairs where both runs have it; with none the mean is
    NaN, which the report shows as "n/a".
    """
    rows: list[tuple[str, str, str, float]] = []
    base = runs[runs.scenario == baseline].set_index("replicate")
    for name in names:
        own = runs[runs.scenario == name].set_index("replicate")
        for outcome in outcomes:
            values = own[outcome].astype(float).dropna().to_numpy()
            mean, sd, half = t_interval(values)
            rows += [
                (name, outcome, "n", float(len(values))),
                (name, outcome, "mean", mean),
                (name, outcome, "sd", sd),
                (name, outcome, "half_width", half),
                (name, outcome, "ci_low", mean - half),
                (name, outcome, "ci_high", mean + half),
            ]
            if name == baseline:
                continue
            paired = (own[outcome].astype(float) - base[outcome].astype(float)).dropna()
            d_mean, _, d_half = t_interval(paired.to_numpy())
            rows += [
                (name, outcome, "diff_mean", d_mean),
                (name, outcome, "diff_half_width", d_half),
                (name, outcome, "diff_ci_low", d_mean - d_half),
                (name, outcome, "diff_ci_high", d_mean + d_half),
            ]
    return pd.DataFrame(rows, columns=["scenario", "outcome", "statistic", "value"])


def compare(
    scenarios: Sequence[ScenarioLike],
    replicates: int = 10,
    backend: str = "auto",
    seed: int = 0,
    baseline: ScenarioLike | None = None,
    overrides: dict[str, Any] | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    posterior: str | Path | None = None,
    seeds_per_draw: int = 2,
    firm: str | None = None,
) -> Comparison:
    """Run every scenario ``replicates`` times under common random numbers and compare.

    ``scenarios`` are :class:`Scenario` objects or YAML paths; ``overrides`` (dotted
    keys) apply to every one of them. ``baseline`` names the scenario the others are
    compared with (a name, a path, or a Scenario; a file not among ``scenarios`` is
    added); by default the first. On mesa, ``workers`` processes run the replicates
    (default: every core this process may use; 1 runs them here, serially, with
    identical results); numba runs here on every core (:mod:`serviceprofit.backends.batch`).
    ``progress(done, total)`` is called as runs finish. ``backend``
    ``auto`` is numba (:data:`serviceprofit.backends.BACKEND_RULE`).

    ``posterior`` (a calibration directory or its ``posterior.parquet``): replicate i
    of every scenario also runs with one parameter set drawn from the posterior
    (consecutive ``seeds_per_draw`` replicates share a draw), so intervals include what
    the calibration left open, and the table adds the split of the spread into
    simulation noise and parameter uncertainty and the posterior probability that each
    scenario beats the baseline (:mod:`serviceprofit.calibration.uncertainty`).

    Market files (or :class:`~serviceprofit.model.market.Market` objects), every one of
    them, are compared through their focal ``firm``
    (:func:`serviceprofit.comparison.market.compare_markets`); ``firm`` on scenarios, a
    mix of markets and scenarios, or markets without ``firm`` raise ScenarioError.
    """
    from serviceprofit.backends import BACKENDS, resolve_backend
    from serviceprofit.comparison.market import compare_markets, market_inputs

    backend = resolve_backend(backend)
    if backend not in BACKENDS:
        raise ScenarioError(
            "--backend", backend, f"unknown backend; allowed: auto, {', '.join(sorted(BACKENDS))}"
        )
    if replicates < 2:
        raise ScenarioError(
            "--replicates", str(replicates), "need at least 2 replicates for an interval"
        )
    if market_inputs(scenarios):
        if posterior is not None:
            raise ScenarioError(
                "--posterior", str(posterior), "applies to single-firm scenarios, not markets"
            )
        return compare_markets(
            scenarios, firm, replicates, backend, seed, baseline, overrides, workers, progress
        )
    if firm is not None:
        raise ScenarioError(
            "--firm", firm, "chooses the focal firm of market files; these are scenarios"
        )
    overrides = dict(overrides or {})
    loaded, sources = _resolve(scenarios, baseline, overrides)
    seeds = replicate_seeds(seed, replicates)
    draws: list[int] | None = None
    if posterior is None:
        made = record(
            scenarios=loaded, backend=backend, seeds=seeds, overrides=overrides, seed=seed
        )
        jobs = [Job(s, rs) for s in loaded for rs in seeds]
    else:
        draws, sets = _posterior_sets(posterior, loaded, replicates, seed, seeds_per_draw)
        made = record(
            scenarios=loaded,
            backend=backend,
            seeds=seeds,
            overrides=overrides,
            seed=seed,
            posterior=str(posterior),
            posterior_draws=draws,
            posterior_parameters=sets,
        )
        jobs = [
            Job(s.with_overrides(sets[i], source=f"posterior draw {draws[i]}"), rs)
            for s in loaded
            for i, rs in enumerate(seeds)
        ]
    results = run_jobs(jobs, backend, workers=workers, progress=progress)

    summaries, weekly = [], []
    for i, (job, result) in enumerate(zip(jobs, results, strict=True)):
        replicate, name = i % replicates, job.scenario.name
        summaries.append({"replicate": replicate, **result.summary, "scenario": name})
        weekly.append(result.timeseries.assign(scenario=name, replicate=replicate))
    runs = pd.DataFrame(summaries)
    runs = runs[
        ["scenario", "replicate", *[c for c in runs.columns if c not in ("scenario", "replicate")]]
    ]
    runs.insert(0, "run_id", range(len(runs)))  # the id `serviceprofit rerun` takes
    weekly_frame = pd.concat(weekly, ignore_index=True)
    front = ["scenario", "replicate", "week"]
    weekly_frame = weekly_frame[[*front, *[c for c in weekly_frame.columns if c not in front]]]
    names = [s.name for s in loaded]
    table = _statistics(runs, names, names[0])
    if draws is not None:
        from serviceprofit.calibration.uncertainty import decompose
        from serviceprofit.model.outcomes import SUMMARY

        runs.insert(2, "draw", [draws[r] for r in runs["replicate"]])
        better = {name: SUMMARY[name].direction for name in OUTCOMES}
        split = decompose(runs, names, names[0], OUTCOMES, better)
        table = pd.concat([table, split], ignore_index=True)
    return Comparison(
        scenarios=loaded,
        baseline=names[0],
        backend=backend,
        seed=seed,
        seeds=seeds,
        runs=runs,
        table=table,
        weekly=weekly_frame,
        sources=sources,
        overrides=overrides,
        provenance=made,
        posterior=None if posterior is None else str(posterior),
        draws=draws,
        seeds_per_draw=seeds_per_draw if draws is not None else 0,
    )


def _posterior_sets(
    posterior: str | Path,
    scenarios: list[Scenario],
    replicates: int,
    seed: int,
    seeds_per_draw: int,
) -> tuple[list[int], list[dict[str, float]]]:
    """Each replicate's posterior draw, checked against every scenario before any run."""
    from serviceprofit.calibration.fit import load_posterior
    from serviceprofit.calibration.uncertainty import draw_parameters

    if seeds_per_draw < 1:
        raise ScenarioError("--seeds-per-draw", str(seeds_per_draw), "must be at least 1")
    if replicates < 2 * seeds_per_draw:
        raise ScenarioError(
            "--replicates",
            str(replicates),
            f"with --posterior, give at least two draws: {2 * seeds_per_draw} replicates or "
            f"more at {seeds_per_draw} seeds per draw",
        )
    sample = load_posterior(posterior)
    draws, sets = draw_parameters(sample, replicates, seed, seeds_per_draw)
    for scenario in scenarios:
        scenario.with_overrides(sets[0], source=f"{posterior} (posterior) on {scenario.name}")
    return draws, sets
