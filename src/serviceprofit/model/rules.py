"""The behaviour rules of the service-profit chain: one rule, one place.

Each rule is a pure function of scalars, written with ``math`` only, so that the Mesa
agents call it as plain Python, one agent at a time, and the numba core compiles the very
same source into its loops (``register_jitable``: no compile happens until a jitted
caller needs it). The two backends cannot drift apart because neither owns a rule.

The equations, their default constants and where each comes from are in docs/ODD.md.
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import register_jitable

# ---------------------------------------------------------------------------
# Conventions both backends share

NO_OUTCOME, RESOLVED_FIRST, RESOLVED_LATER, UNRESOLVED = 0, 1, 2, 3  # a customer's last issue
DEFECTION_WINDOW_WEEKS = 26  # churn within this long after an outcome counts against it
STAFF_INITIAL_SATISFACTION = 0.65  # staff at week 0 and new hires
DRIFT_SHARE = 0.04  # drift toward the product baseline, as a share of satisfaction_rate

# ---------------------------------------------------------------------------
# Small helpers


@register_jitable
def clip01(x: float) -> float:
    return 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)


@register_jitable
def logistic(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


# The logistic at a grid of points, for :func:`below_logistic`: x = -reach + k / step.
_LOGISTIC_STEP = 32.0  # a power of two: x * step is exact
_LOGISTIC_REACH = 12.0
_LOGISTIC_ZERO = int(_LOGISTIC_REACH * _LOGISTIC_STEP)  # the grid point at x = 0
# Relative slack of the grid's values: the computed logistic is within 3 ulps of the
# true one (the exponential within 1, the sum and the quotient within half each), so two
# computed values of a monotone function can be out of order by at most 6 ulps (2**-52
# each); 2**-46 is 64.
_LOGISTIC_SLACK = 2.0**-46
LOGISTIC_GRID = np.array(
    [
        logistic(-_LOGISTIC_REACH + k / _LOGISTIC_STEP)
        for k in range(int(2 * _LOGISTIC_REACH * _LOGISTIC_STEP) + 1)
    ]
)


@register_jitable
def below_logistic(u: float, x: float) -> bool:
    """``u < logistic(x)``, exactly, mostly without the exponential.

    The logistic rises with ``x``, so between two points of a grid it lies between their
    values: a ``u`` below the value at the grid point under ``x`` (less a slack for
    rounding) is below ``logistic(x)``, one at or above the value at the point over it
    (plus the slack) is not, and only a ``u`` between the two (under 1% of draws) needs
    the rule itself. The point under ``x`` is found exactly (``x`` times a power of two,
    rounded down). Every answer is the rule's: a contact's resolution draw used to cost
    an exponential, 6% of a small run's time."""
    if -_LOGISTIC_REACH < x < _LOGISTIC_REACH:
        k = math.floor(x * _LOGISTIC_STEP) + _LOGISTIC_ZERO
        if u < LOGISTIC_GRID[k] * (1.0 - _LOGISTIC_SLACK):
            return True
        if u >= LOGISTIC_GRID[k + 1] * (1.0 + _LOGISTIC_SLACK):
            return False
    return u < logistic(x)


@register_jitable
def saturation(spend: float, half: float) -> float:
    """Diminishing returns of spending: 0 at nothing, 1/2 at ``half``, toward 1 beyond."""
    return spend / (spend + half) if spend > 0.0 else 0.0


# ---------------------------------------------------------------------------
# Initial state


@register_jitable
def initial_satisfaction(expectation: float, u: float) -> float:
    """A customer's satisfaction when it joins: a little above its expectation."""
    return clip01(expectation + 0.05 + 0.1 * u)


@register_jitable
def initial_tenure(u):
    """Whole weeks of tenure at week 0, uniform over five years (a mature firm).

    Works on a float or a numpy array of uniforms.
    """
    return (u * 260.0) // 1.0


@register_jitable
def initial_staff_skill(initial_skill, u):
    """Skill of the staff at week 0: ``initial_skill`` give or take 0.1 (float or array)."""
    return initial_skill + 0.2 * (u - 0.5)


# ---------------------------------------------------------------------------
# Customers: issues, service, satisfaction, complaint, churn, spend


@register_jitable
def issue_probability(
    issue_rate: float,
    complexity: float,
    segment_multiplier: float,
    fixed_share: float,
    surge: float,
) -> float:
    """Weekly chance of a new issue for a customer with none open.

    Product complexity and the segment scale the base rate; issues that product has
    already fixed (from fed-back recurring issues) no longer arise; an upgrade adds a
    temporary surge.
    """
    p = issue_rate * complexity * segment_multiplier * (1.0 - fixed_share) * (1.0 + surge)
    return clip01(p)


