"""Counter-based random numbers: the luck of (run, purpose, week, agent) is a pure function.

Every draw in the model is ``uniform(key, stream, week, agent)``: a hash of those four
numbers (two rounds of the SplitMix64 finaliser, Steele, Lea and Flood 2014), mapped to
[0, 1). Nothing is consumed from a shared sequence, so

- customer 1234 meets the same luck in week 50 whatever the other agents did, in every
  scenario that shares the seed (common random numbers, the standard variance-reduction
  design for comparing strategies: Law and Kelton, *Simulation Modeling and Analysis*);
- the numba core gets the same numbers with any number of threads, in any order;
- both backends draw from one definition.

The function works on numpy ``uint64`` scalars (inside numba) and arrays (in numpy);
uint64 arithmetic wraps modulo 2**64 in both, which is what the hash needs.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

__all__ = ["Stream", "draw", "run_key", "uniform"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_STREAM_MULT = np.uint64(0xD6E8FEB86659FD93)
_WEEK_MULT = np.uint64(0xA0761D6478BD642F)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV_2_53 = 1.0 / 9007199254740992.0


class Stream:
    """Purposes of draws. Each gets its own independent numbers (streams split by purpose)."""

    ISSUE = 1
    CRITICALITY = 2
    SELF_SERVICE = 3
    MISROUTE = 4
    SERVED = 5
    STAFF_PICK = 6
    RESOLVE = 7
    COMPLAINT = 8
    RECOVERY = 9
    CHURN = 10
    HOP = 11
    SEGMENT = 12
    CHANNEL = 13
    INITIAL_SATISFACTION = 14
    QUIT = 15
    STAFF_INIT = 16
    ACQUISITION = 17
    REFERRAL = 18
    SURVEY = 19
    INITIAL_TENURE = 20
    SELF_SERVICE_OK = 21
    DEPARTMENT = 22
    HOP_CHANNEL = 23
    # The customer network (serviceprofit.network); numbered from 40 so that streams the
    # week adds below 40 never clash with them.
    NETWORK_TARGET = 40
    NETWORK_REWIRE = 41
    NETWORK_MIX = 42
    # The market's choices (serviceprofit.choice; docs/market.md says where each is drawn).
    CONSIDERATION = 43
    CHOICE = 44
    REVIEW_REACH = 45
    PROSPECT_ARRIVAL = 46

    COUNT = 47


@register_jitable
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@register_jitable
def uniform(key, stream, week, agent):
    """A uniform number in [0, 1) for one (run key, stream, week, agent).

    All arguments must be ``np.uint64``: scalars inside numba, arrays in numpy (numpy
    warns on wrapping scalar arithmetic, never on arrays). Returns float64.
    """
    z = _mix(key ^ (stream * _STREAM_MULT) ^ (week * _WEEK_MULT))
    z = _mix(z + (agent + np.uint64(1)) * _GOLDEN)
    return (z >> _S11) * _INV_2_53


def run_key(seed: int | np.random.SeedSequence) -> np.uint64:
    """The 64-bit key of a run, derived once from its seed (a ``SeedSequence``)."""
    sequence = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.uint64(sequence.generate_state(1, dtype=np.uint64)[0])


def draw(key: np.uint64, stream: int, week: int, agents: np.ndarray) -> np.ndarray:
    """Vectorised :func:`uniform` for an array of agent ids (the numpy path)."""
    with np.errstate(over="ignore"):
        return uniform(np.uint64(key), np.uint64(stream), np.uint64(week), agents.astype(np.uint64))
