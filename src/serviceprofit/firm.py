"""The firm around the agents: the owner's books and levers, product, reputation.

Both backends keep their customers and staff their own way (Mesa agents, or arrays)
and hand each week's tallies to one :class:`Firm`, which applies the owner's policy,
plans hiring, draws acquisitions, keeps the accounts and writes the week's metrics row.
Firm-level work is a few dozen operations a week, so it stays plain Python, shared by
both backends: the accounts cannot differ between them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from . import rules
from .params import Params, ParamSchedule
from .rng import Stream

__all__ = ["METRICS", "Firm", "Tally"]

METRICS: tuple[str, ...] = (
    "week",
    "customers_active",
    "customers_acquired",
    "customers_churned",
    "churn_rate",
    "customer_satisfaction",
    "nps",
    "contacts",
    "fcr",
    "handoffs_per_contact",
    "backlog",
    "complaints",
    "staff_active",
    "staff_satisfaction",
    "staff_quits",
    "time_per_contact",
    "revenue",
    "cost_wages",
    "cost_training",
    "cost_technology",
    "cost_marketing",
    "cost_turnover",
    "cost_contacts",
    "cost_total",
    "cost_to_serve",
    "profit",
    "cumulative_profit",
    "cash",
)


@dataclass(slots=True)
class Tally:
    """What one week's agents did, counted by the backend for the firm."""

    customers_start: int = 0
    customers_active: int = 0
    acquired: int = 0
    churned: int = 0
    churned_complained: int = 0
    churned_revenue: float = 0.0
    satisfaction_sum: float = 0.0
    promoters: int = 0
    detractors: int = 0
    contacts: int = 0
    first_contacts: int = 0
    first_contact_resolved: int = 0
    handoffs: int = 0
    backlog: int = 0
    complaints: int = 0
    self_service_uses: int = 0
    contact_cost: float = 0.0
    time_taken_sum: float = 0.0
    demand_hours: float = 0.0
    revenue: float = 0.0
    staff_active: int = 0
    staff_satisfaction_sum: float = 0.0
    staff_quits: int = 0
    staff_laid_off: int = 0
    staff_hired: int = 0
    # diagnostics for the calibration claims (per-contact experience and defection)
    experience_first_sum: float = 0.0
    experience_first_n: int = 0
    experience_handoff_sum: float = 0.0
    experience_handoff_n: int = 0

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


