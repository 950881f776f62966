"""A market run on the numba backend: all its weeks in one compiled call, resumable.

The people, the network and the keys come from :func:`serviceprofit.backends.market_run.prepare`
(the same for both backends); :func:`.market_kernel.advance_market` then runs weeks
``[start, stop)`` of every firm and the market phase without returning to Python.
Everything a run carries from one week to the next is arrays (:class:`_MarketState`), so
a run stopped at a week boundary hands back a :class:`MarketCheckpoint` (numpy arrays
and the week) from which a later call continues with the very bits of an unbroken run:
the classroom advances a game a quarter at a time without re-running from week 0.
"""

from __future__ import annotations

import json

import numba
import numpy as np
from numba.typed import List

from serviceprofit.backends.market_run import (
    MarketCheckpoint,
    MarketResult,
    add_market_columns,
    prepare,
)
from serviceprofit.backends.numba import kernel as k
from serviceprofit.backends.numba import market_kernel as mk
from serviceprofit.backends.numba.model import churn_tables, timeseries
from serviceprofit.backends.numba.state import (
    CUSTOMER_FIELDS,
    Staff,
    allocate_customers,
    staff_room,
)
from serviceprofit.model import choice, firm
from serviceprofit.model.market import Market
from serviceprofit.model.network import CustomerNetwork
from serviceprofit.model.params import stack_records
from serviceprofit.model.result import summarise
from serviceprofit.model.week import MAX_DEPARTMENTS, N_COUNTS, N_SUMS, TALLY_DTYPE

__all__ = ["run_market"]

# The stacked state of a market run (one row per firm where it is per firm), by name.
_STACKED = (
    "counters",
    "firm_states",
    "pendings",
    "histories",
    "totals_counts",
    "totals_sums",
    "pressures",
    "week_tallies",
    "flows",
    "contagion_tally",
)
_PEOPLE = ("status", "segment", "satisfaction", "review", "former", "memory", "exposure", "since")


class _MarketState:
    """Everything a market run carries from week to week: each firm's customer and
    staff arrays, the firms' other state stacked one row per firm, the people, the
    flows and the contagion tally so far."""

    def __init__(self, setup, precision: str) -> None:
        n_firms = len(setup.names)
        weeks = setup.market.weeks
        self.week = 0
        self.cs: list[np.ndarray] = []  # each firm's customer records
        self.ss: list[Staff] = []
        self.counters = np.zeros((n_firms, k.N_COUNTERS), np.int64)
        self.week_tallies = np.zeros(n_firms, TALLY_DTYPE)
        states, pendings, histories = [], [], []
        for f in range(n_firms):
            records = stack_records(setup.schedules[f].records)
            p0 = setup.schedules[f].records[0]
            persons = setup.initial[f]
            c = allocate_customers(persons.size + max(1024, persons.size // 4), precision)
            s = k.new_staff_arrays(staff_room(p0.initial_staff))
            s = mk.start_firm(
                c, s, self.counters[f], records, setup.schedules[f].index, setup.firm_keys[f],
                self.week_tallies[f : f + 1], persons, setup.segment, np.zeros(0),
            )  # fmt: skip
            self.cs.append(c)
            self.ss.append(s)
            state, pending, history = firm.new_firm(p0, weeks)
            states.append(state)
            pendings.append(pending)
            histories.append(history)
        self.firm_states = np.stack(states)
        self.pendings = np.stack(pendings)
        self.histories = np.stack(histories)
        self.totals_counts = np.zeros((n_firms, N_COUNTS), np.int64)
        self.totals_sums = np.zeros((n_firms, N_SUMS))
        self.pressures = np.zeros((n_firms, MAX_DEPARTMENTS))
        self.flows = np.zeros((weeks, n_firms + 1, n_firms + 1), np.int64)
        self.contagion_tally = np.zeros(6)
        self.people = setup.new_people()
        self.arrived = setup.arrived

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: getattr(self, name) for name in _STACKED}
        for name, array in zip(_PEOPLE, self.people, strict=True):
            arrays[f"people.{name}"] = array
        for f, (c, s) in enumerate(zip(self.cs, self.ss, strict=True)):
            for name in CUSTOMER_FIELDS:  # a field an array, as the layout may change
                arrays[f"customers.{f}.{name}"] = np.ascontiguousarray(c[name])
            for name, array in zip(Staff._fields, s, strict=True):
                arrays[f"staff.{f}.{name}"] = array
        arrays["arrived"] = np.array(self.arrived, np.int64)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_firms: int, week: int) -> _MarketState:
        """The state held in a checkpoint's arrays, copied: the checkpoint stays as it
        was, and can be resumed from again."""
        state = cls.__new__(cls)
        state.week = week
        for name in _STACKED:
            setattr(state, name, arrays[name].copy())
        state.people = tuple(arrays[f"people.{name}"].copy() for name in _PEOPLE)
        state.cs = [_customers_from(arrays, f) for f in range(n_firms)]
        state.ss = [
            Staff(*(arrays[f"staff.{f}.{name}"].copy() for name in Staff._fields))
            for f in range(n_firms)
        ]
        state.arrived = int(arrays["arrived"])
        return state


