"""The numba backend: the same model over arrays, for populations up to tens of millions.

Same ``run`` signature and :class:`~serviceprofit.model.result.RunResult` as the Mesa backend.
Importing this package compiles nothing; the kernels compile on the first run and are
cached on disk, so later processes start in well under a second. docs/performance.md
describes the design and the measured speed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from serviceprofit.model.result import RunResult
    from serviceprofit.model.scenario import Scenario

__all__ = ["run", "run_many", "wait_passively"]

_checked_cache = False


def wait_passively() -> None:
    """Ask the OpenMP runtime to let idle threads sleep rather than spin, unless the user
    has chosen (``OMP_WAIT_POLICY``).

    A spinning thread holds its core between parallel regions. On a machine shared with
    other processes (or with other workers of a sweep) that core is wanted elsewhere,
    and two threads then ran three times slower than one; sleeping costs a wake-up of
    microseconds per region, which the populations that run in parallel never notice.
    Takes effect only before numba starts its threads (the first parallel run, or
    ``numba.set_num_threads``); call it before either.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _ensure_fresh_cache() -> None:
    """Once per process: drop compiled kernels older than the code they inline."""
    global _checked_cache
    if _checked_cache:
        return
    from serviceprofit.backends.numba import kernel, market_kernel, queue, state
    from serviceprofit.backends.numba.compile_cache import drop_stale
    from serviceprofit.model import choice, firm, hints, params, rng, rules, week

    # every cached kernel of this folder (the market's inline the firm's and choice.py)
    drop_stale(
        kernel.CACHE_PROBE,
        "",
        [rules, rng, hints, week, firm, params, state, queue, choice, kernel, market_kernel],
    )
    _checked_cache = True


def run(
    scenario: Scenario,
    seed: int = 0,
    keep_agents: bool = False,
    progress: Callable[[int, int], None] | None = None,
    precision: str = "float32",
) -> RunResult:
    """Run ``scenario`` for its weeks on the array model and collect the result.

    ``precision="float64"`` keeps customer state in float64: the run is then the Mesa
    run bit for bit (while its customers fit in one chunk of the kernels).
    """
    wait_passively()
    _ensure_fresh_cache()
    from serviceprofit.backends.numba.model import run_one

    return run_one(scenario, seed, keep_agents, progress, precision)


def run_many(
    scenarios: list[Scenario], seeds: list[int], precision: str = "float32"
) -> list[RunResult]:
    """Many runs in one compiled call, in parallel over runs (see :func:`.model.run_many`)."""
    wait_passively()
    _ensure_fresh_cache()
    from serviceprofit.backends.numba.model import run_many as run_ensemble

    return run_ensemble(scenarios, seeds, precision)
