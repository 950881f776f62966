"""The service-profit chain as a Mesa model: the parameters, the wiring, the order of a week.

One step is one week, in the order of MODEL.md: the owner reviews, staff update and
perhaps quit, customers develop issues, contacts are routed and served within capacity,
customers complain, churn and pay, word of mouth spreads, marketing acquires, the books
close and the DataCollector records one row of the metrics.
"""

from __future__ import annotations

import bisect
from functools import partial
from typing import Any

import mesa
import numpy as np

from .. import rules
from ..firm import METRICS, Firm, Tally
from ..params import Params, ParamSchedule
from ..rng import Stream, draw, run_key
from ..scenario import Scenario
from .agents import Customer, Owner, Staff

__all__ = ["ServiceProfitModel"]


def _metric(model: ServiceProfitModel, name: str) -> float:
    return model.row[name]


class Dice:
    """This week's uniform draws, rolled for all agent ids at once per purpose."""

    def __init__(self, key: np.uint64) -> None:
        self.key = key
        self.week = 0
        self.size = 1
        self._arrays: dict[int, list[float]] = {}

    def roll(self, week: int, size: int) -> None:
        self.week, self.size = week, max(size, 1)
        self._arrays.clear()

    def __call__(self, stream: int, uid: int) -> float:
        values = self._arrays.get(stream)
        if values is None or uid >= len(values):
            n = max(uid + 1, self.size)
            values = draw(self.key, stream, self.week, np.arange(n)).tolist()
            self._arrays[stream] = values
        return values[uid]