def _records_before(setup, week: int) -> dict[str, np.ndarray]:
    """Each firm's parameter records in force in weeks ``[0, week)``, one row a week:
    what a resumed market must not change."""
    return {
        f"records.{f}": stack_records([sched.records[sched.index[w]] for w in range(week)])
        for f, sched in enumerate(setup.schedules)
    }


def _market_key(market: Market) -> np.ndarray:
    """The market's people, choice model, network, weeks and firm names, as bytes."""
    text = json.dumps(
        [market.weeks, list(market.firms), market.market.model_dump(mode="json")],
        sort_keys=True,
    )
    return np.frombuffer(text.encode(), np.uint8)


def _customers_from(arrays: dict[str, np.ndarray], f: int) -> np.ndarray:
    """Firm ``f``'s customer records from a checkpoint's arrays (a field an array)."""
    wide = arrays[f"customers.{f}.satisfaction"].dtype == np.float64
    c = allocate_customers(arrays[f"customers.{f}.uid"].size, "float64" if wide else "float32")
    for name in CUSTOMER_FIELDS:
        c[name] = arrays[f"customers.{f}.{name}"]
    return c


def _check_resume(market: Market, seed: int, precision: str | None, checkpoint) -> str:
    """Refuse a checkpoint the market cannot continue from; return its precision."""
    if not isinstance(checkpoint, MarketCheckpoint):
        raise ValueError(
            f"resume takes the .checkpoint of a numba market run, not {type(checkpoint).__name__}"
        )
    arrays = checkpoint.arrays
    needed = ("seed", "market", "customers.0.satisfaction", "network.indptr", *_STACKED)
    missing = [name for name in needed if name not in arrays]
    if missing:
        raise ValueError(f"resume: the checkpoint lacks {', '.join(missing)}")
    if int(arrays["seed"]) != seed:
        raise ValueError(
            f"resume: the checkpoint was made with seed {int(arrays['seed'])}, not {seed}"
        )
    if not np.array_equal(arrays["market"], _market_key(market)):
        raise ValueError(
            "resume: the market's weeks, firms, people, choice model or network differ from "
            "the checkpoint's; a resumed market may differ only by events at weeks >= "
            f"{checkpoint.week}"
        )
    stored = "float64" if arrays["customers.0.satisfaction"].dtype == np.float64 else "float32"
    if precision is not None and precision != stored:
        raise ValueError(f"resume: the checkpoint holds {stored} state, not {precision}")
    return stored


def _check_records(setup, checkpoint: MarketCheckpoint) -> None:
    week = checkpoint.week
    for key, rows in _records_before(setup, week).items():
        before = checkpoint.arrays[key]
        for w in range(week):
            if rows[w].tobytes() != before[w].tobytes():
                name = setup.names[int(key.split(".")[1])]
                raise ValueError(
                    f"resume: firm {name!r}'s parameters in week {w} differ from the "
                    f"checkpoint's; a resumed market may change only events at weeks >= {week}"
                )


