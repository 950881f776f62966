"""A small, deterministic stand-in for the market run, with the game's one operation.

Firms come from a shipped market file (real scenarios, so budgets and levers are
real); the weekly rows are a toy: each firm's service quality follows its levers in
force that week (events applied at their weeks), customers churn more where quality is
low, and the week's noise is drawn from (seed, firm, week) alone, so, as in the real
run, the first weeks do not depend on later decisions and a re-run is exact.

It models the market run's checkpoints: :meth:`FakeMarket.play` stops at ``stop`` and
returns its state there (each firm's customers and levers in force, a copy), and resumes
from such a state; ``weeks_played`` counts the weeks it simulated, so a test can tell a
resumed play from a re-run from week 0. ``resumes = False`` makes it an engine without
checkpoints (the game's fallback).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from serviceprofit.classroom.decisions import KEYS, from_scenario
from serviceprofit.classroom.engine import Checkpoint, Played
from serviceprofit.model.market import load_market

_LEVER_OF_KEY = {key: lever for lever, key in KEYS.items()}


class FakeMarket:
    def __init__(self, market: str = "three_firms") -> None:
        self.market = load_market(market)
        self.calls = 0
        self.weeks_played = 0
        # Part of every state, like the real run's customer network: stored once a game.
        self.network = np.arange(4096, dtype=np.int64)
        self.resumes = True

    @property
    def firms(self) -> tuple[str, ...]:
        return tuple(self.market.firms)

    @property
    def weeks(self) -> int:
        return self.market.weeks

    def scenario(self, firm: str) -> Any:
        return self.market.firms[firm]

    def play(
        self, events: Mapping[str, Any], seed: int, stop: int, resume: Checkpoint | None = None
    ) -> Played:
        self.calls += 1
        if not self.resumes:
            resume = None
        start = 0 if resume is None else resume.week
        assert resume is None or 0 < start < stop <= self.weeks
        self.weeks_played += stop - start
        out, state = {}, {}
        for index, firm in enumerate(self.firms):
            scenario = self.scenario(firm)
            if resume is None:
                levers = from_scenario(scenario).model_dump()
                customers = float(self.market.initial_customers()[firm])
            else:
                customers, saved = resume.state[firm]
                assert np.array_equal(resume.state["network"], self.network)
                levers = dict(saved)
            at = {week: keys for week, keys in events.get(firm, ())}
            staff = float(scenario.population.staff)
            records = []
            for week in range(start, stop):
                for key, value in at.get(week, {}).items():
                    levers[_LEVER_OF_KEY[key]] = value
                noise = np.random.default_rng([seed, index, week]).normal(0.0, 0.02, 3)
                quality = (
                    0.3
                    + 0.3 * levers["empowerment"]
                    + 0.2 * min(1.0, levers["training_per_head"] / 60.0)
                    + 0.2 * min(1.0, levers["handle_time"] / 0.75)
                )
                satisfaction = min(1.0, max(0.0, quality + noise[0]))
                churned = round(customers * max(0.0, 0.012 * (1.0 - satisfaction) + noise[1] / 10))
                acquired = round(levers["marketing_spend"] / 60.0 * (0.5 + satisfaction))
                complaints = round(churned * 0.4)
                quits = round(staff * max(0.0, 0.01 - 0.005 * levers["training_per_head"] / 60))
                customers = max(0.0, customers - churned + acquired)
                revenue = customers * 6.0
                training = levers["training_per_head"] * staff
                technology = levers["technology_spend"] * staff
                cost = staff * 900.0 + training + technology + levers["marketing_spend"]
                records.append(
                    {
                        "week": week,
                        "customers_active": customers,
                        "customers_acquired": acquired,
                        "customers_churned": churned,
                        "churn_rate": churned / max(1.0, customers),
                        "customer_satisfaction": satisfaction,
                        "nps": 200 * satisfaction - 100,
                        "fcr": quality,
                        "handoffs_per_contact": 0.3 if levers["organisation"] == "silo" else 0.05,
                        "complaints": complaints,
                        "staff_active": staff,
                        "staff_satisfaction": 0.4 + 0.2 * levers["empowerment"] + noise[2],
                        "staff_quits": quits,
                        "revenue": revenue,
                        "cost_training": training,
                        "cost_technology": technology,
                        "cost_marketing": levers["marketing_spend"],
                        "cost_total": cost,
                        "profit": revenue - cost,
                    }
                )
            out[firm] = pd.DataFrame(records)
            state[firm] = (customers, dict(levers))
        state["network"] = self.network.copy()
        checkpoint = Checkpoint(stop, state) if self.resumes else None
        return Played(out, start, checkpoint)

    def rows(self, events: Mapping[str, Any], weeks: int, seed: int) -> dict[str, pd.DataFrame]:
        """Weeks ``0 .. weeks - 1`` from week 0."""
        return self.play(events, seed, weeks).rows
