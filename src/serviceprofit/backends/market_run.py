"""What a market run needs before its first week and what it returns, for both backends.

:func:`prepare` turns a :class:`~serviceprofit.model.market.Market` and a seed into the
run's people (segments, who is whose customer at week 0, room for the prospects who
will arrive), its network (:func:`serviceprofit.model.network.build_network`, from the run's
key) and the keys of its draws; both backends start from it, so they start from the
same people. :class:`MarketResult` is what a market run returns: each firm's
:class:`~serviceprofit.model.result.RunResult` (its weeks and summary, as a firm alone) with
the market's columns added, and who went where.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from serviceprofit.model import choice
from serviceprofit.model.market import Market
from serviceprofit.model.network import CustomerNetwork, build_network
from serviceprofit.model.params import ParamSchedule
from serviceprofit.model.result import RunResult
from serviceprofit.model.rng import Stream, draw, run_key

__all__ = [
    "MARKET_COLUMNS",
    "MarketCheckpoint",
    "MarketResult",
    "MarketSetup",
    "prepare",
    "switching_table",
]

MARKET_COLUMNS = ("market_share", "won_from_rivals", "lost_to_rivals", "lost_to_outside")
SETUP_WEEK = 65535
"""The ``week`` of the draws made before week 0 (segments, initial firms): weeks of a run
are fewer than 5,201, so these never repeat a week's draws."""


@dataclass
class MarketSetup:
    """Everything a market run starts from (both backends)."""

    market: Market
    seed: int
    names: list[str]
    key: np.uint64  # the market's draws: network, choices, arrivals
    firm_keys: list[np.uint64]  # each firm's own draws (its week, its customers)
    schedules: list[ParamSchedule]
    capacity: int  # people the network was built for (arrivals included)
    arrived: int  # people at week 0 (customers and initial prospects)
    segment: np.ndarray  # uint8, one per person
    initial: list[np.ndarray]  # each firm's people at week 0, in id order
    network: CustomerNetwork
    constants: np.ndarray  # choice.N_CHOICE_CONSTANTS float64
    decay: np.ndarray  # choice.decay_table of the contagion's half-life, weeks + 1

    def new_people(self) -> tuple[np.ndarray, ...]:
        """The people's state at week 0 (``choice.market_phase``'s tuple): status, segment,
        satisfaction, review, former firm, memory, exposure, its clock."""
        n = self.capacity
        status = np.full(n, choice.DORMANT, np.int8)
        status[: self.arrived] = choice.PROSPECT
        for f, persons in enumerate(self.initial):
            status[persons] = f
        return (
            status,
            self.segment,
            np.full(n, math.nan),
            np.full(n, -1, np.int8),
            np.full(n, -1, np.int8),
            np.full(n, math.nan),
            np.zeros(n),
            np.zeros(n, np.int32),
        )


def _arrivals_bound(mean: float, weeks: int) -> int:
    """Prospects who can arrive in ``weeks`` weeks of Poisson(``mean``) arrivals, with room
    for eight standard deviations (a run that meets the bound stops waking people)."""
    total = mean * weeks
    return math.ceil(total + 8.0 * math.sqrt(total) + 10.0) if total > 0 else 0


def prepare(market: Market, seed: int, network: CustomerNetwork | None = None) -> MarketSetup:
    """People, network and keys of one market run (docs/ODD.md, market initialisation).

    ``network``: the run's network when already built (a resumed run has it in its
    checkpoint; building it again would give the same arrays, slowly)."""
    spec = market.market
    names = list(market.firms)
    sequence = np.random.SeedSequence(seed)
    key = run_key(sequence)
    firm_keys = [
        run_key(np.random.SeedSequence(seed, spawn_key=(1 + f,))) for f in range(len(names))
    ]
    schedules = [ParamSchedule(market.firms[name]) for name in names]
    arrived = spec.customers + spec.prospects.initial
    capacity = arrived + _arrivals_bound(spec.prospects.arrivals_per_week, market.weeks)
    p0 = schedules[0].records[0]
    cumulative = np.asarray(p0.segment_cumulative[: p0.n_segments])
    people = np.arange(capacity)
    u = draw(key, Stream.SEGMENT, SETUP_WEEK, people)
    segment = np.minimum(np.searchsorted(cumulative, u, side="right"), p0.n_segments - 1)
    segment = segment.astype(np.uint8)
    # week 0's customers: a random order of the first ``customers`` people, cut by share
    order = np.argsort(
        draw(key, Stream.CHOICE, SETUP_WEEK, people[: spec.customers]), kind="stable"
    )
    counts = market.initial_customers()
    initial, at = [], 0
    for name in names:
        initial.append(np.sort(order[at : at + counts[name]]).astype(np.int64))
        at += counts[name]
    net = spec.network
    if network is None and net.average_degree > 0 and capacity > net.average_degree:
        network = build_network(
            key,
            capacity,
            net.kind,
            net.average_degree,
            rewiring=net.rewiring,
            exponent=net.exponent,
            homophily=net.homophily,
            segment=segment,
        )
    elif network is None:
        network = CustomerNetwork(np.zeros(capacity + 1, np.int64), np.zeros(0, np.int32))
    c = spec.choice
    constants = np.zeros(choice.N_CHOICE_CONSTANTS)
    constants[choice.K_BETA_REPUTATION] = c.beta_reputation
    constants[choice.K_BETA_EXPERIENCE] = c.beta_experience
    constants[choice.K_BETA_PRICE] = c.beta_price
    constants[choice.K_BETA_REFERRAL] = c.beta_referral
    constants[choice.K_SWITCHING_COST] = c.switching_cost
    constants[choice.K_OUTSIDE_VALUE] = c.outside_value
    constants[choice.K_PRIOR_WEIGHT] = c.reputation_prior_weight
    constants[choice.K_REVIEW_REACH] = c.review_reach
    constants[choice.K_UPLIFT] = c.contagion_uplift
    constants[choice.K_HALF_LIFE] = c.contagion_half_life_weeks
    constants[choice.K_CHURNER_SEARCH] = c.churner_search
    return MarketSetup(
        market, seed, names, key, firm_keys, schedules, capacity, arrived, segment, initial,
        network, constants, choice.decay_table(c.contagion_half_life_weeks, market.weeks),
    )  # fmt: skip


