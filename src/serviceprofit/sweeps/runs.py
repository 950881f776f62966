"""Running one batch of an experiment's runs: the only code a worker executes.

A batch is plain, picklable data (the base scenario, the backend, and for each run its
id, design point, replicate, seed and overrides), so the same function runs in this
process, in a process pool or on a Dask worker. A run that raises is reported back as
a failure with its message rather than sinking the batch: the sweep writes the runs
that worked and a later sweep retries the rest.

Seeds come from the experiment's seed and the run's index (:mod:`serviceprofit.model.seeds`),
never from which worker ran it or when, so results do not depend on where they ran.

A run's row carries what it takes to run it again alone, with the manifest's base
scenario: ``run_id``, ``seed``, ``backend`` and ``overrides`` (the dotted overrides
applied to the base, as JSON text, in the order they were applied).

With a market as the base, each run is one market run (``firms.NAME.strategy...`` and
``market...`` factors reach any firm's lever and the market itself). Its row holds the
*focal* firm's summary (the experiment's ``firm:``) under the outcome names, with its
market figures (``market_share_final``, ``won_from_rivals_total``, ...), so analysis
reads a market sweep as it reads any other; and every firm's final customers, share and
profit as ``firms.NAME.OUTCOME`` columns, so the rivals can be read alongside.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from serviceprofit.backends.batch import Job
    from serviceprofit.backends.market_run import MarketResult
    from serviceprofit.model.market import Market
    from serviceprofit.model.result import RunResult
    from serviceprofit.model.scenario import Scenario

__all__ = ["Batch", "BatchResult", "RunSpec", "run_batch"]


@dataclass(frozen=True)
class RunSpec:
    """One run: where it sits in the design, its seed, and what it changes in the base."""

    run_id: int
    point: int
    replicate: int
    seed: int
    overrides: dict[str, Any]
    labels: dict[str, Any]


@dataclass(frozen=True)
class Batch:
    """Runs sent to a worker together, so scheduling costs are paid once per batch."""

    base: Scenario | Market
    backend: str
    runs: tuple[RunSpec, ...]
    keep_timeseries: bool = False
    firm: str | None = None  # with a market base: the focal firm (see the module docstring)


@dataclass
class BatchResult:
    """Rows for the runs that finished, messages for those that failed, and timings.

    CPU times (``time.process_time`` in the worker) say how much of a worker's own work
    was the model even on a machine shared with other jobs, where wall times are not.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    series: pd.DataFrame | None = None
    failures: list[tuple[int, str]] = field(default_factory=list)
    model_seconds: float = 0.0
    seconds: float = 0.0
    model_cpu_seconds: float = 0.0
    cpu_seconds: float = 0.0


def _plain(value: Any) -> Any:
    """JSON for numpy scalars (a design's values), which ``json`` does not know."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


def overrides_text(overrides: dict[str, Any]) -> str:
    """A run's overrides as stored in its row: JSON, in the order they are applied."""
    return json.dumps(overrides, default=_plain)


def _simulate(
    jobs: list[Job], backend: str, failed: list[tuple[int, str]], ids: list[int]
) -> list[RunResult | None]:
    """The batch's runs through the one batch runner; if it raises, each run alone.

    Run alone, a run that raises is reported with its message and the others go on.
    """
    from serviceprofit.backends.batch import run_jobs

    try:
        return list(run_jobs(jobs, backend, workers=1))
    except Exception:  # find which run failed: the others still count
        pass
    results: list[RunResult | None] = []
    for run_id, job in zip(ids, jobs, strict=True):
        try:
            results.append(run_jobs([job], backend, workers=1)[0])
        except Exception as exc:  # a failed run is reported, not fatal: the sweep goes on
            failed.append((run_id, f"{type(exc).__name__}: {exc}"))
            results.append(None)
    return results


#: Every firm's figures a market sweep's row carries, as ``firms.NAME.OUTCOME``.
FIRM_COLUMNS = ("customers_final", "market_share_final", "profit_total")


