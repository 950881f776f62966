"""The numba backend: the Mesa model's week over arrays, independent of threads and layout."""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import pytest

from serviceprofit import load_scenario, simulate
from serviceprofit.numba_backend import compile_cache, wait_passively
from serviceprofit.numba_backend.state import bytes_per_customer
from serviceprofit.result import SUMMARY_FIELDS

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
def test_bitwise_identical_with_one_or_two_threads():
    """Draws are counter-based and reductions run in a fixed chunk order: one thread and
    two threads give the very same bits (several chunks of customers, staff shared)."""
    scenario = load_scenario(
        SCENARIOS / "baseline.yaml",
        {"population.customers": 40_000, "population.staff": 40, "weeks": 20},
    )
    wait_passively()  # threads that spin between regions crawl on a busy machine
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(scenario, backend="numba", seed=9)
        numba.set_num_threads(2)
        two = simulate(scenario, backend="numba", seed=9)
    finally:
        numba.set_num_threads(before)
    assert one.timeseries["contacts"].min() > 0
    np.testing.assert_array_equal(one.timeseries.to_numpy(), two.timeseries.to_numpy())
    assert one.summary == two.summary


def test_customer_state_is_narrow():
    """A customer slot holds at most 32 bytes, so 10M customers fit well under 1 GB."""
    assert bytes_per_customer() <= 32


class _FakeCache:
    def __init__(self, path):
        self.cache_path = str(path)


class _FakeDispatcher:
    def __init__(self, path):
        self._cache = _FakeCache(path)


def test_the_cache_guard_finds_the_kernels_cache():
    """The guard looks where numba keeps the kernel module's compiled functions."""
    from serviceprofit.numba_backend import kernel

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


def test_small_populations_in_the_calling_thread_give_the_same_bits(monkeypatch):
    """Running every chunk in the calling thread (as small populations do) gives the very
    same run as the parallel driver."""
    from serviceprofit.numba_backend import kernel

    scenario = load_scenario(
        SCENARIOS / "merged.yaml",
        {"population.customers": 30_000, "population.staff": 30, "weeks": 12},
    )
    parallel = simulate(scenario, backend="numba", seed=11).timeseries
    monkeypatch.setattr(kernel, "PARALLEL_FROM_CHUNKS", 10**9)
    serial = simulate(scenario, backend="numba", seed=11).timeseries
    np.testing.assert_array_equal(parallel.to_numpy(), serial.to_numpy())


@pytest.mark.parametrize("name", ["baseline", "cost_minimised", "merged"])
def test_churn_bounds_are_upper_bounds_of_the_rule(name):
    """Skipping the churn rule where the draw is above the bound decides as the rule would:
    at 20,000 random (satisfaction, tenure) points per segment the rule never exceeds it."""
    from serviceprofit.numba_backend import kernel
    from serviceprofit.numba_backend.week_params import week_params
    from serviceprofit.params import Params
    from serviceprofit.rules import churn_hazard

    kp = week_params(Params.from_scenario(load_scenario(SCENARIOS / f"{name}.yaml")))
    bounds, expectations = kernel.churn_bounds(kp)
    assert (bounds < 1.0).all(), "the bounds are in use for the shipped scenarios"
    rng = np.random.default_rng(0)
    for g, e in enumerate(expectations.astype(np.float64)):
        for s, tenure in zip(rng.random(20_000), rng.integers(0, 2000, 20_000), strict=True):
            hazard = churn_hazard(
                s,
                e,
                float(tenure),
                kp.churn_base,
                kp.churn_steepness,
                kp.competitor_pull,
                kp.newcomer_boost,
                kp.newcomer_weeks,
                kp.churn_cap,
            )
            assert hazard <= bounds[g, int(s * kernel.CHURN_BINS)]


def test_churn_bounds_stand_down_when_the_rule_is_not_monotone():
    """A hazard that rose with satisfaction would break the bounds: they become 1 (unused)."""
    from serviceprofit.numba_backend import kernel
    from serviceprofit.numba_backend.week_params import week_params
    from serviceprofit.params import Params

    kp = week_params(Params.from_scenario(load_scenario(SCENARIOS / "baseline.yaml")))
    bounds, _ = kernel.churn_bounds(kp._replace(churn_steepness=-4.5))
    assert (bounds == 1.0).all()
