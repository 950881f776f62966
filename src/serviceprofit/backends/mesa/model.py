"""The service-profit chain as a Mesa model: the parameters, the wiring, the order of a week.

One step is one week, in the order of docs/ODD.md: the owner reviews, staff update and
perhaps quit, customers develop issues, contacts are routed and served within capacity,
customers complain, churn and pay, word of mouth spreads, marketing acquires, the books
close and the DataCollector records one row of the metrics. Each agent's part is the
one definition in :mod:`serviceprofit.model.week` and :mod:`serviceprofit.model.firm`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import mesa
import numpy as np

from serviceprofit.backends.mesa.agents import Customer, Owner, Staff
from serviceprofit.model import firm, rules, week
from serviceprofit.model.firm import COUNT_METRICS, METRICS
from serviceprofit.model.params import Params, ParamSchedule
from serviceprofit.model.rng import Dice, run_key
from serviceprofit.model.scenario import Scenario
from serviceprofit.model.week import (
    C_ACQUIRED,
    C_CUSTOMERS_ACTIVE,
    C_CUSTOMERS_START,
    C_STAFF_ACTIVE,
    C_STAFF_HIRED,
    C_STAFF_LAID_OFF,
    N_COUNTS,
    N_SUMS,
    S_STAFF_SATISFACTION,
    SERVER_COLUMNS,
    Tally,
)

__all__ = ["ServiceProfitModel"]


def _metric(model: ServiceProfitModel, name: str) -> float:
    return model.row[name]


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
        *,
        key: np.uint64 | None = None,
        people: tuple[np.ndarray, np.ndarray] | None = None,
        **overrides: Any,
    ) -> None:
        """``key`` and ``people`` make the firm one of a market's (``market_model``): its
        draws' key, and its customers at week 0 as (person ids, every person's segment)."""
        scenario = scenario if scenario is not None else Scenario()
        if overrides:
            scenario = scenario.with_overrides(overrides, source="model keyword arguments")
        sequence = np.random.SeedSequence(seed)
        super().__init__(rng=np.random.default_rng(sequence))
        self.config = scenario  # Mesa 3.5 reserves model.scenario
        self.seed = seed
        self.key = run_key(sequence) if key is None else key
        self.schedule_params = ParamSchedule(scenario)
        self.params: Params = self.schedule_params(0)
        self.week = 0
        self.dice = Dice(self.key)
        self.pressure = [0.0] * self.params.departments
        self.keep_agents = keep_agents
        self.departed: list[dict[str, Any]] = []
        self.totals_counts = [0] * N_COUNTS
        self.totals_sums = [0.0] * N_SUMS
        self.row: dict[str, float] = {}
        self.next_customer_uid = 0
        self.next_staff_uid = 0
        self.dept_staff: list[list[Staff]] = [[] for _ in range(self.params.departments)]
        self.servers: list[Staff] = []
        self.survivors = week.NO_SURVIVORS  # the week's running tally of customers who stay

        self.owner = Owner(self, self.params, scenario.weeks)
        self.dice.roll(0, scenario.population.customers)
        self._create_staff(scenario.population.staff, initial=True)
        if people is None:
            self._create_customers(scenario.population.customers, initial=True)
        else:
            persons, segment = people
            for person in persons.tolist():
                Customer(self, person, True, segment=int(segment[person]))
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
    def _create_customers(self, n: int, initial: bool) -> list[Customer]:
        first = self.next_customer_uid
        self.next_customer_uid += n
        return [Customer(self, uid, initial) for uid in range(first, first + n)]

    def _create_staff(self, n: int, initial: bool) -> None:
        for _ in range(n):
            uid = self.next_staff_uid
            self.next_staff_uid += 1
            sizes = [len(d) for d in self.dept_staff]
            department = week.least_staffed(sizes, len(sizes))
            self.dept_staff[department].append(Staff(self, uid, department, initial))

    def churn_multiplier(self, uid: int) -> float:
        """Factor on a customer's churn hazard: 1 for a firm alone (a market's firm
        multiplies by its neighbours' recent defections)."""
        return 1.0

    def retire(self, customer: Customer) -> None:
        if self.keep_agents:
            self.departed.append(_customer_record(customer, status="churned"))
        customer.remove()

    # -- the week ------------------------------------------------------------------
    def step(self) -> None:
        """One week: steps 1-9, acquisitions by marketing and referrals, steps 11-12."""
        self.step_front()
        bought, referred = firm.acquisitions(
            self.params, self.owner.state, self.dice, self.tally.counts[week.C_PROMOTERS]
        )
        self.step_back(self._create_customers(bought + referred, initial=False))

    def step_front(self) -> None:
        """Steps 1-9 of the week: owner, staff, issues, service, churn, revenue, word of
        mouth (a market's firms all do these before the market phase)."""
        now = self.week
        t = self.tally = Tally()
        counts = t.counts
        self.dice.roll(now, max(self.next_customer_uid, self.next_staff_uid))

        # 1. Owner: reorganisations and the review of lagged KPIs
        p = self.params = self.schedule_params(now)
        self.owner.step(p)

        # 2. Staff: satisfaction, skill, time standard, quits; then hiring and layoffs
        self.staff.shuffle_do("step", p, t)
        self._staff_changes(now, p, counts)

        # 3-4. Customers: new issues (and self-service), routing
        surge, fixed_share = firm.issue_climate(p, self.owner.state, now)
        chances = week.issue_chances(p, surge, fixed_share, [0.0] * p.n_segments)
        customers = self.customers
        counts[C_CUSTOMERS_START] = len(customers)
        customers.do("develop_issue", p, chances, t)
        seekers = [c for c in customers if c.issue_open]

        # capacity: work pressure per department, time per contact, share served
        share = self._plan_capacity(p, t.load)
        servers, pools = self._servers_table(p)

        # 5-6. Service, outcome, complaint
        for customer in seekers:
            customer.be_served(p, share[customer.department], servers, pools, t)

        # 7-9. Churn, revenue, word of mouth
        self.survivors = week.NO_SURVIVORS
        customers.do("settle", p, t)
        week.add_survivors(self.survivors, t)

    def step_back(self, newcomers: list[Customer]) -> None:
        """Steps 10-12: the ``newcomers`` (acquired, or won in a market) join and count in
        word of mouth; the books close; the row is collected."""
        now = self.week
        p = self.params
        t = self.tally
        counts, sums = t.counts, t.sums
        for newcomer in newcomers:
            week.tally_word_of_mouth(p, newcomer.satisfaction, t)
        counts[C_ACQUIRED] = len(newcomers)
        counts[C_CUSTOMERS_ACTIVE] = len(self.customers)

        # 11. Accounting, 12. data collection
        staff = sorted(self.staff, key=lambda s: s.uid)
        counts[C_STAFF_ACTIVE] = len(staff)
        for member in staff:
            sums[S_STAFF_SATISFACTION] += member.satisfaction
        firm.close_week(p, self.owner.state, self.owner.history, now, counts, sums)
        row = self.owner.history[now]
        self.row = {
            name: int(row[i]) if name in COUNT_METRICS else float(row[i])
            for i, name in enumerate(METRICS)
        }
        for i in range(N_COUNTS):
            self.totals_counts[i] += counts[i]
        for i in range(N_SUMS):
            self.totals_sums[i] += sums[i]
        self.datacollector.collect(self)
        self.week += 1
        self.running = self.week < self.config.weeks

    def _staff_changes(self, now: int, p: Params, counts: list[int]) -> None:
        """Reorganise, lay off the newest, hire toward the target."""
        if len(self.dept_staff) != p.departments:
            everyone = sorted(self.staff, key=lambda s: s.uid)
            self.dept_staff = [[] for _ in range(p.departments)]
            for i, member in enumerate(everyone):
                member.department = i % p.departments
                self.dept_staff[member.department].append(member)
        on_staff = set(self.staff)
        for pool in self.dept_staff:
            pool[:] = [s for s in pool if s in on_staff]
        hires, layoffs = firm.staffing(
            p, self.owner.state, self.owner.pending, now, len(self.staff)
        )
        for member in sorted(self.staff, key=lambda s: -s.uid)[:layoffs]:
            self.dept_staff[member.department].remove(member)
            member.remove()
        counts[C_STAFF_LAID_OFF] = int(layoffs)
        self._create_staff(int(hires), initial=False)
        counts[C_STAFF_HIRED] = int(hires)

    def _plan_capacity(self, p: Params, load: np.ndarray) -> list[float]:
        """Share served per department; sets the work pressure and staff's time taken."""
        hours_per_head = (
            p.contact_hours * p.productivity * firm.capacity_factor(p, self.owner.state, self.week)
        )
        everyone = [s for pool in self.dept_staff for s in pool]
        share = [0.0] * p.departments
        self.pressure = [0.0] * p.departments
        for d in range(p.departments):
            pool = self.dept_staff[d] or everyone
            if not pool:
                continue
            standard_sum = 0.0
            for member in pool:
                standard_sum += member.standard
            share[d], pressure = week.capacity_plan(
                p, week.routed_load(p, load, d), standard_sum, len(pool), hours_per_head
            )
            self.pressure[d] = pressure
            for member in self.dept_staff[d]:
                member.time_taken = rules.time_per_contact(
                    member.standard, pressure, p.pressure_exponent
                )
        return share

    def _servers_table(self, p: Params) -> tuple[np.ndarray, tuple[list[int], list[int]]]:
        """Staff as the table of servers a contact reads, in pool order, and the pools'
        (first row, size) per department."""
        self.servers = [s for pool in self.dept_staff for s in pool]
        table = np.zeros((len(self.servers), SERVER_COLUMNS))
        for row, member in enumerate(self.servers):
            week.fill_server(p, table, row, member.skill, member.satisfaction, member.time_taken)
        sizes = [len(pool) for pool in self.dept_staff]
        starts = [sum(sizes[:d]) for d in range(len(sizes))]
        return table, (starts, sizes)

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
