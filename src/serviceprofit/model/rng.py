"""Counter-based random numbers: the luck of (run, purpose, week, agent) is a pure function.

Every draw in the model is ``uniform(key, stream, week, agent)``: a hash of those four
numbers (two rounds of the SplitMix64 finaliser, Steele, Lea and Flood 2014), mapped to
[0, 1). Nothing is consumed from a shared sequence, so

- customer 1234 meets the same luck in week 50 whatever the other agents did, in every
  scenario that shares the seed (common random numbers, the standard variance-reduction
  design for comparing strategies: Law and Kelton, *Simulation Modeling and Analysis*);
- the numba core gets the same numbers with any number of threads, in any order;
- both backends draw from one definition.

The week's functions (:mod:`serviceprofit.model.week`, :mod:`serviceprofit.model.firm`) draw with
``roll(dice, stream, agent)``. In compiled code ``dice`` is the pair (run key, week) and
``roll`` is :func:`uniform`; in Python (the Mesa backend) ``dice`` is a :class:`Dice`,
which rolls a week's draws for all agents at once per purpose with numpy: the same
numbers, at numpy's speed rather than one Python hash per draw.

Firm-level randomness is counter-based too: survey noise is Box-Muller on two draws
(:func:`normal_pair`), acquisitions are Poisson by inversion or, for large means, by
Hörmann's transformed rejection (:func:`poisson`), each attempt keyed by its number.
"""

from __future__ import annotations

import math
from enum import IntEnum

import numpy as np
from numba.extending import overload, register_jitable

__all__ = [
    "Dice",
    "Stream",
    "draw",
    "normal_pair",
    "poisson",
    "poisson_at",
    "poisson_by_inversion",
    "roll",
    "run_key",
    "uniform",
]

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


class Stream(IntEnum):
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
    # The customer network (serviceprofit.model.network); numbered from 40 so that streams the
    # week adds below 40 never clash with them.
    NETWORK_TARGET = 40
    NETWORK_REWIRE = 41
    NETWORK_MIX = 42
    # The market's choices (serviceprofit.model.choice; docs/ODD.md, 7.6).
    CONSIDERATION = 43
    CHOICE = 44
    REVIEW_REACH = 45
    PROSPECT_ARRIVAL = 46


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


class Dice:
    """One week's draws of a run, rolled for all agent ids at once per purpose (numpy).

    ``dice(stream, agent)`` is ``uniform(key, stream, week, agent)`` for the week last
    :meth:`roll`-ed; each stream's array is computed on its first use in the week.
    """

    def __init__(self, key: np.uint64) -> None:
        self.key = key
        self.week = 0
        self.size = 1
        self._arrays: dict[int, list[float]] = {}

    def roll(self, week: int, size: int) -> None:
        self.week, self.size = week, max(size, 1)
        self._arrays.clear()

    def __call__(self, stream: int, agent: int) -> float:
        values = self._arrays.get(stream)
        if values is None or agent >= len(values):
            n = max(agent + 1, self.size)
            values = draw(self.key, stream, self.week, np.arange(n)).tolist()
            self._arrays[stream] = values
        return values[agent]


def roll(dice, stream, agent):
    """``uniform(key, stream, week, agent)`` of the week ``dice`` stands for.

    In Python ``dice`` is a :class:`Dice`; in compiled code the pair (key, week) of
    ``np.uint64`` (see the overload below): the same number either way. The pair works
    in Python too (one numpy draw), which lets the compiled code run uncompiled.
    """
    if isinstance(dice, tuple):
        return float(draw(dice[0], stream, int(dice[1]), np.array([agent]))[0])
    return dice(stream, agent)


# Not inlined by numba (inline="always" would type it again at each of its dozens of call
# sites, which made compiling slower): a small function, which LLVM inlines itself.
@overload(roll)
def _roll_compiled(dice, stream, agent):
    def impl(dice, stream, agent):
        return uniform(dice[0], np.uint64(stream), dice[1], np.uint64(agent))

    return impl


# ---------------------------------------------------------------------------
# Firm-level draws from the same uniforms