def firm_view(setup: MarketSetup, records: list[Any], arrived: int) -> tuple[np.ndarray, ...]:
    """The firms as choosers see them in a week (``choice.firm_offers``): attention,
    price per segment, each segment's mean price. ``records`` are the firms' parameter
    records of the week."""
    c = setup.market.market.choice
    n_firms = len(records)
    width = max(r.n_segments for r in records)
    segment_spend = np.ones((n_firms, width))
    for f, p in enumerate(records):
        segment_spend[f, : p.n_segments] = p.segment_spend[: p.n_segments]
    attention = np.zeros(n_firms)
    price = np.ones((n_firms, width))
    reference = np.ones(width)
    choice.firm_offers(
        np.array([p.marketing_spend for p in records], np.float64),
        np.array([p.n_segments for p in records], np.int64),
        segment_spend, arrived, c.cost_per_impression, c.attention_floor,
        attention, price, reference,
    )  # fmt: skip
    return attention, price, reference


@dataclass
class MarketCheckpoint:
    """A numba market run stopped at the start of week ``week``: every state array, the
    metrics so far, the network and what the run was made from (seed, each firm's
    parameter records in force before ``week``), as numpy arrays; picklable.

    Pass it to ``simulate_market(..., resume=checkpoint)`` to run on: the market may
    differ from the checkpoint's only by events at weeks ``>= week``.
    """

    week: int
    arrays: dict[str, np.ndarray]


@dataclass
class MarketResult:
    """A market run: each firm's run (with the market's columns), who went where."""

    market: Market
    backend: str
    seed: int
    firms: dict[str, RunResult]
    flows: np.ndarray  # (weeks, 1 + firms, 1 + firms): origin prospect/firm -> outside/firm
    people: dict[str, Any] = field(default_factory=dict)
    contagion: np.ndarray = field(default_factory=lambda: np.zeros(6))
    """``choice.tally_contagion`` over the run: customers with a recently churned
    neighbour (decisions, churns, sum of hazard multipliers), then the others."""
    checkpoint: MarketCheckpoint | None = None
    """Where the run stopped, to resume from (numba, with ``stop`` or ``resume`` given);
    else None."""

    def contagion_ratio(self) -> tuple[float, float]:
        """(churn rate of customers with a recently churned neighbour over the others',
        the ratio their mean hazard multipliers imply)."""
        t = self.contagion
        measured = (t[1] / t[0]) / (t[4] / t[3])
        implied = (t[2] / t[0]) / (t[5] / t[3])
        return float(measured), float(implied)

    def timeseries(self) -> pd.DataFrame:
        """One row per firm per week: a ``firm`` column, every metric and the market's."""
        frames = []
        for name, run in self.firms.items():
            frame = run.timeseries.copy()
            frame.insert(0, "firm", name)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def summaries(self) -> dict[str, dict[str, Any]]:
        return {name: run.summary for name, run in self.firms.items()}


def add_market_columns(names: list[str], runs: dict[str, RunResult], flows: np.ndarray) -> None:
    """Each firm's ``market_share`` (of all firms' customers at the end of the week) and
    its switching flows per week, into its time series; with two summary figures."""
    active = np.stack([runs[n].timeseries["customers_active"].to_numpy() for n in names])
    total = active.sum(axis=0)
    for f, name in enumerate(names):
        ts = runs[name].timeseries
        ts["market_share"] = np.where(total > 0, active[f] / np.maximum(total, 1), 0.0)
        into = flows[:, :, 1 + f]
        ts["won_from_rivals"] = into[:, 1:].sum(axis=1) - into[:, 1 + f]
        ts["won_from_prospects"] = into[:, 0]
        out = flows[:, 1 + f, :]
        ts["lost_to_rivals"] = out[:, 1:].sum(axis=1) - out[:, 1 + f]
        ts["lost_to_outside"] = out[:, 0]
        summary = runs[name].summary
        summary["firm"] = name
        summary["market_share_final"] = float(ts["market_share"].iloc[-1])
        summary["won_from_rivals_total"] = int(ts["won_from_rivals"].sum())
        summary["lost_to_rivals_total"] = int(ts["lost_to_rivals"].sum())
        summary["lost_to_outside_total"] = int(ts["lost_to_outside"].sum())


def switching_table(names: list[str], flows: np.ndarray) -> pd.DataFrame:
    """Who went where, per year: one row per (year, from, to) with a count (from
    ``prospect`` or a firm, to ``outside`` or a firm), nonzero rows only."""
    origins = ["prospect", *names]
    destinations = ["outside", *names]
    rows = []
    for year in range(math.ceil(flows.shape[0] / 52)):
        block = flows[year * 52 : (year + 1) * 52].sum(axis=0)
        for i, origin in enumerate(origins):
            for j, destination in enumerate(destinations):
                if block[i, j]:
                    rows.append((year + 1, origin, destination, int(block[i, j])))
    return pd.DataFrame(rows, columns=["year", "from", "to", "people"])
