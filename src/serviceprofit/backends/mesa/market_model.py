"""A market on the Mesa backend: one :class:`ServiceProfitModel` per firm, and the people.

Each firm is a Mesa model of its own (its staff, owner and customers as agents, its own
key), whose customers are people of the market: a customer's ``uid`` is the person's id.
A week is every firm's :meth:`~ServiceProfitModel.step_front` (steps 1-9, churn
multiplied by contagion), what the market sees of them (``choice.show_customer``,
``choice.show_churner``), the market phase (``choice.market_phase``: the very function
the numba backend compiles), then every firm's leavers go, joiners arrive and
:meth:`~ServiceProfitModel.step_back` closes its books. The network is the same CSR
arrays (``market_run.prepare``), read as neighbour lists.
"""

from __future__ import annotations

import numpy as np

from serviceprofit.backends.market_run import MarketResult, add_market_columns, firm_view, prepare
from serviceprofit.backends.mesa.agents import Customer
from serviceprofit.backends.mesa.model import ServiceProfitModel
from serviceprofit.model import choice, firm
from serviceprofit.model.market import Market
from serviceprofit.model.result import summarise

__all__ = ["MarketFirm", "run_market"]


class MarketFirm(ServiceProfitModel):
    """A firm of a market: churn multiplied by contagion, churners handed to the market."""

    def __init__(self, scenario, seed, key, persons, people, contagion) -> None:
        self.people = people
        self.contagion = contagion
        self.churned: list[tuple[int, float]] = []
        super().__init__(scenario, seed, key=key, people=(persons, people[1]))

    def churn_multiplier(self, uid: int) -> float:
        exposure, since, decay, uplift = self.contagion
        return choice.contagion_factor(exposure, since, uid, self.week, decay, uplift)

    def retire(self, customer: Customer) -> None:
        self.churned.append((customer.uid, customer.satisfaction))
        super().retire(customer)


def run_market(market: Market, seed: int = 0) -> MarketResult:
    """One run of a market on Mesa; with the numba backend's ``precision="float64"`` the
    same run bit for bit."""
    setup = prepare(market, seed)
    weeks = market.weeks
    people = setup.new_people()
    constants = setup.constants
    uplift = constants[choice.K_UPLIFT]
    contagion = (people[6], people[7], setup.decay, uplift)
    firms = [
        MarketFirm(
            market.firms[name], seed, setup.firm_keys[f], setup.initial[f], people, contagion
        )
        for f, name in enumerate(setup.names)
    ]
    n_firms = len(firms)
    joiners = np.empty(setup.capacity, np.int64)
    flows = np.zeros((weeks, n_firms + 1, n_firms + 1), np.int64)
    arrived = setup.arrived
    contagion_tally = np.zeros(6)
    arrivals = market.market.prospects.arrivals_per_week
    indptr, indices = setup.network.indptr, setup.network.indices
    status, _segment, sat, review, _former, _memory, exposure, since = people
    with np.errstate(over="ignore"):  # the counter-based draws wrap in uint64 on purpose
        for now in range(weeks):
            arrived = choice.arrive(people[0], arrived, setup.capacity, setup.key, now, arrivals)
            for x in firms:
                x.churned = []
                x.step_front()
            reviews = np.zeros((n_firms, 2))
            for f, x in enumerate(firms):
                sums = tuple(contagion_tally)
                seen = (reviews[f, 0], reviews[f, 1])
                for c in x.customers:
                    row, multiplier = choice.contagion_seen(
                        exposure, since, c.uid, now, setup.decay, uplift
                    )
                    sums = choice.tally_contagion(sums, row, False, multiplier)
                    reviewing = choice.show_customer(
                        sat, review, c.uid, f, c.satisfaction, x.params.detractor_threshold,
                        c.ever_complained,
                    )  # fmt: skip
                    seen = choice.tally_review(seen, reviewing, c.satisfaction)
                for uid, satisfaction in x.churned:
                    row, multiplier = choice.contagion_seen(
                        exposure, since, uid, now, setup.decay, uplift
                    )
                    sums = choice.tally_contagion(sums, row, True, multiplier)
                    if status[uid] == f:
                        choice.show_churner(people, uid, f, satisfaction)
                contagion_tally[:] = sums
                reviews[f] = seen
            records = [x.params for x in firms]
            attention, price, reference = firm_view(setup, records, arrived)
            reputation = np.array([x.owner.state[firm.F_REPUTATION] for x in firms])
            n_joiners = choice.market_phase(
                people, arrived, indptr, indices, reputation, attention, price, reference,
                reviews, records[0].promoter_threshold, constants, setup.key, np.int64(now),
                flows[now], joiners, setup.decay,
            )  # fmt: skip
            for f, x in enumerate(firms):
                for c in list(x.customers):
                    if status[c.uid] != f:
                        c.remove()  # won by a rival
                newcomers = [
                    Customer(x, int(i), False, segment=int(people[1][i]), start=people[2][i])
                    for i in joiners[:n_joiners].tolist()
                    if status[i] == f
                ]
                x.step_back(newcomers)
    runs = {}
    for name, x in zip(setup.names, firms, strict=True):
        runs[name] = summarise(
            scenario=market.firms[name],
            backend="mesa",
            seed=seed,
            timeseries=x.datacollector.get_model_vars_dataframe().reset_index(drop=True),
            counts=x.totals_counts,
            sums=x.totals_sums,
        )
    add_market_columns(setup.names, runs, flows)
    final = status[:arrived]
    return MarketResult(
        market,
        "mesa",
        seed,
        runs,
        flows,
        people={
            "arrived": int(arrived),
            "prospects": int((final == choice.PROSPECT).sum()),
            "left": int((final == choice.LEFT).sum()),
            "customers": [int((final == f).sum()) for f in range(n_firms)],
        },
        contagion=contagion_tally,
    )