class ServiceProfitModel(mesa.Model):
    """A firm of staff and customers run by an owner, one week per step.

    ``ServiceProfitModel(scenario, seed=0)``; keyword overrides in the scenario's dotted
    vocabulary are applied on top (``**{"strategy.process": "cost_minimised"}``).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        seed: int = 0,
        keep_agents: bool = False,
        **overrides: Any,
    ) -> None:
        scenario = scenario if scenario is not None else Scenario()
        if overrides:
            scenario = scenario.with_overrides(overrides, source="model keyword arguments")
        sequence = np.random.SeedSequence(seed)
        super().__init__(rng=np.random.default_rng(sequence))
        self.config = scenario  # Mesa 3.5 reserves model.scenario
        self.seed = seed
        self.key = run_key(sequence)
        self.schedule_params = ParamSchedule(scenario)
        self.params: Params = self.schedule_params(0)
        self.firm = Firm(
            self.schedule_params, self.key, scenario.population.staff, scenario.owner.initial_cash
        )
        self.week = 0
        self.dice = Dice(self.key)
        self.pressure = [0.0] * self.params.departments
        self.keep_agents = keep_agents
        self.departed: list[dict[str, Any]] = []
        self.defection_at_risk = [0, 0, 0, 0]
        self.defection_churned = [0, 0, 0, 0]
        self.totals = Tally()
        self.tally = Tally()
        self.row: dict[str, float] = {}
        self.next_customer_uid = 0
        self.next_staff_uid = 0
        self.dept_staff: list[list[Staff]] = [[] for _ in range(self.params.departments)]

        self.owner = Owner(self)
        self.dice.roll(0, scenario.population.customers)
        self._create_staff(scenario.population.staff, initial=True)
        self._create_customers(scenario.population.customers, initial=True)
        self.datacollector = mesa.DataCollector(
            model_reporters={name: partial(_metric, name=name) for name in METRICS}
        )
        self.running = True

    # -- agent sets --------------------------------------------------------------
    @property
    def customers(self) -> mesa.agent.AgentSet:
        return self.agents_by_type.get(Customer, mesa.agent.AgentSet([], random=self.random))

    @property
    def staff(self) -> mesa.agent.AgentSet:
        return self.agents_by_type.get(Staff, mesa.agent.AgentSet([], random=self.random))

    # -- creation ------------------------------------------------------------------
    def _create_customers(self, n: int, initial: bool) -> None:
        p, dice = self.params, self.dice
        for _ in range(n):
            uid = self.next_customer_uid
            self.next_customer_uid += 1
            segment = bisect.bisect_right(p.segment_cumulative, dice(Stream.SEGMENT, uid))
            segment = min(segment, len(p.segment_cumulative) - 1)
            expectation = float(p.segment_expectation[segment])
            spread = dice(Stream.INITIAL_SATISFACTION, uid)
            tenure = rules.initial_tenure(dice(Stream.INITIAL_TENURE, uid)) if initial else 0.0
            Customer(
                self,
                uid,
                segment,
                self.draw_channel(dice(Stream.CHANNEL, uid)),
                rules.initial_satisfaction(expectation, spread),
                tenure,
            )

    def _create_staff(self, n: int, initial: bool) -> None:
        p, b = self.params, self.params.b
        for _ in range(n):
            uid = self.next_staff_uid
            self.next_staff_uid += 1
            u = self.dice(Stream.STAFF_INIT, uid)
            skill = rules.initial_staff_skill(b.initial_skill, u) if initial else b.hire_skill
            tenure = rules.initial_tenure(u) if initial else 0.0
            department = self._least_staffed_department()
            member = Staff(
                self,
                uid,
                department,
                skill,
                rules.STAFF_INITIAL_SATISFACTION,
                p.handle_time,
                tenure,
            )
            self.dept_staff[department].append(member)

    def _least_staffed_department(self) -> int:
        sizes = [len(d) for d in self.dept_staff]
        return sizes.index(min(sizes))

    def draw_channel(self, u: float) -> int:
        cumulative = self.params.channel_cumulative
        return min(bisect.bisect_right(cumulative, u), len(cumulative) - 1)

    def retire(self, customer: Customer) -> None:
        if self.keep_agents:
            self.departed.append(_customer_record(customer, status="churned"))
        customer.remove()

    def pick_server(self, department: int, u: float) -> Staff:
        pool = self.dept_staff[department] or [s for d in self.dept_staff for s in d]
        return pool[int(u * len(pool))]

    # -- the week ------------------------------------------------------------------
    def step(self) -> None:
        week = self.week
        t = self.tally = Tally()
        self.dice.roll(week, max(self.next_customer_uid, self.next_staff_uid))

        # 1. Owner: reorganisations and the review of lagged KPIs
        self.owner.step()
        p = self.params

        # 2. Staff: satisfaction, skill, time standard, quits; then hiring and layoffs
        self.staff.shuffle_do("step")
        self._staff_changes(week, p, t)

        # 3. Customers: new issues (and self-service)
        surge, fixed_share = self.firm.issue_climate(week, p)
        customers = self.customers
        t.customers_start = len(customers)
        customers.do("develop_issue", p, surge, fixed_share, t)

        # 4. Routing: demand and work pressure per department, within capacity
        seekers = [c for c in customers if c.issue_open]
        share = self._plan_capacity(p, seekers)

        # 5-6. Service, outcome, complaint
        for customer in seekers:
            customer.be_served(p, share[customer.department], t)

        # 7-8. Churn and revenue
        customers.do("settle", p, t)

        # 9. Word of mouth: promoters refer, NPS feeds reputation (in close_week)
        self._tally_satisfaction(self.customers, p, t)
        bought, referred = self.firm.acquisitions(week, p, t.promoters)

        # 10. Acquisition
        before = self.next_customer_uid
        self._create_customers(bought + referred, initial=False)
        newcomers = [c for c in self.customers if c.uid >= before]
        self._tally_satisfaction(newcomers, p, t)
        t.acquired = bought + referred
        t.customers_active = len(self.customers)

        # 11. Accounting, 12. data collection
        t.staff_active = len(self.staff)
        t.staff_satisfaction_sum = sum(s.satisfaction for s in self.staff)
        self.row = self.firm.close_week(week, p, t)
        self.totals.add(t)
        self.datacollector.collect(self)
        self.week += 1
        self.running = self.week < self.config.weeks

    def _staff_changes(self, week: int, p: Params, t: Tally) -> None:
        if len(self.dept_staff) != p.departments:
            everyone = sorted(self.staff, key=lambda s: s.uid)
            self.dept_staff = [[] for _ in range(p.departments)]
            for i, member in enumerate(everyone):
                member.department = i % p.departments
                self.dept_staff[member.department].append(member)
        on_staff = set(self.staff)
        for pool in self.dept_staff:
            pool[:] = [s for s in pool if s in on_staff]
        hires, layoffs = self.firm.staffing(week, p, len(self.staff))
        for member in sorted(self.staff, key=lambda s: -s.uid)[:layoffs]:
            self.dept_staff[member.department].remove(member)
            member.remove()
        t.staff_laid_off = layoffs
        self._create_staff(hires, initial=False)
        t.staff_hired = hires

    def _plan_capacity(self, p: Params, seekers: list[Customer]) -> list[float]:
        """Work pressure per department sets time per contact and the share served.

        Work (hours at the staff's standard) over available contact hours is the
        pressure; under pressure staff cut time per contact (Oliva and Sterman 2001) and
        still serve only part of the demand; the rest waits.
        """
        n_dept = p.departments
        load = [0.0] * n_dept
        for customer in seekers:
            department = customer.seek_service(p)
            load[department] += 1.0 + p.handoff_time_share * customer.new_handoffs
        hours_per_head = p.contact_hours * p.productivity * self.firm.capacity_factor(self.week, p)
        share = [0.0] * n_dept
        self.pressure = [0.0] * n_dept
        for d, pool in enumerate(self.dept_staff):
            if not pool:
                pool = [s for dept in self.dept_staff for s in dept]
            if not pool:
                continue
            standard = sum(s.standard for s in pool) / len(pool)
            hours = hours_per_head * len(pool)
            pressure = load[d] * standard / hours
            taken = rules.time_per_contact(standard, pressure, p.b.pressure_exponent)
            share[d] = min(1.0, (hours / taken) / load[d]) if load[d] > 0 else 1.0
            self.pressure[d] = pressure
            for member in self.dept_staff[d]:
                member.time_taken = rules.time_per_contact(
                    member.standard, pressure, p.b.pressure_exponent
                )
        return share

    def _tally_satisfaction(self, customers: Any, p: Params, t: Tally) -> None:
        b = p.b
        for c in customers:
            t.satisfaction_sum += c.satisfaction
            kind = rules.nps_class(c.satisfaction, b.promoter_threshold, b.detractor_threshold)
            t.promoters += kind == 1
            t.detractors += kind == -1

    # -- results ---------------------------------------------------------------------
    def customer_table(self) -> list[dict[str, Any]]:
        active = [_customer_record(c, status="active") for c in self.customers]
        return active + self.departed

    def staff_table(self) -> list[dict[str, Any]]:
        return [
            {
                "uid": s.uid,
                "department": s.department,
                "skill": s.skill,
                "satisfaction": s.satisfaction,
                "tenure": s.tenure,
                "time_standard": s.standard,
            }
            for s in self.staff
        ]


def _customer_record(c: Customer, status: str) -> dict[str, Any]:
    return {
        "uid": c.uid,
        "status": status,
        "segment": c.segment,
        "channel": c.channel,
        "satisfaction": c.satisfaction,
        "expectation": c.expectation,
        "tenure": c.tenure,
        "lifetime_revenue": c.lifetime_revenue,
        "ever_complained": c.ever_complained,
        "issue_open": c.issue_open,
    }
