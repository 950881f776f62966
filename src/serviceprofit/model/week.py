"""One definition of an agent's week, called by both backends.

Each function here is one agent's part of the week (docs/ODD.md, process overview): it
takes the agent's state as scalars, the week's parameter record ``p``
(:class:`~serviceprofit.model.params.Params`) and its dice, and returns the new state as a
tuple. The Mesa agents (``backends/mesa/agents.py``) keep their state as attributes and
call these functions one agent at a time, in Python; the numba backend
(``backends/numba/kernel.py``) calls the very same source over rows of arrays, compiled
(``register_jitable``; tuples cost nothing).

Who inlines what. A function handed only numbers and records (``p``, ``t`` and their
tables) is compiled once and inlined by LLVM where it is small (``happens``, ``pick``,
the churn rule ...). Those LLVM would leave as calls, and those handed arrays (a call
counts a reference to each array it is handed, per customer), numba inlines itself where
they are called (``inline="always"``): the customer's week (``customer_issue``,
``customer_service``, ``customer_complaint``, ``customer_settle``), a new customer and
``fill_server``. numba's inlining types the function again at every call site, so it is
kept to those: declared on every small helper too, it made compiling the run from an
empty cache a third slower, and the run no faster.

Draws are ``roll(dice, stream, uid)`` (:mod:`serviceprofit.model.rng`): the same number
for the same (run, purpose, week, agent) in both backends, whatever the order of work.

What the week adds up goes into a tally ``t``: ``t.counts`` (integers) and ``t.sums``
(floats), indexed by the ``C_*`` and ``S_*`` constants below, and ``t.load``, the
contacts routed per department and handoff count. In Python a :class:`Tally` holds
lists; in compiled code ``t`` is a row of a structured array of :data:`TALLY_DTYPE` (a
pointer: handing it to a function costs nothing, where an array argument would cost
reference counting per customer). Staff learn the satisfaction of the customers they
served as a sum in fixed point (``FIXED_POINT``), the same in any order of addition.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from serviceprofit.model import rules
from serviceprofit.model.rng import Stream, roll
from serviceprofit.model.rules import (
    DEFECTION_WINDOW_WEEKS,
    RESOLVED_FIRST,
    RESOLVED_LATER,
    UNRESOLVED,
)

# ---------------------------------------------------------------------------
# A customer's yes/no state, as bits of one small integer

OPEN = 1  # an issue is open
FRESH = 2  # the open issue has not yet had its first contact with staff
COMPLAINED = 4  # the customer has complained about the open issue (one complaint per issue)
HOPPED = 8  # the customer changed channel after an unresolved contact
MOMENT_OF_TRUTH = 16  # the open issue is a moment of truth
EVER_COMPLAINED = 32
ACTIVE = 64  # not churned
GONE = 128  # (market) a departed customer the market has already been told of

MAX_DEPARTMENTS = 4  # the schema's limit
MAX_NEW_HANDOFFS = 3  # 0, 1 or 2 handoffs a week
FIXED_POINT = 4294967296.0  # 2**32: served customers' satisfaction summed in integers

# Columns of the servers table: one row per member of staff in pool order (department by
# department, uid order within), what a contact reads of its server.
SERVER_SKILL = 0
SERVER_SATISFACTION = 1
SERVER_TIME_TAKEN = 2
SERVER_RESOLUTION = 3  # the server's part of the resolution index (fill_server)
SERVER_COLUMNS = 4  # 32 bytes a row

# ---------------------------------------------------------------------------
# The week's tallies: counts (integers) ...
(
    C_CUSTOMERS_START,
    C_CUSTOMERS_ACTIVE,
    C_ACQUIRED,
    C_CHURNED,
    C_CHURNED_COMPLAINED,
    C_PROMOTERS,
    C_DETRACTORS,
    C_CONTACTS,
    C_FIRST_CONTACTS,
    C_FIRST_RESOLVED,
    C_HANDOFFS,
    C_BACKLOG,
    C_COMPLAINTS,
    C_SELF_SERVICE_USES,
    C_STAFF_ACTIVE,
    C_STAFF_QUITS,
    C_STAFF_LAID_OFF,
    C_STAFF_HIRED,
    C_EXPERIENCE_FIRST_N,
    C_EXPERIENCE_HANDOFF_N,
    C_AT_RISK,  # C_AT_RISK + outcome code (0..3): customers tracked after an outcome
) = range(21)
C_DEFECTED = C_AT_RISK + 4  # + outcome code: tracked customers who churned
N_COUNTS = C_DEFECTED + 4
# ... and sums (floats)
(
    S_CHURNED_REVENUE,
    S_SATISFACTION,
    S_CONTACT_COST,
    S_TIME_TAKEN,
    S_DEMAND_HOURS,
    S_REVENUE,
    S_STAFF_SATISFACTION,
    S_EXPERIENCE_FIRST,
    S_EXPERIENCE_HANDOFF,
    N_SUMS,
) = range(10)


TALLY_DTYPE = np.dtype(
    [
        ("counts", np.int64, (N_COUNTS,)),
        ("sums", np.float64, (N_SUMS,)),
        ("load", np.int64, (MAX_DEPARTMENTS, MAX_NEW_HANDOFFS)),
    ]
)


class Tally:
    """A week's tally in Python (the Mesa model): what ``TALLY_DTYPE`` holds in compiled
    code, as lists (exact integers and float64 sums) and a small load table."""

    __slots__ = ("counts", "load", "sums")

    def __init__(self) -> None:
        self.counts = [0] * N_COUNTS
        self.sums = [0.0] * N_SUMS
        self.load = np.zeros((MAX_DEPARTMENTS, MAX_NEW_HANDOFFS), np.int64)


@register_jitable
def happens(dice, stream, uid, probability):
    """Whether an event of ``probability`` befalls agent ``uid``: ``roll(dice, stream,
    uid) < probability``, without the draw when the answer is certain (a draw is in
    [0, 1), so a probability of 1 or more always happens and one of 0 or less never
    does). The draw keeps its key, so skipping it changes no other draw."""
    if probability >= 1.0:
        return True
    if probability <= 0.0:
        return False
    return roll(dice, stream, uid) < probability


@register_jitable
def pick(cumulative, n, u):
    """The category a uniform ``u`` falls in: ``bisect_right(cumulative[:n], u)``, at most
    ``n - 1``.

    Counted without a branch (the cumulative shares never decrease, so the categories
    ``u`` is at or above are the first ``k``): which category a customer falls in is as
    good as random from one customer to the next, and a loop that stopped at the answer
    was mispredicted about once per pick (a new customer picks twice): creating a million
    customers took 43 ms with it, 22 ms without (``Params``' cumulative shares are
    ``np.cumsum`` of non-negative shares over their positive sum)."""
    k = 0
    for j in range(n - 1):
        k += u >= cumulative[j]
    return k


# ---------------------------------------------------------------------------
# Customers


@register_jitable(inline="always")
def new_customer(p, dice, uid, initial):
    """A customer joining (``initial``: present at week 0, with up to five years' tenure).

    Returns (segment, channel, satisfaction, expectation, tenure).
    """
    segment = pick(p.segment_cumulative, p.n_segments, roll(dice, Stream.SEGMENT, uid))
    return new_customer_in_segment(p, dice, uid, segment, initial)


@register_jitable(inline="always")
def new_customer_in_segment(p, dice, uid, segment, initial):
    """A customer of a known ``segment`` joining: in a market a person's segment is the
    person's, whichever firm they join. Returns as :func:`new_customer`."""
    expectation = p.segment_expectation[segment]
    satisfaction = rules.initial_satisfaction(
        expectation, roll(dice, Stream.INITIAL_SATISFACTION, uid)
    )
    tenure = 0.0
    if initial:
        tenure = rules.initial_tenure(roll(dice, Stream.INITIAL_TENURE, uid))
    channel = pick(p.channel_cumulative, len(p.contact_cost), roll(dice, Stream.CHANNEL, uid))
    return segment, channel, satisfaction, expectation, tenure


@register_jitable
def issue_chances(p, surge, fixed_share, out):
    """Fill ``out[g]``, the week's chance of a new issue in segment ``g`` (step 3)."""
    for g in range(p.n_segments):
        out[g] = rules.issue_probability(
            p.issue_rate, p.complexity, p.segment_issue_multiplier[g], fixed_share, surge
        )
    return out


@register_jitable
def new_issue(dice, uid, chance):
    """Whether customer ``uid`` without an open issue meets a new one this week (step 3)."""
    return roll(dice, Stream.ISSUE, uid) < chance


@register_jitable
def has_issue_work(dice, uid, flags, chance):
    """Whether :func:`customer_issue` has anything to do for a customer: an active one
    with an open issue, or with a new one. Written without branches (as 0 or 1), so that
    compiled code can list these customers first and run :func:`customer_issue` for them
    alone: whether a customer has a new issue is as good as random from one customer to
    the next, and a branch on it is mispredicted about as often as issues arise."""
    active = flags & ACTIVE != 0
    return active & ((flags & OPEN != 0) | new_issue(dice, uid, chance))


@register_jitable(inline="always")
def customer_issue(p, dice, uid, flags, department, issue_age, handoffs, chance, t):
    """Steps 3-4: maybe a new issue, tried in self-service if routine; an open issue is
    routed to its department, counting this week's handoffs on the way.

    ``chance`` is the segment's chance of an issue (:func:`issue_chances`). A routed
    contact adds one to ``t.load[department, handoffs]``, which the capacity plan reads.
    Returns (flags, department, issue_age, handoffs, new_handoffs).
    """
    new_handoffs = 0
    if flags & OPEN == 0:
        if not new_issue(dice, uid, chance):
            return flags, department, issue_age, handoffs, new_handoffs
        flags = (flags | OPEN | FRESH) & ~(HOPPED | COMPLAINED | MOMENT_OF_TRUTH)
        issue_age = 0
        handoffs = 0
        if happens(dice, Stream.CRITICALITY, uid, p.moment_of_truth_share):
            flags |= MOMENT_OF_TRUTH
        department = 0  # int(u * 1) of any draw u when there is one department
        if p.departments > 1:
            department = int(roll(dice, Stream.DEPARTMENT, uid) * p.departments)
        if flags & MOMENT_OF_TRUTH == 0 and happens(dice, Stream.SELF_SERVICE, uid, p.self_service):
            t.counts[C_SELF_SERVICE_USES] += 1
            if happens(dice, Stream.SELF_SERVICE_OK, uid, p.self_service_success):
                return flags & ~OPEN, department, issue_age, handoffs, new_handoffs
            issue_age = 1  # a failed self-service attempt costs a week
    if happens(dice, Stream.MISROUTE, uid, p.misroute_probability):
        new_handoffs += 1  # wrong department, or escalation to a specialist
    if flags & HOPPED and not happens(dice, Stream.HOP, uid, p.one_view):
        new_handoffs += 1  # a new channel without one view: the story again
    flags &= ~HOPPED
    if department > p.departments - 1:
        department = p.departments - 1
    t.load[department, new_handoffs] += 1
    return flags, department, issue_age, handoffs, new_handoffs


@register_jitable(inline="always")
def fill_server(p, servers, row, skill, satisfaction, time_taken):
    """Row ``row`` of the servers table: what a contact reads of its server, with the
    server's part of the resolution index (``rules.server_resolution_index``), which is
    the same for all the server's contacts of the week.

    Inlined where compiled code calls it (``kernel._fill_servers``, a loop over rows of
    the table, alone in its function): a call hands it the table, and numba counts a
    reference to an array handed to a call, an atomic add and subtract on the table's
    one counter per row, which threads filling blocks of a large table together
    contend for. (Inlined into the whole week, in numba 0.68, it once made numba lose
    what the week's contacts left on their servers, which
    ``test_float64_state_gives_the_mesa_run_bit_for_bit`` found.)"""
    servers[row, SERVER_SKILL] = skill
    servers[row, SERVER_SATISFACTION] = satisfaction
    servers[row, SERVER_TIME_TAKEN] = time_taken
    servers[row, SERVER_RESOLUTION] = rules.server_resolution_index(
        skill,
        satisfaction,
        time_taken / p.reference_handle_time,
        p.resolution_base,
        p.resolution_skill,
        p.resolution_staff_satisfaction,
        p.resolution_time,
    )


@register_jitable
def routed_load(p, load, department):
    """Work routed to a department, in contacts (a handoff adds ``handoff_time_share``)."""
    total = 0.0
    for h in range(MAX_NEW_HANDOFFS):
        total += load[department, h] * (1.0 + p.handoff_time_share * h)
    return total


@register_jitable
def pick_server(first, size, n_servers, u):
    """Row of the servers table that serves a contact: one of the department's ``size``
    staff from row ``first`` on, or of everyone when the department has none."""
    if size > 0:
        return first + int(u * size)
    return int(u * n_servers)


@register_jitable
def _age_issue(p, flags, issue_age, outcome, outcome_week, week):
    issue_age += 1
    if issue_age > p.issue_max_age_weeks:  # the customer gives up
        return flags & ~OPEN, issue_age, UNRESOLVED, week
    return flags, issue_age, outcome, outcome_week


@register_jitable(inline="always")
def customer_service(
    p,
    dice,
    uid,
    week,
    flags,
    segment,
    channel,
    department,
    issue_age,
    handoffs,
    new_handoffs,
    satisfaction,
    expectation,
    outcome,
    outcome_week,
    share,
    servers,
    pool_start,
    pool_len,
    t,
):
    """Steps 5-6 for a customer with a routed issue: served within capacity or kept
    waiting; the outcome, the experience, maybe a channel hop; a complaint and its
    recovery.

    ``share`` is the share of its department's contacts served this week.
    Returns (flags, channel, issue_age, handoffs, satisfaction, outcome, outcome_week,
    server, contact): ``server`` is the row of ``servers`` that served it (-1 if none)
    and ``contact`` its satisfaction after the contact in fixed point, for the server's
    satisfaction mirror.
    """
    # the department's pool read first, as numbers: compiled code then holds no
    # reference to the pool arrays past this point (counting references to an array
    # costs atomic operations per contact)
    pool_first = pool_start[department]
    pool_size = pool_len[department]
    moment = flags & MOMENT_OF_TRUTH != 0
    weight = rules.criticality_weight(moment, p.moment_of_truth_weight)
    work = 1.0 + p.handoff_time_share * new_handoffs
    t.sums[S_DEMAND_HOURS] += p.handle_time * work
    if not happens(dice, Stream.SERVED, uid, share):
        satisfaction = rules.wait_satisfaction(satisfaction, weight, p.wait_penalty)
        flags, issue_age, outcome, outcome_week = _age_issue(
            p, flags, issue_age, outcome, outcome_week, week
        )
        t.counts[C_BACKLOG] += 1
        return flags, channel, issue_age, handoffs, satisfaction, outcome, outcome_week, -1, 0
    fresh = flags & FRESH != 0
    handoffs += new_handoffs
    server = pick_server(
        pool_first, pool_size, servers.shape[0], roll(dice, Stream.STAFF_PICK, uid)
    )
    taken = servers[server, SERVER_TIME_TAKEN]
    index = rules.resolution_index(
        servers[server, SERVER_RESOLUTION],
        p.empowerment,
        p.one_view,
        handoffs,
        moment,
        p.scripts,
        p.resolution_empowerment,
        p.resolution_one_view,
        p.handoff_resolution_penalty,
        p.resolution_moment_of_truth,
        p.resolution_scripts,
    )
    resolved = rules.below_logistic(roll(dice, Stream.RESOLVE, uid), index)
    quality = rules.perceived_quality(
        resolved,
        handoffs,
        issue_age,
        p.quality_resolved,
        p.quality_unresolved,
        p.handoff_satisfaction_penalty,
        p.wait_penalty,
    )
    satisfaction = rules.update_satisfaction(
        satisfaction, expectation, quality, weight, p.satisfaction_rate
    )
    contact = int(satisfaction * FIXED_POINT + 0.5)
    t.counts[C_CONTACTS] += 1
    t.counts[C_HANDOFFS] += new_handoffs
    t.sums[S_TIME_TAKEN] += taken
    t.sums[S_CONTACT_COST] += p.contact_cost[channel] * work
    if fresh:
        t.counts[C_FIRST_CONTACTS] += 1
        if resolved:
            t.counts[C_FIRST_RESOLVED] += 1
    if resolved:
        experience = rules.contact_experience(quality, expectation)
        if handoffs == 0 and fresh:
            t.sums[S_EXPERIENCE_FIRST] += experience
            t.counts[C_EXPERIENCE_FIRST_N] += 1
        elif handoffs > 0:
            t.sums[S_EXPERIENCE_HANDOFF] += experience
            t.counts[C_EXPERIENCE_HANDOFF_N] += 1
        flags &= ~OPEN
        outcome = RESOLVED_FIRST if fresh else RESOLVED_LATER
        outcome_week = week
    else:
        if happens(dice, Stream.HOP_CHANNEL, uid, p.hop_probability):
            flags |= HOPPED
            channel = pick(
                p.channel_cumulative, len(p.contact_cost), roll(dice, Stream.CHANNEL, uid)
            )
        flags, issue_age, outcome, outcome_week = _age_issue(
            p, flags, issue_age, outcome, outcome_week, week
        )
    flags &= ~FRESH
    if flags & COMPLAINED == 0 and (not resolved or satisfaction < expectation):
        flags, satisfaction = customer_complaint(
            p, dice, uid, flags, segment, satisfaction, expectation, t
        )
    return (
        flags,
        channel,
        issue_age,
        handoffs,
        satisfaction,
        outcome,
        outcome_week,
        server,
        contact,
    )


@register_jitable(inline="always")
def customer_complaint(p, dice, uid, flags, segment, satisfaction, expectation, t):
    """A dissatisfied customer may complain (once per issue); an empowered firm may
    recover it. Returns (flags, satisfaction)."""
    chance = rules.complaint_probability(
        p.segment_complaint[segment], flags & MOMENT_OF_TRUTH != 0, p.complaint_severity_multiplier
    )
    flags |= COMPLAINED  # the chance to complain about this issue is spent
    if not happens(dice, Stream.COMPLAINT, uid, chance):
        return flags, satisfaction
    flags |= EVER_COMPLAINED
    t.counts[C_COMPLAINTS] += 1
    if happens(dice, Stream.RECOVERY, uid, p.empowerment * p.recovery_success):
        satisfaction = rules.recover_satisfaction(satisfaction, expectation, p.recovery_boost)
    return flags, satisfaction


@register_jitable
def churn_hazard(p, satisfaction, expectation, tenure):
    """The churn rule with this week's constants."""
    return rules.churn_hazard(
        satisfaction,
        expectation,
        tenure,
        p.churn_base,
        p.churn_steepness,
        p.competitor_pull,
        p.newcomer_boost,
        p.newcomer_weeks,
        p.churn_cap,
    )


@register_jitable(inline="always")
def customer_settle(
    p,
    dice,
    uid,
    week,
    flags,
    segment,
    tenure,
    satisfaction,
    expectation,
    lifetime_revenue,
    outcome,
    outcome_week,
    contacted,
    bound,
    multiplier,
    survivors,
    t,
):
    """Steps 7-9: leave, or drift (without a contact), pay and grow in tenure, and count
    in word of mouth.

    ``bound`` is an upper bound of the churn hazard (1 if none is known): a draw at or
    above it decides without evaluating the rule, so every decision is the rule's.
    ``multiplier`` multiplies the hazard (and its bound): churn contagion in a market
    (:func:`serviceprofit.model.choice.contagion_factor`), exactly 1.0 for a firm alone.
    ``survivors`` is the running tally of those who stay (:func:`count_survivor`).
    Returns (flags, satisfaction, tenure, lifetime_revenue, survivors); a churned
    customer's flags lose ``ACTIVE``.
    """
    # counted without a branch (whether a customer is tracked is as good as random in
    # customer order); an untracked customer adds 0
    tracked = (outcome != 0) & (week - outcome_week < DEFECTION_WINDOW_WEEKS)
    t.counts[C_AT_RISK + outcome] += tracked
    u = roll(dice, Stream.CHURN, uid)
    if u < bound * multiplier and u < (
        churn_hazard(p, satisfaction, expectation, tenure) * multiplier
    ):
        t.counts[C_CHURNED] += 1
        if flags & EVER_COMPLAINED:
            t.counts[C_CHURNED_COMPLAINED] += 1
        t.sums[S_CHURNED_REVENUE] += lifetime_revenue
        if tracked:
            t.counts[C_DEFECTED + outcome] += 1
        return flags & ~ACTIVE, satisfaction, tenure, lifetime_revenue, survivors
    if not contacted:
        satisfaction = rules.drift_satisfaction(satisfaction, expectation, p.satisfaction_rate)
    spend = rules.weekly_spend(
        p.segment_spend[segment],
        tenure,
        satisfaction,
        expectation,
        p.tenure_growth,
        p.tenure_cap_years,
        p.upsell,
    )
    survivors = count_survivor(p, satisfaction, spend, survivors)
    return flags, satisfaction, tenure + 1, lifetime_revenue + spend, survivors


NO_SURVIVORS = (0.0, 0.0, 0, 0)  # revenue, satisfaction, promoters, detractors


@register_jitable
def count_survivor(p, satisfaction, spend, survivors):
    """The running tally of customers who stay: their spend, satisfaction and NPS class.

    A tuple in and out, so that compiled code keeps it in registers over a pass of
    customers; :func:`add_survivors` adds it to the week's tallies at the end.
    """
    revenue, total, promoters, detractors = survivors
    promoter, detractor = rules.nps_flags(satisfaction, p.promoter_threshold, p.detractor_threshold)
    return revenue + spend, total + satisfaction, promoters + promoter, detractors + detractor


@register_jitable
def add_survivors(survivors, t):
    """Add a tally of :func:`count_survivor` to the week's (or a chunk's) tallies."""
    t.sums[S_REVENUE] += survivors[0]
    t.sums[S_SATISFACTION] += survivors[1]
    t.counts[C_PROMOTERS] += survivors[2]
    t.counts[C_DETRACTORS] += survivors[3]


@register_jitable
def tally_word_of_mouth(p, satisfaction, t):
    """An active customer's satisfaction and NPS class, for the week's averages."""
    t.sums[S_SATISFACTION] += satisfaction
    promoter, detractor = rules.nps_flags(satisfaction, p.promoter_threshold, p.detractor_threshold)
    t.counts[C_PROMOTERS] += promoter
    t.counts[C_DETRACTORS] += detractor


# ---------------------------------------------------------------------------
# Staff


@register_jitable
def new_staff(p, dice, uid, initial):
    """A member of staff at week 0 (``initial``) or hired. Returns (skill, tenure)."""
    if not initial:
        return p.hire_skill, 0.0
    u = roll(dice, Stream.STAFF_INIT, uid)
    return rules.initial_staff_skill(p.initial_skill, u), rules.initial_tenure(u)


@register_jitable
def least_staffed(sizes, departments):
    """The department with the fewest staff (the first of equals): where a hire goes."""
    best = 0
    for d in range(1, departments):
        if sizes[d] < sizes[best]:
            best = d
    return best


@register_jitable
def staff_week(
    p,
    dice,
    uid,
    training,
    pressure,
    satisfaction,
    skill,
    standard,
    time_taken,
    tenure,
    mirror,
    served_fixed,
    served_n,
):
    """Step 2 for one member of staff: satisfaction (internal quality and the customers
    served last week), skill and time standard move; then perhaps quit.

    ``pressure`` is last week's work pressure in its department; ``served_fixed`` and
    ``served_n`` the fixed-point sum and count of the customers it served.
    Returns (satisfaction, skill, standard, tenure, mirror, quits).
    """
    training_level = rules.saturation(p.training_per_head * training, p.training_half)
    quality = rules.internal_quality(
        training_level,
        rules.saturation(p.technology_per_head, p.tools_half),
        p.empowerment,
        p.wage_per_week / p.market_wage,
        pressure,
        p.quality_training,
        p.quality_tools,
        p.quality_empowerment,
        p.quality_pay,
        p.pressure_penalty,
    )
    if served_n > 0:
        mirror = (served_fixed / FIXED_POINT) / served_n
    satisfaction = rules.update_staff_satisfaction(
        satisfaction, quality, mirror, p.mirror_weight, p.staff_satisfaction_rate
    )
    skill = rules.update_skill(skill, training_level, p.learning_rate, p.training_learning_boost)
    standard = rules.update_time_standard(
        standard, time_taken, p.handle_time, p.erosion_time_constant, p.recovery_time_constant
    )
    hazard = rules.quit_hazard(satisfaction, p.quit_base, p.quit_reference, p.quit_steepness)
    quits = roll(dice, Stream.QUIT, uid) < hazard
    return satisfaction, skill, standard, tenure + 1, mirror, quits


@register_jitable
def capacity_plan(p, load, standard_sum, heads, hours_per_head):
    """Work pressure in a department sets time per contact and the share served.

    Work (contacts at the staff's mean standard) over the contact hours of ``heads``
    staff is the pressure; under pressure staff cut time per contact (Oliva and Sterman
    2001) and still serve only part of the demand; the rest waits.
    Returns (share served, pressure).
    """
    standard = standard_sum / heads
    hours = hours_per_head * heads
    pressure = load * standard / hours
    taken = rules.time_per_contact(standard, pressure, p.pressure_exponent)
    share = 1.0
    if load > 0:
        share = (hours / taken) / load
        if share > 1.0:
            share = 1.0
    return share, pressure