@register_jitable
def criticality_weight(moment_of_truth: bool, moment_of_truth_weight: float) -> float:
    """How much an issue weighs on satisfaction: routine 1, a moment of truth far more."""
    return moment_of_truth_weight if moment_of_truth else 1.0


@register_jitable
def resolution_probability(
    skill: float,
    staff_satisfaction: float,
    time_ratio: float,
    empowerment: float,
    one_view: float,
    handoffs: int,
    moment_of_truth: bool,
    scripts: float,
    base: float,
    w_skill: float,
    w_staff_satisfaction: float,
    w_time: float,
    w_empowerment: float,
    w_one_view: float,
    handoff_penalty: float,
    w_moment_of_truth: float,
    w_scripts: float,
) -> float:
    """Chance that a served contact resolves the issue (a logistic index).

    Rises with the server's skill and satisfaction, with the time taken relative to the
    reference handle time (log scale), with empowerment and a shared view of the
    customer; falls with each handoff (SQM: transferred contacts resolve about 14% less
    often) and for moments of truth, which scripts handle worst.

    The index is summed left to right, the server's terms first, so it is
    :func:`resolution_index` of :func:`server_resolution_index` bit for bit: the week
    computes the server's part once per server and week, not once per contact.
    """
    return logistic(resolution_index(
        server_resolution_index(skill, staff_satisfaction, time_ratio, base, w_skill,
                                w_staff_satisfaction, w_time),
        empowerment,
        one_view,
        handoffs,
        moment_of_truth,
        scripts,
        w_empowerment,
        w_one_view,
        handoff_penalty,
        w_moment_of_truth,
        w_scripts,
    ))  # fmt: skip


@register_jitable
def server_resolution_index(
    skill: float,
    staff_satisfaction: float,
    time_ratio: float,
    base: float,
    w_skill: float,
    w_staff_satisfaction: float,
    w_time: float,
) -> float:
    """The server's part of the resolution index (:func:`resolution_probability`): the
    same for every contact the server takes in a week."""
    return (
        base
        + w_skill * skill
        + w_staff_satisfaction * staff_satisfaction
        + w_time * math.log(time_ratio)
    )


@register_jitable
def resolution_index(
    server_index: float,
    empowerment: float,
    one_view: float,
    handoffs: int,
    moment_of_truth: bool,
    scripts: float,
    w_empowerment: float,
    w_one_view: float,
    handoff_penalty: float,
    w_moment_of_truth: float,
    w_scripts: float,
) -> float:
    """:func:`resolution_probability`'s index (whose logistic it is) from the server's
    part of it and the contact's terms, added in the same order: a contact resolves when
    its draw is below the logistic (``below_logistic(u, index)``)."""
    x = (
        server_index
        + w_empowerment * empowerment
        + w_one_view * one_view
        - handoff_penalty * handoffs
    )
    if moment_of_truth:
        x -= w_moment_of_truth + w_scripts * scripts
    return x


@register_jitable
def perceived_quality(
    resolved: bool,
    handoffs: int,
    age_weeks: int,
    quality_resolved: float,
    quality_unresolved: float,
    handoff_penalty: float,
    wait_penalty: float,
) -> float:
    """What the customer experiences in one contact, 0..1.

    A resolution is worth ``quality_resolved`` less a penalty per handoff (SQM: CSAT of
    transferred callers about 12% lower) and per week the issue waited; no resolution
    is worth ``quality_unresolved``.
    """
    if not resolved:
        return quality_unresolved
    return clip01(quality_resolved - handoff_penalty * handoffs - wait_penalty * age_weeks)


@register_jitable
def contact_experience(quality: float, expectation: float) -> float:
    """How satisfying one contact is: expectation-disconfirmation (Oliver 1980).

    A neutral 0.7 when quality meets expectation, moving one and a half times as fast
    as the disconfirmation (quality minus expectation).
    """
    return clip01(0.7 + 1.5 * (quality - expectation))


@register_jitable
def update_satisfaction(
    satisfaction: float, expectation: float, quality: float, weight: float, rate: float
) -> float:
    """Satisfaction moves toward the contact's experience; weighty issues (moments of
    truth) move it further per contact."""
    experience = contact_experience(quality, expectation)
    step = rate * weight
    if step > 1.0:
        step = 1.0
    return clip01(satisfaction + step * (experience - satisfaction))


@register_jitable
def wait_satisfaction(satisfaction: float, weight: float, wait_penalty: float) -> float:
    """A week of waiting for service costs satisfaction, more for weighty issues."""
    return clip01(satisfaction - wait_penalty * weight)