def _simulate_markets(
    jobs: list[Any], backend: str, failed: list[tuple[int, str]], ids: list[int]
) -> list[MarketResult | None]:
    """The batch's market runs one at a time (each already uses every core); a run that
    raises is reported with its message and the others go on."""
    from serviceprofit.backends.batch import run_market_jobs

    results: list[MarketResult | None] = []
    for run_id, job in zip(ids, jobs, strict=True):
        try:
            results.append(run_market_jobs([job], backend, workers=1)[0])
        except Exception as exc:  # a failed run is reported, not fatal: the sweep goes on
            failed.append((run_id, f"{type(exc).__name__}: {exc}"))
            results.append(None)
    return results


def _focal(batch: Batch, run: Any) -> tuple[dict[str, Any], pd.DataFrame]:
    """A run's summary and weekly series: a market run's focal firm's, every firm's
    figures added as ``firms.NAME.OUTCOME``; a single firm's as they are."""
    if batch.firm is None:
        return run.summary, run.timeseries
    summary = dict(run.firms[batch.firm].summary)
    summary.pop("firm", None)
    for name, firm in run.firms.items():
        for column in FIRM_COLUMNS:
            summary[f"firms.{name}.{column}"] = firm.summary[column]
    return summary, run.firms[batch.firm].timeseries


def run_batch(batch: Batch) -> BatchResult:
    """Run every run of ``batch`` (one call of :func:`serviceprofit.backends.batch.run_jobs`: an
    ensemble on numba); one row per finished run (see ``store``).

    With ``keep_timeseries`` the runs' weekly series come back too, one frame with a
    ``run_id`` column, in the order of the rows. A run's ``run_seconds`` is its share of
    the batch's model time (runs in one ensemble call are not timed apart).
    """
    import pandas as pd

    from serviceprofit.backends.batch import Job

    start, start_cpu = time.perf_counter(), time.process_time()
    result = BatchResult()
    series: list[pd.DataFrame] = []
    specs: list[RunSpec] = []
    jobs: list[Any] = []
    from serviceprofit.backends.batch import MarketJob

    market = batch.firm is not None
    for spec in batch.runs:
        try:
            changed = batch.base.with_overrides(spec.overrides, source=f"run {spec.run_id}")
        except Exception as exc:  # a bad design point is reported, not fatal
            result.failures.append((spec.run_id, f"{type(exc).__name__}: {exc}"))
            continue
        specs.append(spec)
        jobs.append(MarketJob(changed, spec.seed) if market else Job(changed, spec.seed))  # type: ignore[arg-type]
    began, began_cpu = time.perf_counter(), time.process_time()
    simulate = _simulate_markets if market else _simulate
    runs = simulate(jobs, batch.backend, result.failures, [s.run_id for s in specs])
    result.model_seconds = time.perf_counter() - began
    result.model_cpu_seconds = time.process_time() - began_cpu
    result.failures.sort()
    finished = sum(run is not None for run in runs)
    for spec, run in zip(specs, runs, strict=True):
        if run is None:
            continue
        row: dict[str, Any] = {"run_id": spec.run_id, "point": spec.point}
        row["replicate"] = spec.replicate
        row["seed"] = spec.seed
        row.update(spec.labels)
        summary, timeseries = _focal(batch, run)
        row.update({k: v for k, v in summary.items() if k != "seed"})
        row["backend"] = batch.backend
        row["overrides"] = overrides_text(spec.overrides)
        row["run_seconds"] = result.model_seconds / finished
        result.rows.append(row)
        if batch.keep_timeseries:
            weekly = timeseries.reset_index(drop=True)
            weekly.insert(0, "run_id", spec.run_id)
            series.append(weekly)
    if batch.keep_timeseries and series:
        result.series = pd.concat(series, ignore_index=True)
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - start_cpu
    return result
