"""The numba backend: the same model over arrays, for populations up to tens of millions.

Same ``run`` signature and :class:`~serviceprofit.result.RunResult` as the Mesa backend.
Importing this package compiles nothing; the kernels compile on the first run and are
cached on disk, so later processes start in well under a second. docs/performance.md
describes the design and the measured speed.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..result import RunResult, summarise

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..scenario import Scenario

__all__ = ["run", "wait_passively"]

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
    """Once per process: drop compiled kernels older than the rules they inline."""
    global _checked_cache
    if _checked_cache:
        return
    from .. import rng, rules
    from . import kernel, state
    from .compile_cache import drop_stale

    drop_stale(kernel.CACHE_PROBE, "kernel.", [rules, rng, state])
    _checked_cache = True


def run(
    scenario: Scenario,
    seed: int = 0,
    keep_agents: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run ``scenario`` for its weeks on the array model and collect the result."""
    wait_passively()
    _ensure_fresh_cache()
    from .model import ArrayModel

    model = ArrayModel(scenario, seed=seed, keep_agents=keep_agents)
    for week in range(scenario.weeks):
        model.step()
        if progress is not None:
            progress(week + 1, scenario.weeks)
    return summarise(
        scenario=scenario,
        backend="numba",
        seed=seed,
        timeseries=model.timeseries(),
        totals=model.totals,
        defection_at_risk=model.defection_at_risk,
        defection_churned=model.defection_churned,
        customers=model.customer_table() if keep_agents else None,
        staff=model.staff_table() if keep_agents else None,
    )
