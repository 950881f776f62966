"""The counter-based generator: uniform, independent, and the same in numpy and numba."""

from __future__ import annotations

import numba
import numpy as np
from scipy import stats

from serviceprofit.rng import Stream, draw, run_key, uniform


def test_uniform_over_many_agents():
    """Draws across agents pass a Kolmogorov-Smirnov test for U(0, 1) at the 0.1% level."""
    for seed in range(3):
        u = draw(run_key(seed), Stream.CHURN, 7, np.arange(200_000))
        assert stats.kstest(u, "uniform").pvalue > 0.001
        assert u.min() >= 0.0 and u.max() < 1.0


def test_streams_weeks_and_agents_are_uncorrelated():
    """Neighbouring agents, weeks and streams give uncorrelated numbers (|r| < 0.01)."""
    key = run_key(1)
    ids = np.arange(100_000)
    a = draw(key, Stream.CHURN, 3, ids)
    for other in (
        draw(key, Stream.CHURN, 4, ids),
        draw(key, Stream.ISSUE, 3, ids),
        draw(key, Stream.CHURN, 3, ids + 1),
        draw(run_key(2), Stream.CHURN, 3, ids),
    ):
        assert abs(np.corrcoef(a, other)[0, 1]) < 0.01


def test_same_numbers_in_numba_and_numpy():
    """One definition: the compiled scalar path equals the vectorised numpy path."""

    @numba.njit
    def compiled(key, stream, week, agents):
        out = np.empty(agents.size)
        for i in range(agents.size):
            out[i] = uniform(key, np.uint64(stream), np.uint64(week), np.uint64(agents[i]))
        return out

    key = run_key(5)
    ids = np.arange(1000, dtype=np.uint64)
    np.testing.assert_array_equal(compiled(key, 9, 11, ids), draw(key, 9, 11, ids))


def test_run_key_is_reproducible_and_seed_specific():
    """The run key depends only on the seed."""
    assert run_key(3) == run_key(3)
    assert run_key(3) != run_key(4)