def run_market(
    market: Market,
    seed: int = 0,
    precision: str | None = None,
    *,
    stop: int | None = None,
    resume: MarketCheckpoint | None = None,
) -> MarketResult:
    """Weeks ``[0, stop)`` of a market run (docs/ODD.md, the market's week), or
    ``[resume.week, stop)`` continuing a checkpoint; ``stop`` defaults to the market's
    weeks. With ``stop`` or ``resume`` given, the result carries a ``checkpoint`` at
    ``stop``. A run split at any week is the unbroken run, bit for bit."""
    from serviceprofit.backends.numba import _ensure_fresh_cache

    weeks = market.weeks
    if resume is not None:
        precision = _check_resume(market, seed, precision, resume)
    start = 0 if resume is None else resume.week
    end = weeks if stop is None else stop
    if isinstance(end, bool) or not isinstance(end, int | np.integer) or not start < end <= weeks:
        raise ValueError(
            f"stop must be a week after {start} and at most the market's {weeks} weeks, "
            f"not {stop!r}"
        )
    end = int(end)
    precision = precision or "float32"
    _ensure_fresh_cache()
    network = None
    if resume is not None:
        network = CustomerNetwork(resume.arrays["network.indptr"], resume.arrays["network.indices"])
    setup = prepare(market, seed, network=network)
    if resume is None:
        state = _MarketState(setup, precision)
    else:
        _check_records(setup, resume)
        state = _MarketState.from_arrays(resume.arrays, len(setup.names), resume.week)
    records = np.concatenate([stack_records(s.records) for s in setup.schedules])
    offsets = np.cumsum([0] + [len(s.records) for s in setup.schedules])
    index = np.stack([s.index[:weeks] + offsets[f] for f, s in enumerate(setup.schedules)])
    bounds, expectations = churn_tables(records, precision)
    cs = List(state.cs)
    ss = List(state.ss)
    spec = market.market
    state.arrived = mk.advance_market(
        cs, ss, state.counters, state.firm_states, state.pendings, state.histories,
        (state.totals_counts, state.totals_sums), state.pressures, state.week_tallies,
        records, index.astype(np.int64), bounds, expectations, np.array(setup.firm_keys),
        state.people, np.int64(state.arrived), setup.network.indptr, setup.network.indices,
        setup.constants, setup.decay,
        np.array([spec.choice.cost_per_impression, spec.choice.attention_floor]),
        setup.key, float(spec.prospects.arrivals_per_week), state.flows,
        state.contagion_tally, start, end, numba.get_num_threads(),
    )  # fmt: skip
    state.cs, state.ss, state.week = list(cs), list(ss), end
    result = _result(market, seed, setup, state, end)
    if stop is not None or resume is not None:
        arrays = state.to_arrays()
        arrays.update(_records_before(setup, end))
        arrays["seed"] = np.array(seed, np.int64)
        arrays["market"] = _market_key(market)
        arrays["network.indptr"] = setup.network.indptr
        arrays["network.indices"] = setup.network.indices
        result.checkpoint = MarketCheckpoint(end, arrays)
    return result


def _result(market: Market, seed: int, setup, state: _MarketState, end: int) -> MarketResult:
    """Weeks ``[0, end)`` of the run as a :class:`MarketResult`."""
    runs = {
        name: summarise(
            scenario=market.firms[name],
            backend="numba",
            seed=seed,
            timeseries=timeseries(state.histories[f, :end]),
            counts=state.totals_counts[f].tolist(),
            sums=state.totals_sums[f].tolist(),
        )
        for f, name in enumerate(setup.names)
    }
    flows = state.flows[:end].copy()
    add_market_columns(setup.names, runs, flows)
    status = state.people[0][: state.arrived]
    return MarketResult(
        market,
        "numba",
        seed,
        runs,
        flows,
        people={
            "arrived": int(state.arrived),
            "prospects": int((status == choice.PROSPECT).sum()),
            "left": int((status == choice.LEFT).sum()),
            "customers": [int((status == f).sum()) for f in range(len(setup.names))],
        },
        contagion=state.contagion_tally.copy(),
    )
