"""The numba backend's float32 default reproduces the Mesa backend's outcome distributions.

For four scenarios (baseline, cost-minimised, merged, and merge_in_year_two with its
events in weeks 52 and 78-86), at 2,000 customers and 20 staff for two years (104 weeks:
the events and two years of owner reviews):

- **The reference is Mesa.** With float64 state the numba run *is* the Mesa run, bit for
  bit (tests/test_numba_backend.py shows it for every shipped scenario at 500
  customers). Here Mesa runs MESA_SEEDS seeds per scenario at this test's own size and
  each must give exactly the outcomes of numba's float64 run on the same seed; the 30
  float64 runs per scenario are then Mesa's runs, at a fraction of Mesa's cost.
- **Distributions.** The float32 default runs on 30 *other* seeds, so the two samples
  are independent and a two-sided Mann-Whitney U test of each key outcome must not
  reject at ALPHA = 0.001 per comparison (20 comparisons: family-wise level at most 2%,
  Bonferroni).
- **Means.** The float32 default runs on the *same* 30 seeds, meeting the same luck
  agent by agent; the runs then differ only where float32 state tips a decision, so the
  mean of each outcome must agree within MEAN_TOLERANCE = 0.5% (relative): far above
  what rounding moves (a few hundredths of a percent when this was written) and far
  below what a changed rule moves (28% for the altered one).
- **Power.** The same checks must reject a model that differs: float32 runs with the
  churn base rate 1.5 times higher on one side only.

The Mesa runs go to a pool of two processes (a few seconds each); numba runs here.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest
from scipy import stats

from serviceprofit import load_scenario, simulate

from .conftest import SCENARIOS

pytestmark = pytest.mark.slow

NAMES = ("baseline", "cost_minimised", "merged", "merge_in_year_two")
OUTCOMES = (
    "churn_rate_annual",
    "customer_satisfaction_final",
    "fcr_mean",
    "staff_turnover_annual",
    "profit_total",
)
SIZE = {"population.customers": 2000, "population.staff": 20, "weeks": 104}
SEEDS = range(30)  # the reference (float64), and float32 with the same luck
MESA_SEEDS = SEEDS[:6]  # Mesa itself, checked equal to the float64 reference
OTHER_SEEDS = range(1000, 1030)  # float32, independent of the reference runs
ALPHA = 0.001
MEAN_TOLERANCE = 0.005
ALTERED_CHURN = 1.5  # churn_base multiplier of the deliberately altered model


def outcomes(
    name: str, backend: str, seed: int, overrides: dict[str, Any], precision: str = "float32"
) -> list[float]:
    """Key outcomes of one run (module level, so a process pool can call it)."""
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", {**SIZE, **overrides})
    extra = {"precision": precision} if backend == "numba" else {}
    summary = simulate(scenario, backend=backend, seed=seed, **extra).summary
    return [float(summary[k]) for k in OUTCOMES]


def _numba(
    name: str, seeds: range, overrides: dict[str, Any] | None = None, precision: str = "float32"
) -> np.ndarray:
    return np.array([outcomes(name, "numba", s, overrides or {}, precision) for s in seeds])


@pytest.fixture(scope="module")
def runs() -> dict[str, dict[str, np.ndarray]]:
    """Per scenario: Mesa on MESA_SEEDS, the float64 reference on SEEDS, float32 on SEEDS
    and on OTHER_SEEDS (rows: seeds)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = {
            name: [pool.submit(outcomes, name, "mesa", s, {}) for s in MESA_SEEDS] for name in NAMES
        }
        numba_runs = {
            name: (
                _numba(name, SEEDS, precision="float64"),
                _numba(name, SEEDS),
                _numba(name, OTHER_SEEDS),
            )
            for name in NAMES
        }
        return {
            name: {
                "mesa": np.array([f.result() for f in futures[name]]),
                "reference": numba_runs[name][0],
                "numba_same": numba_runs[name][1],
                "numba_other": numba_runs[name][2],
            }
            for name in NAMES
        }


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_is_the_mesa_run(runs, name):
    """Mesa's outcomes on MESA_SEEDS equal the float64 runs' exactly, at this size."""
    reference = runs[name]["reference"][: len(MESA_SEEDS)]
    np.testing.assert_array_equal(runs[name]["mesa"], reference)


def mann_whitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value (1 when both samples are one constant value)."""
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def relative_gap(a: np.ndarray, b: np.ndarray) -> float:
    return abs(b.mean() - a.mean()) / abs(a.mean())


@pytest.mark.parametrize("name", NAMES)
def test_outcome_distributions_agree(runs, name):
    """Independent seeds: no outcome's distribution differs (Mann-Whitney, 0.1% level)."""
    mesa, numba = runs[name]["reference"], runs[name]["numba_other"]
    for j, outcome in enumerate(OUTCOMES):
        p = mann_whitney_p(mesa[:, j], numba[:, j])
        assert p >= ALPHA, f"{name} {outcome}: Mann-Whitney p = {p:.2g}"


@pytest.mark.parametrize("name", NAMES)
def test_outcome_means_agree_under_the_same_luck(runs, name):
    """Same seeds: every outcome's mean over 30 runs within 0.5% of Mesa's."""
    mesa, numba = runs[name]["reference"], runs[name]["numba_same"]
    for j, outcome in enumerate(OUTCOMES):
        gap = relative_gap(mesa[:, j], numba[:, j])
        assert gap <= MEAN_TOLERANCE, f"{name} {outcome}: means differ by {gap:.2%}"


def test_the_comparison_rejects_an_altered_churn_rule(runs):
    """Both checks catch a model whose churn base rate is 1.5x higher on one side only."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml", SIZE)
    base = scenario.behaviour.churn_base
    altered = {"behaviour.churn_base": ALTERED_CHURN * base}
    mesa = runs["baseline"]["reference"]
    churn = OUTCOMES.index("churn_rate_annual")
    other = _numba("baseline", OTHER_SEEDS, altered)
    assert mann_whitney_p(mesa[:, churn], other[:, churn]) < ALPHA
    same = _numba("baseline", SEEDS, altered)
    assert relative_gap(mesa[:, churn], same[:, churn]) > MEAN_TOLERANCE