@register_jitable
def drift_satisfaction(satisfaction: float, expectation: float, satisfaction_rate: float) -> float:
    """Without contacts, satisfaction slowly returns to its product baseline (e + 0.1),
    at a small share (``DRIFT_SHARE``) of the rate a contact moves it."""
    return satisfaction + satisfaction_rate * DRIFT_SHARE * (expectation + 0.1 - satisfaction)


@register_jitable
def complaint_probability(
    propensity: float, moment_of_truth: bool, severity_multiplier: float
) -> float:
    """A dissatisfied customer complains with its segment's propensity.

    Propensity rises steeply with severity: TARP's folklore of 1 complaint in 27
    dissatisfied customers for routine problems, against 69% who complained about their
    most serious problem (US Office of Consumer Affairs 1979).
    """
    p = propensity * (severity_multiplier if moment_of_truth else 1.0)
    return p if p < 0.95 else 0.95


@register_jitable
def recover_satisfaction(satisfaction: float, expectation: float, boost: float) -> float:
    """An empowered recovery closes part of the gap to just above expectation."""
    target = expectation + 0.1
    if satisfaction >= target:
        return satisfaction
    return clip01(satisfaction + boost * (target - satisfaction))


@register_jitable
def churn_hazard(
    satisfaction: float,
    expectation: float,
    tenure_weeks: float,
    base: float,
    steepness: float,
    competitor_pull: float,
    newcomer_boost: float,
    newcomer_weeks: float,
    cap: float,
) -> float:
    """Weekly chance of leaving: rises steeply as satisfaction falls below expectation.

    Exponential in the gap, so the totally satisfied are several times less likely to
    leave than the merely satisfied (Xerox, in Heskett et al. 1994); raised for new
    customers, who have no switching costs or habits yet (early-life churn, which
    Reichheld and Sasser's rising profit per year of tenure reflects); plus competitors'
    pull that no service removes.
    """
    newcomer = 1.0 + newcomer_boost * math.exp(-tenure_weeks / newcomer_weeks)
    h = competitor_pull + base * newcomer * math.exp(steepness * (expectation - satisfaction))
    return h if h < cap else cap


@register_jitable
def weekly_spend(
    base_spend: float,
    tenure_weeks: float,
    satisfaction: float,
    expectation: float,
    tenure_growth: float,
    tenure_cap_years: float,
    upsell: float,
) -> float:
    """What an active customer pays this week.

    Grows with tenure (Reichheld and Sasser 1990: profit per customer rises year on
    year for about five years) and with satisfaction above expectation (upsell and
    cross-sell); falls, never below zero, when satisfaction is below expectation.
    """
    years = tenure_weeks / 52.0
    if years > tenure_cap_years:
        years = tenure_cap_years
    mood = 1.0 + upsell * (satisfaction - expectation)
    if mood < 0.0:
        mood = 0.0
    return base_spend * (1.0 + tenure_growth * years) * mood


@register_jitable
def nps_flags(
    satisfaction: float, promoter_threshold: float, detractor_threshold: float
) -> tuple[int, int]:
    """(1 if a promoter else 0, 1 if a detractor else 0), satisfaction read as a 0-10
    score / 10; a promoter is never a detractor. Written without branches: compiled code
    counts promoters and detractors by adding these, and a branch on a customer's class
    is mispredicted about as often as the classes alternate."""
    promoter = satisfaction >= promoter_threshold
    detractor = (satisfaction < detractor_threshold) & (not promoter)
    return int(promoter), int(detractor)


@register_jitable
def nps_class(satisfaction: float, promoter_threshold: float, detractor_threshold: float) -> int:
    """+1 promoter, -1 detractor, 0 passive (:func:`nps_flags`)."""
    promoter, detractor = nps_flags(satisfaction, promoter_threshold, detractor_threshold)
    return promoter - detractor


# ---------------------------------------------------------------------------
# Staff: internal quality, satisfaction, skill, time standard, quitting


@register_jitable
def internal_quality(
    training_level: float,
    tools_level: float,
    empowerment: float,
    pay_ratio: float,
    pressure: float,
    w_training: float,
    w_tools: float,
    w_empowerment: float,
    w_pay: float,
    pressure_penalty: float,
) -> float:
    """Internal service quality as staff experience it (Heskett et al. 1994).

    Training, tools, authority to act and pay raise it; work pressure above 1 (more
    work than the hours allow) lowers it.
    """
    pay = pay_ratio if pay_ratio < 1.2 else 1.2
    over = pressure - 1.0 if pressure > 1.0 else 0.0
    return clip01(
        w_training * training_level
        + w_tools * tools_level
        + w_empowerment * empowerment
        + w_pay * pay
        - pressure_penalty * over
    )


