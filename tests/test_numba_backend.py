"""The numba backend: the Mesa model's week over arrays, independent of threads and layout."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import pytest

from serviceprofit import load_scenario, simulate, simulate_many
from serviceprofit.backends.numba import compile_cache, wait_passively
from serviceprofit.backends.numba import model as numba_model
from serviceprofit.backends.numba.kernel import (
    CHURN_BINS,
    PARALLEL_STAFF_FROM,
    PREFETCH_SERVERS_FROM,
)
from serviceprofit.backends.numba.queue import take
from serviceprofit.backends.numba.state import bytes_per_customer
from serviceprofit.model.params import Params, stack_records
from serviceprofit.model.result import SUMMARY_FIELDS, weekly_rows

from .conftest import SCENARIOS, SMALL
from .test_model import check_invariants

OUTCOMES = [
    "churn_rate_annual",
    "customer_satisfaction_final",
    "fcr_mean",
    "staff_turnover_annual",
    "profit_total",
]


@pytest.mark.parametrize(
    "name", ["baseline", "cost_minimised", "merged", "merge_in_year_two", "silo"]
)
def test_invariants_hold_on_every_scenario(name):
    """Customers are conserved, the accounts balance, rates stay in range."""
    # merge_in_year_two's events (weeks 52-86) must lie inside the run.
    size = {**SMALL, "weeks": 90} if name == "merge_in_year_two" else SMALL
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", size)
    result = simulate(scenario, backend="numba", seed=1)
    check_invariants(result, scenario)
    assert result.summary["backend"] == "numba"


def test_same_columns_and_fields_as_mesa(small):
    """Both backends return the same RunResult shape: metric columns, dtypes, summary keys."""
    a = simulate(small, backend="mesa", seed=2, keep_agents=True)
    b = simulate(small, backend="numba", seed=2, keep_agents=True)
    assert list(b.timeseries.columns) == list(a.timeseries.columns)
    assert list(b.summary) == list(SUMMARY_FIELDS)
    assert set(b.diagnostics) == set(a.diagnostics)
    assert list(b.customers.columns) == list(a.customers.columns)
    assert list(b.staff.columns) == list(a.staff.columns)
    for column in a.timeseries.columns:
        assert b.timeseries[column].dtype.kind == a.timeseries[column].dtype.kind, column


def test_time_series_from_blocks_is_the_frame_built_column_by_column(small):
    """The weekly frame built from its two blocks (pandas' create_dataframe_from_blocks)
    equals the one pandas' public constructor builds: columns, dtypes, index, values;
    and it owns its data and labels (writing to it leaves the run's history and the next
    frame alone)."""
    result = simulate(small, backend="numba", seed=3)
    history = result.timeseries.to_numpy(np.float64)
    fast, slow = numba_model.timeseries(history), numba_model.timeseries_by_column(history)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert fast.index.equals(pd.RangeIndex(len(history)))
    assert fast["customers_active"].dtype == np.int64 and fast["revenue"].dtype == np.float64
    before = history.copy()
    fast.iloc[0, 1] = -1
    fast.columns.name = "metric"
    assert np.array_equal(history, before)
    assert numba_model.timeseries(history).columns.name is None


def test_summary_from_the_history_is_the_summary_from_the_frame(small, monkeypatch):
    """The weekly numbers the numba backend hands ``summarise`` from its history are, to
    the bit, those ``summarise`` would read back from the frame; so is the summary."""
    calls = []
    real = numba_model.summarise
    monkeypatch.setattr(numba_model, "summarise", lambda **kw: calls.append(kw) or real(**kw))
    simulate(small, backend="numba", seed=5)
    numba_model.run_many([small, small], [5, 6])
    assert len(calls) == 3
    for kw in calls:
        given, names = kw["rows"]
        read, read_names = weekly_rows(kw["timeseries"])
        assert names == read_names and given.flags.f_contiguous
        assert given.tobytes() == read.tobytes()
        without = real(**{**kw, "rows": None})
        assert repr(real(**kw).summary) == repr(without.summary)


def test_same_luck_gives_nearly_the_same_run(small):
    """With the same seed every agent meets the same draws in both backends, so the runs
    differ only where float32 state tips a decision: summary outcomes within 2%."""
    for seed in range(3):
        a = simulate(small, backend="mesa", seed=seed).summary
        b = simulate(small, backend="numba", seed=seed).summary
        for key in OUTCOMES:
            assert b[key] == pytest.approx(a[key], rel=0.02, abs=1e-9), (seed, key)


def test_agent_tables_account_for_every_customer(small):
    """keep_agents: every customer ever created appears once, active ones first."""
    result = simulate(small, backend="numba", seed=4, keep_agents=True)
    customers, ts = result.customers, result.timeseries
    assert customers["uid"].is_unique
    assert len(customers) == small.population.customers + ts["customers_acquired"].sum()
    active = customers["status"] == "active"
    assert active.sum() == ts["customers_active"].iloc[-1]
    assert (~active).sum() == ts["customers_churned"].sum()
    assert not active.iloc[: active.sum()].eq(False).any(), "active customers come first"
    assert len(result.staff) == ts["staff_active"].iloc[-1]


def test_compaction_and_growth_do_not_change_the_run():
    """Squeezing churned slots out and growing the arrays leave every count unchanged.

    keep_agents keeps churned customers in place (no compaction); heavy churn and heavy
    marketing force both compaction and growth in the other run.
    """
    scenario = load_scenario(
        SCENARIOS / "cost_minimised.yaml",
        {
            **SMALL,
            "population.customers": 2000,
            "strategy.marketing.spend_per_week": 30000,
            "behaviour.churn_base": 0.02,
        },
    )
    kept = simulate(scenario, backend="numba", seed=5, keep_agents=True).timeseries
    compacted = simulate(scenario, backend="numba", seed=5).timeseries
    assert kept["customers_acquired"].sum() > 2000, "arrays must have grown"
    assert kept["customers_churned"].sum() > 500, "slots must have been compacted"
    for column in kept.columns:
        if kept[column].dtype.kind == "i":
            pd.testing.assert_series_equal(kept[column], compacted[column])
        else:
            np.testing.assert_allclose(kept[column], compacted[column], rtol=1e-9, err_msg=column)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
def test_bitwise_identical_with_one_two_or_all_threads():
    """Draws are counter-based and reductions run in a fixed chunk order: one thread, two
    and all give the very same bits (several chunks of customers, written in parallel in
    week 0; enough staff that the serve pass asks for servers early and that the staff's
    loops run over blocks of staff in parallel, quitters and all)."""
    scenario = load_scenario(
        SCENARIOS / "baseline.yaml",
        {"population.customers": 40_000, "population.staff": 9_000, "weeks": 20},
    )
    assert scenario.population.staff >= max(PREFETCH_SERVERS_FROM, PARALLEL_STAFF_FROM)
    wait_passively()  # threads that spin between regions crawl on a busy machine
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(scenario, backend="numba", seed=9)
        numba.set_num_threads(2)
        two = simulate(scenario, backend="numba", seed=9)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        every = simulate(scenario, backend="numba", seed=9)
    finally:
        numba.set_num_threads(before)
    assert one.timeseries["contacts"].min() > 0
    assert one.timeseries["staff_quits"].sum() > 0
    assert (one.timeseries["staff_active"] > PARALLEL_STAFF_FROM).sum() >= 10
    for other in (two, every):
        np.testing.assert_array_equal(one.timeseries.to_numpy(), other.timeseries.to_numpy())
        assert one.summary == other.summary


def test_customer_state_is_narrow():
    """A customer slot holds at most 32 bytes, so 10M customers fit well under 1 GB
    (40 with float64 state, the exact twin of Mesa)."""
    assert bytes_per_customer() <= 32
    assert bytes_per_customer("float64") <= 40


class _FakeCache:
    def __init__(self, path):
        self.cache_path = str(path)


class _FakeDispatcher:
    def __init__(self, path):
        self._cache = _FakeCache(path)


def test_the_cache_guard_finds_the_kernels_cache():
    """The guard looks where numba keeps the kernel module's compiled functions."""
    from serviceprofit.backends.numba import kernel

    directory = compile_cache.cache_directory(kernel.CACHE_PROBE)
    assert directory is not None
    assert directory == compile_cache.cache_directory(kernel._serve_parallel)


def test_stale_compiled_kernels_are_dropped_when_inlined_sources_change(tmp_path):
    """numba does not notice edits to functions a cached kernel inlines; the guard does."""
    source = tmp_path / "rules_like.py"
    source.write_text("A = 1\n")
    module = type("M", (), {"__file__": str(source)})
    cached = tmp_path / "kernel.serve_pass-1.py312.nbi"
    other = tmp_path / "other.f-1.py312.nbi"
    dispatcher = _FakeDispatcher(tmp_path)
    cached.write_text("x")
    other.write_text("x")
    assert compile_cache.drop_stale(dispatcher, "kernel.", [module])  # no stamp yet
    assert not cached.exists() and other.exists()
    cached.write_text("x")
    assert not compile_cache.drop_stale(dispatcher, "kernel.", [module])  # unchanged
    assert cached.exists()
    source.write_text("A = 2\n")
    assert compile_cache.drop_stale(dispatcher, "kernel.", [module])  # edited
    assert not cached.exists()


def test_a_run_in_an_ensemble_is_the_run_alone():
    """simulate_many runs each run on one thread, its chunks in turn; alone, a run of
    several chunks runs them in parallel: the very same bits either way, for runs that
    differ in seed and in parameters. The ensemble takes the largest runs first (here
    the first and the third, then the second): each result still lands in its place."""
    base = load_scenario(
        SCENARIOS / "merged.yaml",
        {"population.customers": 30_000, "population.staff": 30, "weeks": 12},
    )
    other = base.with_overrides({"behaviour.churn_base": 0.004, "population.customers": 3000})
    scenarios, seeds = [base, other, base], [11, 12, 13]
    together = simulate_many(scenarios, seeds, backend="numba")
    for scenario, seed, run in zip(scenarios, seeds, together, strict=True):
        alone = simulate(scenario, backend="numba", seed=seed)
        np.testing.assert_array_equal(alone.timeseries.to_numpy(), run.timeseries.to_numpy())
        assert alone.summary == run.summary
        assert alone.diagnostics == run.diagnostics


@pytest.mark.parametrize("name", ["baseline", "cost_minimised", "merged"])
def test_churn_bounds_are_upper_bounds_of_the_rule(name):
    """Skipping the churn rule where the draw is above the bound decides as the rule would:
    at 20,000 random (satisfaction, tenure) points per segment the rule never exceeds it."""
    from serviceprofit.backends.numba.model import churn_tables
    from serviceprofit.model.week import churn_hazard

    p = Params.from_scenario(load_scenario(SCENARIOS / f"{name}.yaml"))
    bounds, expectations = churn_tables(stack_records([p]), "float32")
    bounds, expectations = bounds[0, : p.n_segments], expectations[0, : p.n_segments]
    assert (bounds < 1.0).all(), "the bounds are in use for the shipped scenarios"
    rng = np.random.default_rng(0)
    for g, e in enumerate(expectations.astype(np.float64)):
        for s, tenure in zip(rng.random(20_000), rng.integers(0, 2000, 20_000), strict=True):
            assert churn_hazard(p, s, e, float(tenure)) <= bounds[g, int(s * CHURN_BINS)]


def test_churn_bounds_stand_down_when_the_rule_is_not_monotone():
    """A hazard that rose with satisfaction would break the bounds: they become 1 (unused)."""
    from serviceprofit.backends.numba.model import churn_tables

    p = Params.from_scenario(load_scenario(SCENARIOS / "baseline.yaml"))
    bounds, _ = churn_tables(stack_records([p._replace(churn_steepness=-4.5)]), "float32")
    assert (bounds == 1.0).all()


def test_a_scenario_is_prepared_once_and_a_changed_one_afresh():
    """Runs of one scenario reuse its records and churn bounds (``model.prepare``); a
    scenario with an override, and the other precision, get their own; a run with the
    reused inputs is the run with fresh ones."""
    scenario = load_scenario(SCENARIOS / "merge_in_year_two.yaml", {**SMALL, "weeks": 90})
    first = numba_model.prepare(scenario, "float32")
    assert numba_model.prepare(scenario, "float32") is first
    assert numba_model.prepare(scenario, "float64") is not first
    assert numba_model.prepare(scenario, "float64").expectations.dtype == np.float64
    changed = scenario.with_overrides({"behaviour.issue_rate": 0.2})
    other = numba_model.prepare(changed, "float32")
    assert other.records[other.index[0]]["issue_rate"] == 0.2
    assert first.records[first.index[0]]["issue_rate"] != 0.2
    assert first.records.size == 3, "three sets of events in force within 90 weeks"
    reused = simulate(scenario, backend="numba", seed=5)
    numba_model._PREPARED.clear()
    fresh = simulate(scenario, backend="numba", seed=5)
    pd.testing.assert_frame_equal(reused.timeseries, fresh.timeseries)
    assert reused.summary == fresh.summary


# ---------------------------------------------------------------------------
# Exact equivalence: with float64 state the numba run is the Mesa run, bit for bit

EXACT_SIZE = {"population.customers": 500, "population.staff": 5, "weeks": 156}
SHIPPED = sorted(path.stem for path in SCENARIOS.glob("*.yaml"))


def check_bitwise_twins(name: str, seed: int) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", EXACT_SIZE)
    mesa = simulate(scenario, backend="mesa", seed=seed, keep_agents=True)
    twin = simulate(scenario, backend="numba", seed=seed, keep_agents=True, precision="float64")
    pd.testing.assert_frame_equal(mesa.timeseries, twin.timeseries, check_exact=True)
    assert {**mesa.summary, "backend": "numba"} == twin.summary
    assert mesa.diagnostics == twin.diagnostics
    for table in ("customers", "staff"):
        a = getattr(mesa, table).sort_values("uid").reset_index(drop=True)
        b = getattr(twin, table).sort_values("uid").reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=True, check_dtype=False)