@register_jitable
def normal_pair(u1, u2):
    """Two independent standard normals from two uniforms (Box and Muller 1958)."""
    radius = math.sqrt(-2.0 * math.log(1.0 - u1))  # 1 - u1 is in (0, 1]
    angle = 2.0 * math.pi * u2
    return radius * math.cos(angle), radius * math.sin(angle)


_LOG_FACTORIAL_SERIES = (
    8.333333333333333e-02,
    -2.777777777777778e-03,
    7.936507936507937e-04,
    -5.952380952380952e-04,
    8.417508417508418e-04,
    -1.917526917526918e-03,
    6.410256410256410e-03,
    -2.955065359477124e-02,
    1.796443723688307e-01,
    -1.39243221690590e00,
)


@register_jitable
def log_gamma(x):
    """log Gamma(x) for x >= 1 (Stirling's series after shifting x to 7 or more, as
    numpy's ``random_loggam``): the same arithmetic in Python and compiled code."""
    if x == 1.0 or x == 2.0:
        return 0.0
    shift = 0
    x0 = x
    if x <= 7.0:
        shift = int(7.0 - x)
        x0 = x + shift
    x2 = 1.0 / (x0 * x0)
    gl0 = _LOG_FACTORIAL_SERIES[9]
    for k in range(8, -1, -1):
        gl0 = gl0 * x2 + _LOG_FACTORIAL_SERIES[k]
    gl = gl0 / x0 + 0.5 * math.log(2.0 * math.pi) + (x0 - 0.5) * math.log(x0) - x0
    if x <= 7.0:
        for _ in range(shift):
            x0 -= 1.0
            gl -= math.log(x0)
    return gl


POISSON_INVERSION_BELOW = 10.0  # means below this: inversion with one draw


@register_jitable
def poisson_by_inversion(u, mean):
    """A Poisson count of small ``mean`` from one uniform ``u``, by inverting the CDF."""
    if mean <= 0.0:
        return 0
    k = 0
    term = math.exp(-mean)
    total = term
    while u > total and term > 0.0:
        k += 1
        term *= mean / k
        total += term
    return k


@register_jitable
def poisson(dice, stream, mean):
    """A Poisson count of ``mean`` from the counter-based draws of ``stream``.

    Below a mean of 10, inversion of the distribution function with draw 0; above,
    the transformed rejection of Hörmann (1993, "The transformed rejection method for
    generating Poisson random variables"), attempt ``i`` using draws ``2i`` and
    ``2i + 1``: the number of draws varies, the draws themselves never do.
    """
    return poisson_at(dice, stream, mean, 0, 1)


@register_jitable
def poisson_at(dice, stream, mean, agent, stride):
    """:func:`poisson` for one agent of many: inversion with draw ``agent``, attempt
    ``i`` of the rejection with draws ``agent + 2i * stride`` and ``agent + (2i + 1) *
    stride``. With ``stride`` above every agent id of the stream, no agent's draws meet
    another's; ``poisson`` is agent 0 with stride 1. (Inversion alone would not do for
    large means: ``exp(-mean)`` underflows to zero above a mean of about 745, and the
    count with it.)"""
    if mean <= 0.0:
        return 0
    if mean < POISSON_INVERSION_BELOW:
        return poisson_by_inversion(roll(dice, stream, agent), mean)
    slam = math.sqrt(mean)
    loglam = math.log(mean)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    invalpha = 1.1239 + 1.1328 / (b - 3.4)
    vr = 0.9277 - 3.6224 / (b - 2.0)
    attempt = 0
    while True:
        u = roll(dice, stream, agent + 2 * attempt * stride) - 0.5
        v = roll(dice, stream, agent + (2 * attempt + 1) * stride)
        attempt += 1
        us = 0.5 - abs(u)
        k = float(math.floor((2.0 * a / us + b) * u + mean + 0.43)) if us > 0.0 else -1.0
        if us >= 0.07 and v <= vr:
            return int(k)
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b) <= (
            -mean + k * loglam - log_gamma(k + 1.0)
        ):
            return int(k)
