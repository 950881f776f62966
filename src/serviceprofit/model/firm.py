"""The firm's week: the owner's review, staffing, reorganisation, the issue climate,
acquisitions, the accounts and the metrics row; one definition for both backends.

The firm's state is a small flat record both backends hold: ``firm`` (a float64 array
indexed by the ``F_*`` constants), ``pending`` (hires on their way, by week of arrival)
and ``history`` (one row of :data:`METRICS` per week, plus the demand for contact hours
the owner plans staff from). Its functions are written for numba (``register_jitable``)
and run as plain Python too: the Mesa model calls them once a week from its ``Owner``,
the numba backend inlines them into its compiled run. Firm-level randomness (survey
noise, acquisitions) is counter-based, like every other draw (:mod:`serviceprofit.model.rng`).
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import register_jitable

from serviceprofit.model import rules
from serviceprofit.model.outcomes import WEEKLY_METRICS
from serviceprofit.model.rng import Stream, normal_pair, poisson, roll
from serviceprofit.model.week import (
    C_ACQUIRED,
    C_BACKLOG,
    C_CHURNED,
    C_COMPLAINTS,
    C_CONTACTS,
    C_CUSTOMERS_ACTIVE,
    C_CUSTOMERS_START,
    C_DETRACTORS,
    C_FIRST_CONTACTS,
    C_FIRST_RESOLVED,
    C_HANDOFFS,
    C_PROMOTERS,
    C_SELF_SERVICE_USES,
    C_STAFF_ACTIVE,
    C_STAFF_LAID_OFF,
    C_STAFF_QUITS,
    S_CONTACT_COST,
    S_DEMAND_HOURS,
    S_REVENUE,
    S_SATISFACTION,
    S_STAFF_SATISFACTION,
    S_TIME_TAKEN,
)

__all__ = ["COUNT_METRICS", "METRICS", "N_FIRM", "new_firm"]

#: The weekly metrics, in column order: declared once, with their units and how they
#: aggregate, in :mod:`serviceprofit.model.outcomes`.
METRICS: tuple[str, ...] = WEEKLY_METRICS
(
    M_WEEK,
    M_CUSTOMERS_ACTIVE,
    M_CUSTOMERS_ACQUIRED,
    M_CUSTOMERS_CHURNED,
    M_CHURN_RATE,
    M_CUSTOMER_SATISFACTION,
    M_NPS,
    M_CONTACTS,
    M_FCR,
    M_HANDOFFS_PER_CONTACT,
    M_BACKLOG,
    M_COMPLAINTS,
    M_STAFF_ACTIVE,
    M_STAFF_SATISFACTION,
    M_STAFF_QUITS,
    M_TIME_PER_CONTACT,
    M_REVENUE,
    M_COST_WAGES,
    M_COST_TRAINING,
    M_COST_TECHNOLOGY,
    M_COST_MARKETING,
    M_COST_TURNOVER,
    M_COST_CONTACTS,
    M_COST_TOTAL,
    M_COST_TO_SERVE,
    M_PROFIT,
    M_CUMULATIVE_PROFIT,
    M_CASH,
    M_DEMAND_HOURS,  # not a metric: the week's demand for contact hours, for the review
) = range(len(METRICS) + 1)
N_HISTORY = M_DEMAND_HOURS + 1
# Metrics that count things (integers in the time series).
COUNT_METRICS = frozenset(
    {
        "week",
        "customers_active",
        "customers_acquired",
        "customers_churned",
        "contacts",
        "backlog",
        "complaints",
        "staff_active",
        "staff_quits",
    }
)

# The firm's state.
(
    F_CASH,
    F_CUMULATIVE_PROFIT,
    F_REPUTATION,
    F_FIXED_SHARE,
    F_HEADCOUNT_TARGET,
    F_OTHER_WORK_HOURS,
    F_TRAINING,
    F_DEPARTMENTS,
    F_REORGANISED_WEEK,
    F_OWNER_SATISFACTION,
    F_KPI_MARGIN,
    F_KPI_CUSTOMER_SATISFACTION,
    F_KPI_STAFF_SATISFACTION,
    F_KPI_PLANNED_HEADCOUNT,
    N_FIRM,
) = range(15)
NEVER = -1e9  # the week of a reorganisation that has not happened
MAX_HIRING_LAG = 52  # the schema's limit: pending hires never arrive later than this


@register_jitable
def new_firm(p, weeks):
    """The firm at week 0: (firm, pending hires by week, history of ``weeks`` rows)."""
    firm = np.zeros(N_FIRM)
    firm[F_CASH] = p.initial_cash
    firm[F_REPUTATION] = 0.5
    firm[F_HEADCOUNT_TARGET] = p.initial_staff
    # departments' work besides contacts, which the owner staffs for too
    firm[F_OTHER_WORK_HOURS] = p.initial_staff * max(0.0, p.paid_hours - p.contact_hours)
    firm[F_TRAINING] = 1.0
    firm[F_DEPARTMENTS] = p.departments
    # an organisation adopted at the start of the run pays its transition from week 0
    firm[F_REORGANISED_WEEK] = 0.0 if p.reorganising_at_start else NEVER
    firm[F_OWNER_SATISFACTION] = 0.5
    pending = np.zeros(weeks + MAX_HIRING_LAG + 2, np.int64)
    history = np.zeros((weeks, N_HISTORY))
    return firm, pending, history


@register_jitable
def begin_week(p, firm, history, dice, week):
    """Step 1: a reorganisation takes effect; the owner reviews on its schedule.

    Returns whether the departments were reorganised this week.
    """
    reorganised = p.departments != firm[F_DEPARTMENTS]
    if reorganised:
        firm[F_DEPARTMENTS] = p.departments
        firm[F_REORGANISED_WEEK] = week
    if week > 0 and week % p.review_every == 0:
        owner_review(p, firm, history, dice, week)
    return reorganised


@register_jitable
def owner_review(p, firm, history, dice, week):
    """The owner reads lagged, noisy KPIs and applies its policy (``rules.owner_review``)."""
    lagged = week - 1 - p.survey_lag_weeks
    if lagged < 0:
        return
    first = max(0, lagged - p.review_every + 1)
    revenue = 0.0
    profit = 0.0
    demand = 0.0
    for w in range(first, lagged + 1):
        revenue += history[w, M_REVENUE]
        profit += history[w, M_PROFIT]
        demand += history[w, M_DEMAND_HOURS]
    margin = profit / revenue if revenue > 0 else -1.0
    noise_customer, noise_staff = normal_pair(
        roll(dice, Stream.SURVEY, 0), roll(dice, Stream.SURVEY, 1)
    )
    customer_kpi = history[lagged, M_CUSTOMER_SATISFACTION] + noise_customer * p.survey_noise
    staff_kpi = history[lagged, M_STAFF_SATISFACTION] + noise_staff * p.survey_noise
    contact_hours = (demand / (lagged + 1 - first)) / (p.productivity * p.target_utilisation)
    planned = (firm[F_OTHER_WORK_HOURS] + contact_hours) / p.paid_hours
    firm[F_KPI_MARGIN] = margin
    firm[F_KPI_CUSTOMER_SATISFACTION] = customer_kpi
    firm[F_KPI_STAFF_SATISFACTION] = staff_kpi
    firm[F_KPI_PLANNED_HEADCOUNT] = planned
    firm[F_OWNER_SATISFACTION] = rules.clip01(0.5 + 2.0 * (margin - p.required_margin))
    target, training = rules.owner_review(
        p.policy,
        margin,
        customer_kpi,
        staff_kpi,
        p.required_margin,
        p.satisfaction_target,
        p.staff_satisfaction_target,
        firm[F_HEADCOUNT_TARGET],
        firm[F_TRAINING],
        max(1.0, planned),
        p.headcount_step,
        p.training_step,
    )
    firm[F_HEADCOUNT_TARGET] = max(1.0, target)
    firm[F_TRAINING] = training


@register_jitable
def staffing(p, firm, pending, week, staff_active):
    """(hires arriving this week, staff to lay off now) toward the headcount target.

    Vacancies are filled after the hiring lag (at the earliest next week); a target
    below the staff on hand is met by layoffs at once, and cancels hires on their way.
    """
    target = math.floor(firm[F_HEADCOUNT_TARGET] + 0.5)
    arriving = pending[week]
    pending[week] = 0
    on_hand = staff_active + arriving
    if on_hand > target:
        pending[week + 1 :] = 0
        return arriving, on_hand - target
    on_the_way = 0
    for w in range(week + 1, pending.size):
        on_the_way += pending[w]
    gap = target - on_hand - on_the_way
    if gap > 0:
        pending[week + max(1, min(p.hiring_lag_weeks, MAX_HIRING_LAG))] += gap
    return arriving, 0


@register_jitable
def capacity_factor(p, firm, week):
    """Share of contact hours left for contacts: coordination, and cross-training
    while a reorganisation is bedding in."""
    factor = 1.0 - p.coordination_time_share
    if 0 <= week - firm[F_REORGANISED_WEEK] < p.merge_weeks:
        factor *= 0.8
    return factor


@register_jitable
def issue_climate(p, firm, week):
    """(upgrade surge, share of issues already fixed) this week; an upgrade undoes part
    of the fixes."""
    surge = 0.0
    if p.upgrade_every_weeks > 0:
        since = week % p.upgrade_every_weeks
        if week > 0 and since == 0:
            firm[F_FIXED_SHARE] *= 1.0 - p.upgrade_unfixes
        surge = rules.upgrade_surge(
            since if week >= p.upgrade_every_weeks else -1, p.upgrade_issue_surge
        )
    return surge, firm[F_FIXED_SHARE]


@register_jitable
def acquisitions(p, firm, dice, promoters):
    """New customers this week: (bought by marketing, referred by promoters), Poisson."""
    bought = rules.marketing_acquisitions(
        p.marketing_spend, p.cost_per_acquisition, firm[F_REPUTATION], p.reputation_elasticity
    )
    referred = promoters * p.referral_rate
    return poisson(dice, Stream.ACQUISITION, bought), poisson(dice, Stream.REFERRAL, referred)


@register_jitable
def _last(history, week, column):
    """A rate with no contacts to measure it this week carries last week's value."""
    return history[week - 1, column] if week > 0 else 0.0


