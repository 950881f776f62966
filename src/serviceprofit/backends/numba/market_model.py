"""A market run on the numba backend: every firm's week compiled, the market phase too.

The people, the network and the keys come from :func:`serviceprofit.backends.market_run.prepare`
(the same for both backends); each week calls the compiled steps of
:mod:`.market_kernel` for every firm and the market phase once.
"""

from __future__ import annotations

import numba
import numpy as np

from serviceprofit.backends.market_run import MarketResult, add_market_columns, firm_view, prepare
from serviceprofit.backends.numba import kernel as k
from serviceprofit.backends.numba import market_kernel as mk
from serviceprofit.backends.numba.model import churn_tables, timeseries
from serviceprofit.backends.numba.state import allocate_customers
from serviceprofit.model import choice, firm
from serviceprofit.model.market import Market
from serviceprofit.model.params import stack_records
from serviceprofit.model.result import summarise
from serviceprofit.model.week import MAX_DEPARTMENTS, N_COUNTS, N_SUMS, TALLY_DTYPE

__all__ = ["run_market"]


class _Firm:
    """One firm's compiled state (the arrays ``kernel.advance`` keeps for a run)."""

    def __init__(self, setup, f: int, precision: str) -> None:
        schedule = setup.schedules[f]
        self.schedule = schedule
        self.records = stack_records(schedule.records)
        self.index = schedule.index
        self.bounds, self.expectations = churn_tables(self.records, precision)
        p0 = schedule.records[0]
        self.key = setup.firm_keys[f]
        persons = setup.initial[f]
        capacity = persons.size + max(1024, persons.size // 4)
        self.c = allocate_customers(capacity, precision)
        self.s = k.new_staff_arrays(p0.initial_staff + 16)
        self.counters = np.zeros(k.N_COUNTERS, np.int64)
        self.week_tally = np.zeros(1, TALLY_DTYPE)
        self.s = mk.start_firm(
            self.c, self.s, self.counters, self.records, self.index, self.key, self.week_tally,
            persons, setup.segment, np.zeros(0),
        )  # fmt: skip
        self.state, self.pending, self.history = firm.new_firm(p0, setup.market.weeks)
        self.totals = (np.zeros(N_COUNTS, np.int64), np.zeros(N_SUMS))
        self.pressure = np.zeros(MAX_DEPARTMENTS)


def run_market(market: Market, seed: int = 0, precision: str = "float32") -> MarketResult:
    """One run of a market (docs/ODD.md, the market's week)."""
    from serviceprofit.backends.numba import _ensure_fresh_cache

    _ensure_fresh_cache()
    setup = prepare(market, seed)
    weeks = market.weeks
    firms = [_Firm(setup, f, precision) for f in range(len(setup.names))]
    people = setup.new_people()
    constants = setup.constants
    contagion = (people[6], people[7], constants[choice.K_HALF_LIFE], constants[choice.K_UPLIFT])
    joiners = np.empty(setup.capacity, np.int64)
    n_firms = len(firms)
    flows = np.zeros((weeks, n_firms + 1, n_firms + 1), np.int64)
    threads = numba.get_num_threads()
    arrived = setup.arrived
    contagion_tally = np.zeros(6)
    arrivals = market.market.prospects.arrivals_per_week
    indptr, indices = setup.network.indptr, setup.network.indices
    for now in range(weeks):
        arrived = mk.arrive(people[0], arrived, setup.capacity, setup.key, now, arrivals)
        for x in firms:
            x.s = k.week_front(
                x.c, x.s, x.counters, x.state, x.pending, x.history, x.pressure, x.week_tally,
                x.records, x.index, x.bounds, x.expectations, x.key, now, contagion, threads,
            )  # fmt: skip
        reviews = np.zeros((n_firms, 2))
        records = [x.schedule.records[x.index[now]] for x in firms]
        for f, x in enumerate(firms):
            mk.show_firm(
                x.c, x.counters, f, people, reviews, records[f].detractor_threshold, now,
                constants, contagion_tally,
            )  # fmt: skip
        attention, price, reference = firm_view(setup, records, arrived)
        reputation = np.array([x.state[firm.F_REPUTATION] for x in firms])
        n_joiners = mk.market_phase(
            people, arrived, indptr, indices, reputation, attention, price, reference, reviews,
            records[0].promoter_threshold, constants, setup.key, now, flows[now], joiners,
        )  # fmt: skip
        for f, x in enumerate(firms):
            x.c, _left = mk.firm_back(
                x.c, x.s, x.counters, x.state, x.history, x.totals, x.week_tally, x.records,
                x.index, x.key, now, f, people, joiners, n_joiners,
            )  # fmt: skip
    runs = {
        name: summarise(
            scenario=market.firms[name],
            backend="numba",
            seed=seed,
            timeseries=timeseries(x.history),
            counts=x.totals[0].tolist(),
            sums=x.totals[1].tolist(),
        )
        for name, x in zip(setup.names, firms, strict=True)
    }
    add_market_columns(setup.names, runs, flows)
    status = people[0][:arrived]
    return MarketResult(
        market,
        "numba",
        seed,
        runs,
        flows,
        people={
            "arrived": int(arrived),
            "prospects": int((status == choice.PROSPECT).sum()),
            "left": int((status == choice.LEFT).sum()),
            "customers": [int((status == f).sum()) for f in range(n_firms)],
        },
        contagion=contagion_tally,
    )
