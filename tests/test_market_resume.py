"""A market run stopped at a week boundary and resumed is the unbroken run, bit for bit.

The classroom advances a game a quarter at a time from a checkpoint instead of re-running
from week 0; these tests hold the checkpoint to the whole run's bits.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from serviceprofit import simulate_market
from serviceprofit.backends.market_run import MarketCheckpoint

from .test_market_run import assert_same_run, small_market

WEEKS = 30


def assert_same_market(a, b) -> None:
    assert_same_run(a, b)
    np.testing.assert_array_equal(a.contagion, b.contagion)
    for name in a.firms:
        assert a.firms[name].summary == b.firms[name].summary


@pytest.mark.parametrize("seed", [0, 7])
def test_a_run_split_at_any_week_is_the_whole_run(seed):
    """Stopping at a week, pickling the checkpoint and resuming changes no bit."""
    market = small_market(weeks=WEEKS)
    whole = simulate_market(market, seed=seed)
    for week in (1, 13, 20, 29):
        first = simulate_market(market, seed=seed, stop=week)
        checkpoint = pickle.loads(pickle.dumps(first.checkpoint))
        assert checkpoint.week == week
        assert all(isinstance(a, np.ndarray) for a in checkpoint.arrays.values())
        assert len(first.firms["steady"].timeseries) == week
        assert_same_market(whole, simulate_market(market, seed=seed, resume=checkpoint))


def test_a_run_split_twice_and_resumed_twice_is_the_whole_run():
    """A checkpoint resumed from stays as it was: resuming again gives the same run."""
    market = small_market(weeks=WEEKS)
    whole = simulate_market(market, seed=3, precision="float64")
    first = simulate_market(market, seed=3, precision="float64", stop=8)
    second = simulate_market(market, seed=3, resume=first.checkpoint, stop=21)
    assert_same_market(whole, simulate_market(market, seed=3, resume=second.checkpoint))
    assert_same_market(whole, simulate_market(market, seed=3, resume=second.checkpoint))
    assert second.checkpoint.arrays["customers.0.satisfaction"].dtype == np.float64


def test_events_at_or_after_the_checkpoint_may_change():
    """The classroom's decisions are events at the coming weeks: allowed, and they act."""
    market = small_market(weeks=WEEKS)  # frugal cuts cost in week 20
    first = simulate_market(market, seed=1, stop=12)
    later = small_market(weeks=WEEKS, **{"firms.frugal.events.0.week": 12})
    resumed = simulate_market(later, seed=1, resume=first.checkpoint)
    assert_same_market(resumed, simulate_market(later, seed=1))
    assert not resumed.firms["frugal"].timeseries.equals(
        simulate_market(market, seed=1).firms["frugal"].timeseries
    )


def test_a_checkpoint_refuses_a_different_past():
    """Events before the checkpoint, other people, another seed or a bad stop: one clear
    error each."""
    market = small_market(weeks=WEEKS)
    checkpoint = simulate_market(market, seed=1, stop=25).checkpoint
    earlier = small_market(weeks=WEEKS, **{"firms.frugal.events.0.week": 15})
    with pytest.raises(ValueError, match=r"firm 'frugal'.s parameters in week 15 differ"):
        simulate_market(earlier, seed=1, resume=checkpoint)
    with pytest.raises(ValueError, match="people, choice model or network differ"):
        simulate_market(small_market(people=500, weeks=WEEKS), seed=1, resume=checkpoint)
    with pytest.raises(ValueError, match="made with seed 1, not 2"):
        simulate_market(market, seed=2, resume=checkpoint)
    with pytest.raises(ValueError, match="stop must be a week after 25"):
        simulate_market(market, seed=1, resume=checkpoint, stop=25)
    with pytest.raises(ValueError, match="holds float32 state, not float64"):
        simulate_market(market, seed=1, resume=checkpoint, precision="float64")
    with pytest.raises(ValueError, match="not dict"):
        simulate_market(market, seed=1, resume={"week": 3})
    with pytest.raises(ValueError, match="the checkpoint lacks seed"):
        simulate_market(market, seed=1, resume=MarketCheckpoint(3, {}))
    with pytest.raises(ValueError, match="at most the market's 30 weeks"):
        simulate_market(market, seed=1, stop=31)


def test_mesa_runs_a_market_whole():
    """Stop and resume are the numba backend's; Mesa says so."""
    market = small_market(weeks=WEEKS)
    with pytest.raises(ValueError, match="stop and resume need the numba backend"):
        simulate_market(market, backend="mesa", stop=10)
    with pytest.raises(ValueError, match="stop and resume need the numba backend"):
        simulate_market(market, backend="mesa", resume=MarketCheckpoint(3, {}))
