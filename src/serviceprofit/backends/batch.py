"""One batch runner: a list of (scenario, seed) jobs in, their results out, in job order.

``compare``, ``claims``, a sweep's worker (:func:`serviceprofit.sweeps.runs.run_batch`) and
``bench`` all run their batches here, so where and how runs are executed is decided once:

- **numba** runs here, in this process: the compiled kernel already uses every core
  (``prange`` over customer chunks), so a process pool would only add its start-up and
  a numba load in every worker (seconds of fixed cost for a comparison that computes
  for a few). Jobs are grouped and each group goes to one ensemble call
  (:func:`serviceprofit.backends.simulate.simulate_many`), parallel over runs; each run in an
  ensemble is bitwise the run alone.
- **mesa** runs one job per task on a process pool (``spawn`` context, chosen per pool:
  the global start method is never touched), or serially with ``workers=1``.

Results are collected by job index, never by completion order, so a parallel batch
equals a serial one. Each job is a pure function of (scenario, backend, seed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serviceprofit.backends.market_run import MarketResult
    from serviceprofit.model.market import Market
    from serviceprofit.model.result import RunResult
    from serviceprofit.model.scenario import Scenario

__all__ = ["Job", "MarketJob", "run_jobs", "run_market_jobs"]

#: Runs per ensemble call when progress is reported: a tenth of the batch, at least this.
MIN_GROUP = 8


@dataclass(frozen=True)
class Job:
    """One run: a scenario and a seed (see :mod:`serviceprofit.model.seeds`)."""

    scenario: Scenario
    seed: int


def _run_one(scenario: Scenario, backend: str, seed: int) -> RunResult:
    """One run without agent tables (module level: picklable for a pool)."""
    from serviceprofit.backends import get_backend

    return get_backend(backend)(scenario, seed=seed, keep_agents=False, progress=None)


def _groups(total: int, progress: bool) -> list[range]:
    """Consecutive job ranges for ensemble calls: one call, or about ten with progress."""
    if total == 0:
        return []
    size = total if not progress else max(MIN_GROUP, math.ceil(total / 10))
    return [range(start, min(start + size, total)) for start in range(0, total, size)]


def _run_here(
    jobs: Sequence[Job], backend: str, progress: Callable[[int, int], None] | None
) -> list[RunResult]:
    """Every job in this process: numba in ensemble calls, any other backend in turn."""
    from serviceprofit.backends.simulate import simulate_many

    if backend != "numba":
        return _in_turn(_run_one, [(j.scenario, backend, j.seed) for j in jobs], progress)
    results: list[RunResult] = []
    total = len(jobs)
    for group in _groups(total, progress is not None):
        part = [jobs[i] for i in group]
        results += simulate_many([j.scenario for j in part], [j.seed for j in part], backend)
        if progress is not None:
            progress(len(results), total)
    return results


def _in_turn(
    run: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    progress: Callable[[int, int], None] | None,
) -> list[Any]:
    """``run(*task)`` for every task, here, one after another; results in task order."""
    results: list[Any] = []
    for task in tasks:
        results.append(run(*task))
        if progress is not None:
            progress(len(results), len(tasks))
    return results


def _run_pool(
    run: Callable[..., Any],
    tasks: Sequence[tuple[Any, ...]],
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> list[Any]:
    """``run(*task)``, one task per process of a spawned pool; results in task order.
    ``run`` is a module-level function, so the pool can pickle it."""
    total = len(tasks)
    results: list[Any] = [None] * total
    pool = ProcessPoolExecutor(max_workers=min(workers, total), mp_context=get_context("spawn"))
    try:
        futures = {pool.submit(run, *task): i for i, task in enumerate(tasks)}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            if progress is not None:
                progress(done, total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def run_jobs(
    jobs: Sequence[Job],
    backend: str,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[RunResult]:
    """Run every job on ``backend``; one :class:`RunResult` per job, in job order.

    numba runs in this process on every core (see the module docstring); mesa on
    ``workers`` processes (default: every core this process may use; 1 runs them here,
    with identical results). ``progress(done, total)`` is called as runs finish. The
    first run that raises ends the batch with its exception; callers that want to go on
    past a failed run (sweeps) run the jobs one at a time.
    """
    from serviceprofit.sweeps.evaluators import default_workers

    workers = default_workers() if workers is None else workers
    if backend == "numba" or workers <= 1 or len(jobs) <= 1:
        return _run_here(jobs, backend, progress)
    return _run_pool(_run_one, [(j.scenario, backend, j.seed) for j in jobs], workers, progress)


@dataclass(frozen=True)
class MarketJob:
    """One market run: a market and a seed (replicate ``i`` on the seed single firms use)."""

    market: Market
    seed: int


def _run_market_one(market: Market, backend: str, seed: int) -> MarketResult:
    """One market run (module level: picklable for a pool)."""
    from serviceprofit.backends.simulate import simulate_market

    return simulate_market(market, backend=backend, seed=seed)


def run_market_jobs(
    jobs: Sequence[MarketJob],
    backend: str,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[MarketResult]:
    """Run every market job on ``backend``; one result per job, in job order.

    Where they run follows :func:`run_jobs`: numba here, one run after another (each
    market run already uses every core); mesa on ``workers`` spawned processes (1: here).
    """
    from serviceprofit.sweeps.evaluators import default_workers

    workers = default_workers() if workers is None else workers
    tasks = [(job.market, backend, job.seed) for job in jobs]
    if backend == "numba" or workers <= 1 or len(tasks) <= 1:
        return _in_turn(_run_market_one, tasks, progress)
    return _run_pool(_run_market_one, tasks, workers, progress)