@register_jitable
def close_week(p, firm, history, week, counts, sums):
    """Steps 11-12: keep the accounts, update reputation and product, write the week's
    row of ``history``."""
    staff = counts[C_STAFF_ACTIVE]
    wage_bill = staff * p.wage_per_week
    cost_training = staff * p.training_per_head * firm[F_TRAINING]
    if 0 <= week - firm[F_REORGANISED_WEEK] < p.merge_weeks:
        cost_training += staff * p.training_per_head  # cross-training
    cost_technology = staff * p.technology_per_head
    cost_marketing = p.marketing_spend
    separations = counts[C_STAFF_QUITS] + counts[C_STAFF_LAID_OFF]
    cost_turnover = separations * p.turnover_cost_share * p.wage_per_week * 52.0
    cost_contacts = (
        sums[S_CONTACT_COST]
        + counts[C_SELF_SERVICE_USES] * p.self_service_cost
        + counts[C_COMPLAINTS] * p.empowerment * p.recovery_cost
    )
    cost_total = (
        wage_bill + cost_training + cost_technology + cost_marketing + cost_turnover + cost_contacts
    )
    revenue = sums[S_REVENUE]
    profit = revenue - cost_total
    firm[F_CUMULATIVE_PROFIT] += profit
    firm[F_CASH] += profit
    service_share = p.contact_hours / p.paid_hours
    service_cost = cost_contacts + service_share * (wage_bill + cost_training + cost_technology)
    active = counts[C_CUSTOMERS_ACTIVE]
    contacts = counts[C_CONTACTS]
    nps = 100.0 * (counts[C_PROMOTERS] - counts[C_DETRACTORS]) / active if active else 0.0
    firm[F_REPUTATION] = rules.reputation_update(
        firm[F_REPUTATION], nps, p.reputation_time_constant
    )
    if contacts > 0:
        firm[F_FIXED_SHARE] = rules.fixed_share_update(
            firm[F_FIXED_SHARE], p.feedback_share, p.feedback_learning_rate, p.max_fixable_share
        )
    row = history[week]
    row[M_WEEK] = week + 1
    row[M_CUSTOMERS_ACTIVE] = active
    row[M_CUSTOMERS_ACQUIRED] = counts[C_ACQUIRED]
    row[M_CUSTOMERS_CHURNED] = counts[C_CHURNED]
    start = counts[C_CUSTOMERS_START]
    row[M_CHURN_RATE] = counts[C_CHURNED] / start if start else 0.0
    row[M_CUSTOMER_SATISFACTION] = sums[S_SATISFACTION] / active if active else 0.0
    row[M_NPS] = nps
    row[M_CONTACTS] = contacts
    first = counts[C_FIRST_CONTACTS]
    row[M_FCR] = counts[C_FIRST_RESOLVED] / first if first else _last(history, week, M_FCR)
    row[M_HANDOFFS_PER_CONTACT] = counts[C_HANDOFFS] / contacts if contacts else 0.0
    row[M_BACKLOG] = counts[C_BACKLOG]
    row[M_COMPLAINTS] = counts[C_COMPLAINTS]
    row[M_STAFF_ACTIVE] = staff
    row[M_STAFF_SATISFACTION] = sums[S_STAFF_SATISFACTION] / staff if staff else 0.0
    row[M_STAFF_QUITS] = counts[C_STAFF_QUITS]
    row[M_TIME_PER_CONTACT] = (
        sums[S_TIME_TAKEN] / contacts if contacts else _last(history, week, M_TIME_PER_CONTACT)
    )
    row[M_REVENUE] = revenue
    row[M_COST_WAGES] = wage_bill
    row[M_COST_TRAINING] = cost_training
    row[M_COST_TECHNOLOGY] = cost_technology
    row[M_COST_MARKETING] = cost_marketing
    row[M_COST_TURNOVER] = cost_turnover
    row[M_COST_CONTACTS] = cost_contacts
    row[M_COST_TOTAL] = cost_total
    row[M_COST_TO_SERVE] = (
        service_cost / contacts if contacts else _last(history, week, M_COST_TO_SERVE)
    )
    row[M_PROFIT] = profit
    row[M_CUMULATIVE_PROFIT] = firm[F_CUMULATIVE_PROFIT]
    row[M_CASH] = firm[F_CASH]
    row[M_DEMAND_HOURS] = sums[S_DEMAND_HOURS]