class Firm:
    """Owner, books and firm-level state, advanced one week at a time."""

    def __init__(self, schedule: ParamSchedule, key: np.uint64, staff: int, cash: float) -> None:
        self.schedule = schedule
        self.key = int(key)
        p0 = schedule(0)
        self.cash = cash
        self.cumulative_profit = 0.0
        self.reputation = 0.5
        self.fixed_share = 0.0
        self.headcount_target = float(staff)
        # Departments' work besides contacts, which the owner staffs for too.
        self.other_work_hours = staff * max(0.0, p0.paid_hours - p0.contact_hours)
        self.training = 1.0
        self.departments = p0.departments
        self.reorganised_week = 0 if p0.reorganising_at_start else -(10**9)
        self.pending_hires: list[int] = []
        self.history: list[dict[str, float]] = []
        self.demand_history: list[float] = []
        self.kpis: dict[str, float] = {}
        self.owner_satisfaction = 0.5

    # -- randomness at the firm level: a fresh generator per (week, purpose) keeps
    #    common random numbers across scenarios whatever else differs
    def _rng(self, week: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.key, week, stream])

    # -- start of week ---------------------------------------------------------
    def begin_week(self, week: int) -> Params:
        """Apply reorganisations and the owner's review; return the week's params."""
        p = self.schedule(week)
        if p.departments != self.departments:
            self.departments = p.departments
            self.reorganised_week = week
        if week > 0 and week % p.review_every == 0:
            self._review(week, p)
        return p

    def _review(self, week: int, p: Params) -> None:
        """The owner reads lagged, noisy KPIs and applies its policy."""
        lagged = len(self.history) - 1 - p.survey_lag_weeks
        if lagged < 0:
            return
        window = self.history[max(0, lagged - p.review_every + 1) : lagged + 1]
        revenue = sum(r["revenue"] for r in window)
        profit = sum(r["profit"] for r in window)
        margin = profit / revenue if revenue > 0 else -1.0
        noise = self._rng(week, Stream.SURVEY).normal(0.0, 1.0, 2) * p.survey_noise
        customer_kpi = window[-1]["customer_satisfaction"] + noise[0]
        staff_kpi = window[-1]["staff_satisfaction"] + noise[1]
        demand = self.demand_history[max(0, lagged - p.review_every + 1) : lagged + 1]
        contact_hours = (sum(demand) / len(demand)) / (p.productivity * p.target_utilisation)
        planned = (self.other_work_hours + contact_hours) / p.paid_hours
        self.kpis = {
            "margin": margin,
            "customer_satisfaction": customer_kpi,
            "staff_satisfaction": staff_kpi,
            "planned_headcount": planned,
        }
        self.owner_satisfaction = rules.clip01(0.5 + 2.0 * (margin - p.required_margin))
        self.headcount_target, self.training = rules.owner_review(
            p.policy,
            margin,
            customer_kpi,
            staff_kpi,
            p.required_margin,
            p.satisfaction_target,
            p.staff_satisfaction_target,
            self.headcount_target,
            self.training,
            max(1.0, planned),
            p.headcount_step,
            p.training_step,
        )
        self.headcount_target = max(1.0, self.headcount_target)

    def staffing(self, week: int, p: Params, staff_active: int) -> tuple[int, int]:
        """(hires arriving this week, staff to lay off now) toward the headcount target.

        Vacancies are filled after the hiring lag; a target below the staff on hand is
        met by layoffs at once (and cancels hires still in the pipeline).
        """
        target = round(self.headcount_target)
        arriving = sum(1 for w in self.pending_hires if w <= week)
        self.pending_hires = [w for w in self.pending_hires if w > week]
        on_hand = staff_active + arriving
        layoffs = 0
        if on_hand > target:
            self.pending_hires.clear()
            layoffs = on_hand - target
        else:
            gap = target - on_hand - len(self.pending_hires)
            self.pending_hires.extend([week + p.hiring_lag_weeks] * max(0, gap))
        return arriving, layoffs

    def capacity_factor(self, week: int, p: Params) -> float:
        """Share of contact hours left for contacts: coordination, and cross-training
        while a reorganisation is bedding in."""
        factor = 1.0 - p.coordination_time_share
        if 0 <= week - self.reorganised_week < p.merge_weeks:
            factor *= 0.8
        return factor

    def issue_climate(self, week: int, p: Params) -> tuple[float, float]:
        """(upgrade surge, share of issues already fixed) this week."""
        surge = 0.0
        if p.upgrade_every_weeks > 0:
            since = week % p.upgrade_every_weeks
            if week > 0 and since == 0:
                self.fixed_share *= 1.0 - p.upgrade_unfixes
            surge = rules.upgrade_surge(
                since if week >= p.upgrade_every_weeks else -1, p.upgrade_issue_surge
            )
        return surge, self.fixed_share

    # -- end of week -----------------------------------------------------------
    def _last(self, metric: str) -> float:
        """A rate with no contacts to measure it this week carries last week's value."""
        return self.history[-1][metric] if self.history else 0.0

    def acquisitions(self, week: int, p: Params, promoters: int) -> tuple[int, int]:
        """New customers this week: (bought by marketing, referred by promoters)."""
        rng = self._rng(week, Stream.ACQUISITION)
        bought = rules.marketing_acquisitions(
            p.marketing_spend, p.cost_per_acquisition, self.reputation, p.b.reputation_elasticity
        )
        referred = promoters * p.b.referral_rate
        return int(rng.poisson(bought)), int(rng.poisson(referred))

    def close_week(self, week: int, p: Params, t: Tally) -> dict[str, float]:
        """Keep the accounts, update reputation and product, return the metrics row."""
        wage_bill = t.staff_active * p.wage_per_week
        cost_training = t.staff_active * p.training_per_head * self.training
        if 0 <= week - self.reorganised_week < p.merge_weeks:
            cost_training += t.staff_active * p.training_per_head  # cross-training
        cost_technology = t.staff_active * p.technology_per_head
        cost_marketing = p.marketing_spend
        separations = t.staff_quits + t.staff_laid_off
        cost_turnover = separations * p.turnover_cost_share * p.wage_per_week * 52.0
        cost_contacts = (
            t.contact_cost
            + t.self_service_uses * p.self_service_cost
            + t.complaints * p.empowerment * p.recovery_cost
        )
        cost_total = (
            wage_bill
            + cost_training
            + cost_technology
            + cost_marketing
            + cost_turnover
            + cost_contacts
        )
        profit = t.revenue - cost_total
        self.cumulative_profit += profit
        self.cash += profit
        service_share = p.contact_hours / p.paid_hours
        service_cost = cost_contacts + service_share * (wage_bill + cost_training + cost_technology)
        active = t.customers_active
        nps = 100.0 * (t.promoters - t.detractors) / active if active else 0.0
        self.reputation = rules.reputation_update(
            self.reputation, nps, p.b.reputation_time_constant
        )
        if t.contacts > 0:
            self.fixed_share = rules.fixed_share_update(
                self.fixed_share,
                p.feedback_share,
                p.b.feedback_learning_rate,
                p.b.max_fixable_share,
            )
        row = {
            "week": week + 1,
            "customers_active": active,
            "customers_acquired": t.acquired,
            "customers_churned": t.churned,
            "churn_rate": t.churned / t.customers_start if t.customers_start else 0.0,
            "customer_satisfaction": t.satisfaction_sum / active if active else 0.0,
            "nps": nps,
            "contacts": t.contacts,
            "fcr": (
                t.first_contact_resolved / t.first_contacts
                if t.first_contacts
                else self._last("fcr")
            ),
            "handoffs_per_contact": t.handoffs / t.contacts if t.contacts else 0.0,
            "backlog": t.backlog,
            "complaints": t.complaints,
            "staff_active": t.staff_active,
            "staff_satisfaction": (
                t.staff_satisfaction_sum / t.staff_active if t.staff_active else 0.0
            ),
            "staff_quits": t.staff_quits,
            "time_per_contact": (
                t.time_taken_sum / t.contacts if t.contacts else self._last("time_per_contact")
            ),
            "revenue": t.revenue,
            "cost_wages": wage_bill,
            "cost_training": cost_training,
            "cost_technology": cost_technology,
            "cost_marketing": cost_marketing,
            "cost_turnover": cost_turnover,
            "cost_contacts": cost_contacts,
            "cost_total": cost_total,
            "cost_to_serve": (
                service_cost / t.contacts if t.contacts else self._last("cost_to_serve")
            ),
            "profit": profit,
            "cumulative_profit": self.cumulative_profit,
            "cash": self.cash,
        }
        self.history.append(row)
        self.demand_history.append(t.demand_hours)
        return row
