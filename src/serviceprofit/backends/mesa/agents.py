"""Customers, staff and the owner as Mesa agents.

Each agent holds its state as attributes and lives its week by calling the one
definition of that week in :mod:`serviceprofit.model.week` and :mod:`serviceprofit.model.firm`
(the numba backend calls the same functions over arrays). Every draw comes from the
model's dice, keyed on (run, purpose, week, agent), so the agent meets the same luck in
every scenario with the same seed, and in both backends. The order of a week lives in
``model.py``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import mesa

from serviceprofit.model import firm, week
from serviceprofit.model.firm import F_CASH, F_OWNER_SATISFACTION
from serviceprofit.model.rules import NO_OUTCOME
from serviceprofit.model.week import ACTIVE, EVER_COMPLAINED, OPEN

if TYPE_CHECKING:
    import numpy as np

    from serviceprofit.backends.mesa.model import ServiceProfitModel
    from serviceprofit.model.params import Params
    from serviceprofit.model.week import Tally


class Customer(mesa.Agent):
    """A customer: satisfaction against expectation, an open issue or none, a channel.

    ``flags`` holds its yes/no state as bits (:mod:`serviceprofit.model.week`): an issue open,
    not yet contacted, complained about, a channel hop, a moment of truth, ever complained.
    """

    model: ServiceProfitModel

    def __init__(
        self,
        model: ServiceProfitModel,
        uid: int,
        initial: bool,
        segment: int | None = None,
        start: float = math.nan,
    ) -> None:
        """A new customer; in a market, a person of a known ``segment``, and a returning
        former customer ``start``s from their remembered satisfaction (NaN: a new one)."""
        super().__init__(model)
        self.uid = uid
        if segment is None:
            made = week.new_customer(model.params, model.dice, uid, initial)
        else:
            made = week.new_customer_in_segment(model.params, model.dice, uid, segment, initial)
        self.segment, self.channel, self.satisfaction, self.expectation, self.tenure = made
        if not initial and not math.isnan(start):
            self.satisfaction = float(start)
        self.lifetime_revenue = 0.0
        self.flags = ACTIVE
        self.department = 0
        self.issue_age = 0
        self.handoffs = 0
        self.new_handoffs = 0
        self.outcome = NO_OUTCOME
        self.outcome_week = 0
        self.contacted = False

    @property
    def issue_open(self) -> bool:
        return bool(self.flags & OPEN)

    @property
    def ever_complained(self) -> bool:
        return bool(self.flags & EVER_COMPLAINED)

    # 3-4. issues and routing ---------------------------------------------------
    def develop_issue(self, p: Params, chances: list[float], t: Tally) -> None:
        """Maybe a new issue (self-service first if routine); route an open one."""
        self.contacted = False
        self.flags, self.department, self.issue_age, self.handoffs, self.new_handoffs = (
            week.customer_issue(
                p,
                self.model.dice,
                self.uid,
                self.flags,
                self.department,
                self.issue_age,
                self.handoffs,
                chances[self.segment],
                t,
            )
        )

    # 5-6. service, outcome, complaint ----------------------------------------
    def be_served(
        self,
        p: Params,
        share: float,
        servers: np.ndarray,
        pools: tuple[Any, Any],
        t: Tally,
    ) -> None:
        model = self.model
        (
            self.flags,
            self.channel,
            self.issue_age,
            self.handoffs,
            self.satisfaction,
            self.outcome,
            self.outcome_week,
            server,
            contact,
        ) = week.customer_service(
            p,
            model.dice,
            self.uid,
            model.week,
            self.flags,
            self.segment,
            self.channel,
            self.department,
            self.issue_age,
            self.handoffs,
            self.new_handoffs,
            self.satisfaction,
            self.expectation,
            self.outcome,
            self.outcome_week,
            share,
            servers,
            pools[0],
            pools[1],
            t,
        )
        if server >= 0:
            self.contacted = True
            model.servers[server].record_contact(contact)

    # 7-9. churn, revenue, word of mouth ----------------------------------------
    def settle(self, p: Params, t: Tally) -> None:
        """Leave, or pay this week's spend and grow in tenure."""
        model = self.model
        (
            self.flags,
            self.satisfaction,
            self.tenure,
            self.lifetime_revenue,
            model.survivors,
        ) = week.customer_settle(
            p,
            model.dice,
            self.uid,
            model.week,
            self.flags,
            self.segment,
            self.tenure,
            self.satisfaction,
            self.expectation,
            self.lifetime_revenue,
            self.outcome,
            self.outcome_week,
            self.contacted,
            1.0,  # no bound on the churn hazard: the rule is evaluated for everyone
            model.churn_multiplier(self.uid),
            model.survivors,
            t,
        )
        if not self.flags & ACTIVE:
            model.retire(self)


class Staff(mesa.Agent):
    """A member of staff: skill, satisfaction, a time standard, a department."""

    model: ServiceProfitModel

    def __init__(self, model: ServiceProfitModel, uid: int, department: int, initial: bool) -> None:
        super().__init__(model)
        p = model.params
        self.uid = uid
        self.department = department
        self.skill, self.tenure = week.new_staff(p, model.dice, uid, initial)
        self.satisfaction = week.rules.STAFF_INITIAL_SATISFACTION
        self.standard = p.handle_time  # time per contact taken as normal (hours)
        self.time_taken = p.handle_time
        self.mirror = self.satisfaction
        self.served_fixed = 0  # satisfaction of the customers served, in fixed point
        self.served = 0

    def record_contact(self, satisfaction_fixed: int) -> None:
        self.served_fixed += satisfaction_fixed
        self.served += 1

    def step(self, p: Params, t: Tally) -> None:
        """Satisfaction, skill and time standard move; then perhaps quit."""
        model = self.model
        pressure = model.pressure[min(self.department, len(model.pressure) - 1)]
        (
            self.satisfaction,
            self.skill,
            self.standard,
            self.tenure,
            self.mirror,
            quits,
        ) = week.staff_week(
            p,
            model.dice,
            self.uid,
            model.owner.training,
            pressure,
            self.satisfaction,
            self.skill,
            self.standard,
            self.time_taken,
            self.tenure,
            self.mirror,
            self.served_fixed,
            self.served,
        )
        self.served_fixed, self.served = 0, 0
        if quits:
            t.counts[week.C_STAFF_QUITS] += 1
            self.remove()


class Owner(mesa.Agent):
    """The owner: holds the books and the firm's state, reviews lagged KPIs on its policy,
    staffs toward its headcount target (:mod:`serviceprofit.model.firm`)."""

    model: ServiceProfitModel

    def __init__(self, model: ServiceProfitModel, p: Params, weeks: int) -> None:
        super().__init__(model)
        self.state, self.pending, self.history = firm.new_firm(p, weeks)

    def step(self, p: Params) -> bool:
        """Reorganise if the departments changed, review on schedule; True if reorganised."""
        return bool(firm.begin_week(p, self.state, self.history, self.model.dice, self.model.week))

    @property
    def training(self) -> float:
        return float(self.state[firm.F_TRAINING])

    @property
    def cash(self) -> float:
        return float(self.state[F_CASH])

    @property
    def satisfaction(self) -> float:
        """The owner's own satisfaction: its return against the required return."""
        return float(self.state[F_OWNER_SATISFACTION])
