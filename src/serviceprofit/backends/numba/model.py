"""Setting up compiled runs and reading their results: one run, or an ensemble of runs.

Everything a week does runs in :mod:`.kernel`; this module prepares what the kernels
read (the stacked parameter records, which record each week reads, the churn bounds),
calls them, and turns what they return into :class:`~serviceprofit.model.result.RunResult`.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import numba
import numpy as np
import pandas as pd

from serviceprofit.backends.numba import kernel as k
from serviceprofit.backends.numba.state import (
    PRECISIONS,
    allocate_customers,
)
from serviceprofit.model import firm
from serviceprofit.model.firm import COUNT_METRICS, METRICS
from serviceprofit.model.params import MAX_SEGMENTS, ParamSchedule, stack_records
from serviceprofit.model.result import RunResult, summarise
from serviceprofit.model.rng import run_key
from serviceprofit.model.scenario import Scenario
from serviceprofit.model.week import (
    ACTIVE,
    EVER_COMPLAINED,
    N_COUNTS,
    N_SUMS,
    OPEN,
)

__all__ = ["run_many", "run_one"]

# Weeks per compiled call when progress is reported (the run returns to Python between).
PROGRESS_EVERY_WEEKS = 13

_BOUNDS_CACHE: dict[tuple[bytes, str], tuple[np.ndarray, np.ndarray]] = {}
_BOUNDS_CACHE_SIZE = 256
# What the churn bounds depend on: the churn rule's constants and the segments' expectations.
_BOUND_FIELDS = [
    "churn_base",
    "churn_steepness",
    "competitor_pull",
    "newcomer_boost",
    "newcomer_weeks",
    "churn_cap",
    "n_segments",
    "segment_expectation",
]


def _storage_dtype(precision: str) -> type:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}")
    return np.float64 if precision == "float64" else np.float32


def churn_tables(records: np.ndarray, precision: str) -> tuple[np.ndarray, np.ndarray]:
    """Churn bounds per record (``kernel.fill_churn_bounds``) and the stored expectation
    of each segment they are valid for; made once per distinct record and precision."""
    dtype = _storage_dtype(precision)
    bounds = np.empty((records.size, MAX_SEGMENTS, k.CHURN_BINS + 1))
    expectations = np.empty((records.size, MAX_SEGMENTS), dtype)
    for i, record in enumerate(records):
        cache_key = (b"".join(np.asarray(record[f]).tobytes() for f in _BOUND_FIELDS), precision)
        cached = _BOUNDS_CACHE.get(cache_key)
        if cached is None:
            expectation = record["segment_expectation"].astype(dtype)
            table = np.ones((MAX_SEGMENTS, k.CHURN_BINS + 1))
            if not k.fill_churn_bounds(record, expectation, table):
                table[:] = 1.0
            if len(_BOUNDS_CACHE) >= _BOUNDS_CACHE_SIZE:
                _BOUNDS_CACHE.pop(next(iter(_BOUNDS_CACHE)))
            cached = _BOUNDS_CACHE[cache_key] = (table, expectation)
        bounds[i], expectations[i] = cached
    return bounds, expectations


class Prepared(NamedTuple):
    """What a run of one scenario reads before its first week, the same for every seed:
    the parameter records (``stack_records``), which one each week reads, and the churn
    bounds (:func:`churn_tables`). Nothing writes them once made
    (they stay writeable numpy arrays: a read-only array is another type to numba, and
    would compile the run again)."""

    records: np.ndarray
    index: np.ndarray
    bounds: np.ndarray
    expectations: np.ndarray


_PREPARED: dict[tuple[int, str], tuple[weakref.ref, Prepared]] = {}
_PREPARED_SIZE = 64


def prepare(scenario: Scenario, precision: str) -> Prepared:
    """The :class:`Prepared` inputs of ``scenario``'s runs, made once per scenario and
    precision and reused by later runs of the same scenario (replicates, the seeds of a
    comparison or of a sweep point): making them costs about 0.3 ms
    (``ParamSchedule``, ``stack_records``, the churn tables' cache keys), 3% of a
    2,000-customer, 156-week run.

    Keyed by the scenario object (a weak reference: a scenario gone frees its key).
    Scenarios are immutable (``with_overrides`` makes a new one), so the object stands
    for its content; a key by content (the scenario's JSON) cost as much, in a run's
    cold caches, as making the inputs.
    """
    cache_key = (id(scenario), precision)
    entry = _PREPARED.get(cache_key)
    if entry is not None and entry[0]() is scenario:
        return entry[1]
    schedule = ParamSchedule(scenario)
    records = stack_records(schedule.records)
    bounds, expectations = churn_tables(records, precision)
    prepared = Prepared(records, schedule.index, bounds, expectations)
    if len(_PREPARED) >= _PREPARED_SIZE:
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[cache_key] = (weakref.ref(scenario), prepared)
    return prepared


try:  # pandas >= 3
    from pandas.api.internals import create_dataframe_from_blocks
except ImportError:  # pragma: no cover - older pandas: the frame is built column by column
    create_dataframe_from_blocks = None

_COLUMNS = pd.Index(METRICS)
_COUNT_COLUMNS = np.array([i for i, name in enumerate(METRICS) if name in COUNT_METRICS])
_FLOAT_COLUMNS = np.array([i for i, name in enumerate(METRICS) if name not in COUNT_METRICS])


def timeseries(history: np.ndarray) -> pd.DataFrame:
    """The metrics rows of a run's history as the time series both backends return:
    counts as int64, the rest float64, one row per week.

    Built from its two blocks (counts, floats) with pandas' ``create_dataframe_from_blocks``,
    which takes them as they are: about 25 us a run where ``pd.DataFrame`` of a dict of
    columns spent about 330 us checking and gathering 28 columns, a cost every small
    compiled run paid (a 2,000-customer, 156-week run takes about 13 ms).
    ``tests/test_numba_backend.py`` checks that both ways give the same frame."""
    if create_dataframe_from_blocks is None:
        return timeseries_by_column(history)
    counts = history[:, _COUNT_COLUMNS].T.astype(np.int64)  # (columns, weeks), as blocks are
    floats = np.ascontiguousarray(history[:, _FLOAT_COLUMNS].T)
    return create_dataframe_from_blocks(
        [(counts, _COUNT_COLUMNS.copy()), (floats, _FLOAT_COLUMNS.copy())],
        index=pd.RangeIndex(len(history)),
        columns=_COLUMNS.copy(),  # its own: a name given to one run's columns stays there
    )


def history_rows(history: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The weekly numbers as ``result.weekly_rows`` reads them from :func:`timeseries`'s
    frame, taken from the history itself (its first columns are the metrics, in order;
    the counts are whole numbers there too), for ``summarise``."""
    return np.asfortranarray(history[:, : len(METRICS)]), list(METRICS)


def timeseries_by_column(history: np.ndarray) -> pd.DataFrame:
    """:func:`timeseries` with pandas' public constructor, a column at a time."""
    return pd.DataFrame(
        {
            name: history[:, i].astype(np.int64) if name in COUNT_METRICS else history[:, i]
            for i, name in enumerate(METRICS)
        }
    )


@functools.cache
def _empty(precision: str) -> np.ndarray:
    """An empty customer array of ``precision``: it tells compiled code the record type."""
    return allocate_customers(0, precision)


def run_one(
    scenario: Scenario,
    seed: int = 0,
    keep_agents: bool = False,
    progress: Callable[[int, int], None] | None = None,
    precision: str = "float32",
) -> RunResult:
    """One run, its weeks compiled (in blocks of weeks when progress is reported)."""
    records, index, bounds, expectations = prepare(scenario, precision)
    weeks = scenario.weeks
    key = run_key(seed)
    threads = numba.get_num_threads()
    run = k.begin_run(_empty(precision), records, index, weeks, key, int(keep_agents), threads)
    step = weeks if progress is None else PROGRESS_EVERY_WEEKS
    for start in range(0, weeks, step):
        stop = min(weeks, start + step)
        run = k.advance(run, records, index, bounds, expectations, key, start, stop, threads)
        if progress is not None:
            progress(stop, weeks)
    c, s, counters, _, _, history, totals, _, _ = run
    return summarise(
        scenario=scenario,
        backend="numba",
        seed=seed,
        timeseries=timeseries(history),
        rows=history_rows(history),
        counts=totals[0].tolist(),
        sums=totals[1].tolist(),
        customers=customer_table(c, int(counters[k.K_STORED])) if keep_agents else None,
        staff=staff_table(s, int(counters[k.K_STAFF])) if keep_agents else None,
    )


def run_many(
    scenarios: list[Scenario], seeds: list[int], precision: str = "float32"
) -> list[RunResult]:
    """Many runs in one compiled call, parallel over runs (:func:`kernel.run_ensemble`).

    Run ``i`` is ``scenarios[i]`` with ``seeds[i]``; each gives the very bits it gives
    alone (:func:`run_one`).
    """
    if len(scenarios) != len(seeds):
        raise ValueError(f"{len(scenarios)} scenarios but {len(seeds)} seeds")
    if not scenarios:
        return []
    distinct: dict[bytes, int] = {}
    rows: list[tuple[Prepared, int]] = []  # each distinct record: where it was made
    longest = max(s.weeks for s in scenarios)
    index = np.zeros((len(scenarios), longest), np.int64)
    prepared_of: dict[int, Prepared] = {}
    for r, scenario in enumerate(scenarios):
        prepared = prepared_of.get(id(scenario)) or prepare(scenario, precision)
        prepared_of[id(scenario)] = prepared
        local = np.empty(prepared.records.size, np.int64)
        for j in range(prepared.records.size):
            raw = prepared.records[j : j + 1].tobytes()
            if raw not in distinct:
                distinct[raw] = len(rows)
                rows.append((prepared, j))
            local[j] = distinct[raw]
        index[r, : scenario.weeks] = local[prepared.index]
    records = np.concatenate([prepared.records[j : j + 1] for prepared, j in rows])
    bounds = np.stack([prepared.bounds[j] for prepared, j in rows])
    expectations = np.stack([prepared.expectations[j] for prepared, j in rows])
    weeks = np.array([s.weeks for s in scenarios], np.int64)
    keys = np.array([run_key(seed) for seed in seeds], np.uint64)
    # the longest runs first (customer-weeks at the start), so that no long run starts last
    size = np.array([s.population.customers for s in scenarios], np.int64) * weeks
    order = np.argsort(-size, kind="stable")
    history = np.zeros((len(scenarios), longest, firm.N_HISTORY))
    counts = np.zeros((len(scenarios), N_COUNTS), np.int64)
    sums = np.zeros((len(scenarios), N_SUMS))
    k.run_ensemble(
        records,
        index,
        weeks,
        bounds,
        expectations,
        keys,
        order,
        numba.get_num_threads(),
        _empty(precision),
        history,
        counts,
        sums,
    )
    return [
        summarise(
            scenario=scenario,
            backend="numba",
            seed=seed,
            timeseries=timeseries(history[r, : scenario.weeks]),
            rows=history_rows(history[r, : scenario.weeks]),
            counts=counts[r].tolist(),
            sums=sums[r].tolist(),
        )
        for r, (scenario, seed) in enumerate(zip(scenarios, seeds, strict=True))
    ]


def customer_table(c: Any, stored: int) -> pd.DataFrame:
    """Every customer ever: the active ones first, then the churned (as the Mesa model)."""
    flags = c["flags"][:stored]
    table = pd.DataFrame(
        {
            "uid": c["uid"][:stored].astype(np.int64),
            "status": np.where(flags & ACTIVE, "active", "churned"),
            "segment": c["segment"][:stored].astype(np.int64),
            "channel": c["channel"][:stored].astype(np.int64),
            "satisfaction": c["satisfaction"][:stored].astype(np.float64),
            "expectation": c["expectation"][:stored].astype(np.float64),
            "tenure": c["tenure"][:stored].astype(np.float64),
            "lifetime_revenue": c["lifetime_revenue"][:stored].astype(np.float64),
            "ever_complained": (flags & EVER_COMPLAINED) != 0,
            "issue_open": (flags & OPEN) != 0,
        }
    )
    order = np.argsort(table["status"] != "active", kind="stable")
    return table.iloc[order].reset_index(drop=True)


def staff_table(s: Any, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uid": s.uid[:n],
            "department": s.department[:n],
            "skill": s.skill[:n],
            "satisfaction": s.satisfaction[:n],
            "tenure": s.tenure[:n],
            "time_standard": s.standard[:n],
        }
    )


def threads() -> int:
    """numba's threads in use (the ensemble's parallel width)."""
    return numba.get_num_threads()