@register_jitable
def update_staff_satisfaction(
    sigma: float, quality: float, mirror: float, mirror_weight: float, rate: float
) -> float:
    """Staff satisfaction moves toward internal quality, mirrored by customers' mood.

    The satisfaction mirror (Heskett, Sasser and Schlesinger 1997): staff who serve
    satisfied customers are more satisfied themselves.
    """
    target = (1.0 - mirror_weight) * quality + mirror_weight * mirror
    return clip01(sigma + rate * (target - sigma))


@register_jitable
def update_skill(skill: float, training_level: float, rate: float, training_boost: float) -> float:
    """Learning curve: skill approaches 1, faster with training."""
    return clip01(skill + rate * (1.0 + training_boost * training_level) * (1.0 - skill))


@register_jitable
def time_per_contact(standard: float, pressure: float, exponent: float) -> float:
    """Time actually taken per contact: the standard, cut under pressure.

    Oliva and Sterman (2001): time per task = desired time x (work pressure)^-0.64.
    """
    if pressure <= 1.0:
        return standard
    return standard * pressure ** (-exponent)


@register_jitable
def update_time_standard(
    standard: float, taken: float, allowed: float, erosion_tc: float, recovery_tc: float
) -> float:
    """The time standard erodes toward the time taken under pressure (about 19 weeks)
    and recovers toward the time the process allows far more slowly (Oliva and Sterman
    2001: it practically never recovers)."""
    if taken < standard:
        return standard + (taken - standard) / erosion_tc
    return standard + (allowed - standard) / recovery_tc


@register_jitable
def quit_hazard(sigma: float, base: float, reference: float, steepness: float) -> float:
    """Weekly chance that a staff member quits: rises exponentially as satisfaction falls."""
    h = base * math.exp(steepness * (reference - sigma))
    return h if h < 0.5 else 0.5


# ---------------------------------------------------------------------------
# Firm level: owner policy, reputation, acquisition, product learning

FIXED = 0
PROFIT_FIRST = 1
BALANCED = 2
POLICY_CODES = {"fixed": FIXED, "profit_first": PROFIT_FIRST, "balanced": BALANCED}


@register_jitable
def owner_review(
    policy: int,
    margin: float,
    customer_kpi: float,
    staff_kpi: float,
    required_margin: float,
    customer_target: float,
    staff_target: float,
    headcount: float,
    training: float,
    planned_headcount: float,
    headcount_step: float,
    training_step: float,
) -> tuple[float, float]:
    """The owner's levers after a review: (headcount target, training multiplier).

    ``fixed`` changes nothing. ``profit_first`` cuts headcount and training whenever
    the (lagged) margin misses the required return, and otherwise staffs to plan.
    ``balanced`` first answers customer or staff KPIs below target with training and
    some slack over plan, and cuts only when those hold and profit misses. Headcount
    moves at most one step a review.
    """
    if policy == FIXED:
        return headcount, training
    if policy == BALANCED and (customer_kpi < customer_target or staff_kpi < staff_target):
        target = planned_headcount * 1.15
        training = training * (1.0 + training_step)
        if training > 1.5:
            training = 1.5
    elif margin < required_margin:
        target = headcount * (1.0 - headcount_step)
        training = training * (1.0 - training_step)
    else:
        target = planned_headcount
        if training < 1.0:
            training = training + training_step
            if training > 1.0:
                training = 1.0
    step = headcount_step * headcount
    if target > headcount + step:
        target = headcount + step
    elif target < headcount - step:
        target = headcount - step
    return target, training


@register_jitable
def reputation_update(reputation: float, nps: float, time_constant: float) -> float:
    """Reputation follows word of mouth (NPS mapped to 0..1) with a lag."""
    target = (nps + 100.0) / 200.0
    return reputation + (target - reputation) / time_constant


@register_jitable
def marketing_acquisitions(
    spend: float, cost_per_acquisition: float, reputation: float, elasticity: float
) -> float:
    """Expected new customers bought by marketing: detractors' word of mouth lowers
    conversion through the reputation index (neutral at reputation 0.5)."""
    return spend / cost_per_acquisition * math.exp(elasticity * (reputation - 0.5))


@register_jitable
def fixed_share_update(
    fixed_share: float, feedback_share: float, learning_rate: float, max_fixable: float
) -> float:
    """Recurring issues fed back to product get fixed, up to what is fixable at all."""
    return fixed_share + learning_rate * feedback_share * (max_fixable - fixed_share)


@register_jitable
def upgrade_surge(weeks_since_upgrade: int, surge: float) -> float:
    """An upgrade brings a burst of new issues that fades over a few weeks."""
    if weeks_since_upgrade < 0:
        return 0.0
    return surge * math.exp(-weeks_since_upgrade / 2.0)
