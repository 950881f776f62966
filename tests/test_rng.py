"""The counter-based generator: uniform, independent, and the same in numpy and numba."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import stats

from serviceprofit.model.rng import (
    Dice,
    Stream,
    draw,
    log_gamma,
    normal_pair,
    poisson,
    roll,
    run_key,
    uniform,
)


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


@numba.njit
def _compiled_firm_draws(key, week, means):
    out = np.empty((means.size, 3))
    dice = (key, np.uint64(week))
    for i in range(means.size):
        out[i, 0] = poisson(dice, Stream.ACQUISITION, means[i])
        out[i, 1], out[i, 2] = normal_pair(
            roll(dice, Stream.SURVEY, 2 * i), roll(dice, Stream.SURVEY, 2 * i + 1)
        )
    return out


MEANS = np.array([0.0, 0.3, 4.0, 9.99, 10.0, 37.5, 800.0, 123_456.0])


def test_firm_draws_are_the_same_in_python_and_compiled_code():
    """Poisson counts and Box-Muller normals from the counter-based draws: Python with
    the week's dice (the Mesa path) and compiled code give the very same numbers."""
    key = run_key(8)
    for week in (0, 5, 77):
        compiled = _compiled_firm_draws(key, week, MEANS)
        dice = Dice(key)
        dice.roll(week, 4)
        for i, mean in enumerate(MEANS):
            assert poisson(dice, Stream.ACQUISITION, float(mean)) == compiled[i, 0]
            pair = normal_pair(
                roll(dice, Stream.SURVEY, 2 * i), roll(dice, Stream.SURVEY, 2 * i + 1)
            )
            assert pair == (compiled[i, 1], compiled[i, 2])


@numba.njit
def _poisson_sample(key, mean, n):
    out = np.empty(n)
    for week in range(n):
        out[week] = poisson((key, np.uint64(week)), Stream.ACQUISITION, mean)
    return out


def test_poisson_counts_have_the_poisson_mean_and_variance():
    """Over 20,000 weeks the counts' mean and variance are the mean (5 standard errors),
    by inversion (small means) and by transformed rejection (large ones)."""
    for mean in (0.7, 6.0, 25.0, 900.0):
        x = _poisson_sample(run_key(2), mean, 20_000)
        se = np.sqrt(mean / x.size)
        assert abs(x.mean() - mean) < 5 * se, mean
        assert abs(x.var() / mean - 1.0) < 5 * np.sqrt(2.0 / x.size), mean


def test_log_gamma_matches_the_library():
    """The shared log-gamma (for Poisson rejection) agrees with math.lgamma to 1e-12."""
    import math

    for x in (1.0, 2.0, 3.0, 6.5, 7.0, 11.0, 150.0, 1e6):
        assert log_gamma(x) == pytest.approx(math.lgamma(x), rel=1e-12, abs=1e-12)