@pytest.mark.parametrize(("name", "seed"), [("baseline", 0), ("merge_in_year_two", 1)])
def test_float64_state_gives_the_mesa_run_bit_for_bit(name, seed):
    """One definition of the week, the same draws, sums in the same order: with float64
    customer state every weekly figure, the summary, the diagnostics and the final agent
    tables equal Mesa's exactly (500 customers, 156 weeks)."""
    check_bitwise_twins(name, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_is_the_mesa_run_bit_for_bit(name, seed):
    """As above, for every scenario in scenarios/ and three seeds."""
    check_bitwise_twins(name, seed)


@numba.njit(parallel=True)
def _take_everything(threads, n, out):
    """Threads take numbers from one counter until ``n`` are taken; each writes what it
    took, and how often, into ``out``."""
    counter = np.zeros(1, np.int64)
    for _ in numba.prange(threads):
        while True:
            i = take(counter)
            if i >= n:
                break
            out[i] += 1


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
def test_threads_taking_work_each_get_their_own_numbers():
    """The work queue of ensembles and chunk passes (``queue.take``): on every thread
    at once, each number is taken exactly once and none is skipped."""
    for _ in range(5):
        out = np.zeros(200_000, np.int64)
        _take_everything(numba.config.NUMBA_NUM_THREADS, out.size, out)
        assert (out == 1).all()
