"""The benchmark's pieces: sizes, one timed run, and the verdicts against the targets."""

from __future__ import annotations

from serviceprofit import load_scenario
from serviceprofit.bench import (
    SHORT_RUN_REPEATS,
    TARGETS,
    _against_targets,
    describe,
    measure_run,
    sized,
)

from .conftest import SCENARIOS


def test_sizes_keep_the_staff_ratio_within_the_schema():
    """Staff scale with customers (50 per 5,000 in the baseline), capped at 100,000."""
    baseline = load_scenario(SCENARIOS / "baseline.yaml")
    assert sized(baseline, 1_000_000, 156).population.staff == 10_000
    assert sized(baseline, 50_000_000, 156).population.staff == 100_000
    assert sized(baseline, 10, 3).population.staff == 1
    assert sized(baseline, 10, 3).weeks == 3


def test_a_timed_run_counts_customer_steps():
    """Customer-steps are the customers active at the start of each week, summed."""
    scenario = sized(load_scenario(SCENARIOS / "baseline.yaml"), 3000, 8)
    run = measure_run(scenario.to_dict(), "numba", 0, 1)
    assert run["threads"] == 1
    assert 8 * 2500 < run["customer_steps"] < 8 * 3500
    assert run["steps_per_second"] == run["customer_steps"] / run["seconds"]
    # a run of milliseconds is repeated, and the median repeat counts
    assert len(run["repeats"]) == SHORT_RUN_REPEATS
    assert run["seconds"] == sorted(run["repeats"])[SHORT_RUN_REPEATS // 2]
    assert run["peak_memory_bytes"] > 0
    assert 0 < run["cores_used"] <= 1.5  # one thread (plus a little of the runtime's)


def test_small_runs_and_ensembles_are_timed():
    """The small-firm figures: seconds per whole run, and an ensemble on one thread."""
    from serviceprofit.bench import measure_ensemble, measure_small_runs

    scenario = sized(load_scenario(SCENARIOS / "baseline.yaml"), 500, 8).to_dict()
    small = measure_small_runs(scenario, 0, 3)
    assert 0 < small["best_seconds"] <= small["median_seconds"]
    assert small["steps_per_second"] > 0
    ensemble = measure_ensemble(scenario, 0, 4, 1)
    assert ensemble["runs"] == 4 and ensemble["threads"] == 1
    assert ensemble["steps_per_second"] > 0


def test_ensembles_on_several_thread_counts_alternate_and_keep_every_round():
    """The benchmark's ensemble figures: each thread count timed in every round, in one
    process, its median round reported with all rounds kept."""
    from serviceprofit.bench import measure_ensembles

    scenario = sized(load_scenario(SCENARIOS / "baseline.yaml"), 500, 8).to_dict()
    one, two = measure_ensembles(scenario, 0, 4, (1, 2), rounds=3)
    for figure, threads in ((one, 1), (two, 2)):
        assert figure["threads"] == threads and figure["runs"] == 4
        assert len(figure["rounds"]) == 3
        assert figure["seconds"] == sorted(figure["rounds"])[1]


def test_customer_steps_count_the_customers_at_the_start_of_each_week():
    """Week 0 starts with the scenario's customers, each later week with the active
    customers the week before ended with."""
    from serviceprofit import simulate
    from serviceprofit.bench import customer_steps

    scenario = sized(load_scenario(SCENARIOS / "baseline.yaml"), 500, 3)
    result = simulate(scenario, backend="numba", seed=1)
    active = result.timeseries["customers_active"].tolist()
    assert customer_steps(result, 500) == 500 + active[0] + active[1]


def _run(backend: str, customers: int, weeks: int, threads: int, rate: float) -> dict:
    return {
        "backend": backend,
        "customers": customers,
        "staff": customers // 100,
        "weeks": weeks,
        "threads": threads,
        "seconds": customers * weeks / rate,
        "cpu_seconds": customers * weeks / rate,
        "cores_used": 1.0,
        "customer_steps": customers * weeks,
        "steps_per_second": rate,
        "peak_memory_bytes": 600 * 2**20,
    }


def test_verdicts_against_the_targets():
    """Each target is judged in its own direction: rates up, seconds and bytes down."""
    one = _run("numba", 1_000_000, 52, 1, 40e6)
    figures = {
        "when": "now",
        "scenario": "baseline",
        "machine": {
            "cores_used_by_numba": 2,
            "cpu_count": 2,
            "load_average_before": (1.0, 1.0, 1.0),
            "load_average_after": (1.0, 1.0, 1.0),
            "effective_cores_before": 2.0,
            "effective_cores_after": 2.0,
        },
        "same_size": [
            {
                "mesa": _run("mesa", 100_000, 13, 1, 200e3),
                "numba_1_thread": _run("numba", 100_000, 13, 1, 40e6),
                "numba_all_threads": _run("numba", 100_000, 13, 2, 70e6),
                "ratio_numba_all_over_mesa": 350.0,
                "ratio_numba_1_over_mesa": 200.0,
            },
            {
                "mesa": _run("mesa", 1_000_000, 3, 1, 50e3),
                "numba_1_thread": _run("numba", 1_000_000, 3, 1, 5e6),
                "numba_all_threads": _run("numba", 1_000_000, 3, 2, 9e6),
                "ratio_numba_all_over_mesa": 180.0,
                "ratio_numba_1_over_mesa": 100.0,
            },
        ],
        "thread_scaling": {
            "one_thread": one,
            "all_threads": _run("numba", 1_000_000, 52, 2, 64e6),
            "speedup": 1.6,
        },
        "throughput": [_run("numba", 10_000_000, 156, 2, 30e6)],
        "state": {"bytes_per_customer": 28},
        "small_runs": {
            "customers": 2000,
            "weeks": 156,
            "runs": 20,
            "best_seconds": 0.011,
            "median_seconds": 0.012,
            "steps_per_second": 25e6,
        },
        "ensemble": {
            "one_thread": {
                "runs": 200,
                "threads": 1,
                "seconds": 4.0,
                "steps_per_second": 1e7,
                "cores_used": 1.0,
            },
            "all_threads": {
                "runs": 200,
                "threads": 2,
                "seconds": 2.1,
                "steps_per_second": 2e7,
                "cores_used": 1.9,
            },
            "speedup": 1.9,
        },
    }
    verdicts = _against_targets(figures, weeks=156)
    expected = set(TARGETS) - {"numba_over_mesa"}
    assert set(verdicts) == expected | {"numba_over_mesa_at_100000", "numba_over_mesa_at_1000000"}
    assert not verdicts["one_core_steps_per_second_at_1M"]["met"]  # 40M < 50M
    assert not verdicts["scaling_1_to_2_threads"]["met"]  # 1.6 < 1.7
    assert not verdicts["numba_over_mesa_at_100000"]["met"]  # one thread: 200 < 300
    assert not verdicts["numba_over_mesa_at_1000000"]["met"]  # one thread: 100 < 300
    assert not verdicts["small_run_seconds_one_core"]["met"]  # 12 ms > 10 ms
    assert verdicts["small_over_large_steps_per_second"]["met"]  # 25M / 40M >= 0.5
    assert verdicts["ensemble_2_cores_over_1"]["met"]  # 1.9 >= 1.8
    assert verdicts["seconds_10M_customers_156_weeks"]["met"]  # 52 s <= 60 s
    assert verdicts["peak_memory_bytes_10M"]["met"]  # 600 MiB <= 1 GB
    figures["targets"] = verdicts
    text = "\n".join(describe(figures))
    assert "MISSED" in text and "350x" in text and "ensemble speed-up 1.90x" in text
