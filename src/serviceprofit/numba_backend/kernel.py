"""The compiled loops of the array model: one agent's week, run over arrays.

Each loop does, for every agent, what the Mesa agent does (``mesa_backend/agents.py``),
calling the same rules from :mod:`serviceprofit.rules` and drawing the same numbers:
``uniform(key, stream, week, uid)`` from :mod:`serviceprofit.rng`, so a customer meets the
same luck in both backends.

Results do not depend on the number of threads:

- draws are a pure function of (run, purpose, week, uid), never a shared sequence;
- the customer loops run over fixed chunks of ``CHUNK`` slots (``prange`` over chunks);
  each chunk writes its counts and float sums to its own row of a partials array, and
  the rows are added in chunk order afterwards;
- what customers leave on staff (each server's count and sum of served customers'
  satisfaction) is added per thread in integers (satisfaction in fixed point, 2**-32),
  and integer addition gives the same total in any order.

The compiled functions are compiled on first use and cached on disk (``cache=True``);
``create_customers``, ``issues_pass`` and ``serve_pass`` are Python entry points that run
small populations chunk by chunk in the calling thread and large ones on all threads:
the same chunks either way, so the same results.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .. import rules
from ..rng import Stream, uniform
from ..rules import DEFECTION_WINDOW_WEEKS, RESOLVED_FIRST, RESOLVED_LATER, UNRESOLVED
from .state import (
    ACTIVE,
    COMPLAINED,
    EVER_COMPLAINED,
    FRESH,
    HOPPED,
    MOMENT_OF_TRUTH,
    OPEN,
)

CHUNK = 8192  # customers per chunk: the unit of work and of deterministic reduction
FIXED_POINT = 4294967296.0  # 2**32: staff-side satisfaction sums are kept in integers

# Streams as uint64 constants (numba freezes module globals into the compiled code).
S_ISSUE = np.uint64(Stream.ISSUE)
S_CRITICALITY = np.uint64(Stream.CRITICALITY)
S_SELF_SERVICE = np.uint64(Stream.SELF_SERVICE)
S_SELF_SERVICE_OK = np.uint64(Stream.SELF_SERVICE_OK)
S_DEPARTMENT = np.uint64(Stream.DEPARTMENT)
S_MISROUTE = np.uint64(Stream.MISROUTE)
S_HOP = np.uint64(Stream.HOP)
S_SERVED = np.uint64(Stream.SERVED)
S_STAFF_PICK = np.uint64(Stream.STAFF_PICK)
S_RESOLVE = np.uint64(Stream.RESOLVE)
S_HOP_CHANNEL = np.uint64(Stream.HOP_CHANNEL)
S_CHANNEL = np.uint64(Stream.CHANNEL)
S_COMPLAINT = np.uint64(Stream.COMPLAINT)
S_RECOVERY = np.uint64(Stream.RECOVERY)
S_CHURN = np.uint64(Stream.CHURN)
S_SEGMENT = np.uint64(Stream.SEGMENT)
S_INITIAL_SATISFACTION = np.uint64(Stream.INITIAL_SATISFACTION)
S_INITIAL_TENURE = np.uint64(Stream.INITIAL_TENURE)
S_QUIT = np.uint64(Stream.QUIT)

# Columns of the integer partials of the service pass.
I_BACKLOG = 0
I_CONTACTS = 1
I_HANDOFFS = 2
I_FIRST_CONTACTS = 3
I_FIRST_RESOLVED = 4
I_COMPLAINTS = 5
I_CHURNED = 6
I_CHURNED_COMPLAINED = 7
I_EXPERIENCE_FIRST_N = 8
I_EXPERIENCE_HANDOFF_N = 9
I_PROMOTERS = 10
I_DETRACTORS = 11
I_SURVIVORS = 12
I_AT_RISK = 13  # 13..16: customers tracked by outcome code 0..3
I_DEFECTED = 17  # 17..20: tracked customers who churned, by outcome code
N_INTS = 21
# Columns of the float partials of the service pass.
F_DEMAND_HOURS = 0
F_TIME_TAKEN = 1
F_CONTACT_COST = 2
F_REVENUE = 3
F_CHURNED_REVENUE = 4
F_SATISFACTION = 5
F_EXPERIENCE_FIRST = 6
F_EXPERIENCE_HANDOFF = 7
N_FLOATS = 8

# Populations of fewer chunks run in the calling thread: starting a parallel region costs
# microseconds on an idle machine but milliseconds when other processes hold the cores.
PARALLEL_FROM_CHUNKS = 3

# Columns of the servers table the service pass reads: one row per member of staff, in
# pool order (department by department, uid order within), so that a contact's server
# is one row, one cache line, found without an index array.
SERVER_SKILL = 0
SERVER_SATISFACTION = 1
SERVER_TIME_TAKEN = 2
SERVER_COLUMNS = 4  # padded to 32 bytes a row

MAX_DEPARTMENTS = 4
MAX_NEW_HANDOFFS = 3  # 0, 1 or 2 handoffs a week


@njit(cache=True)
def n_chunks(stored):
    """Chunks of ``CHUNK`` slots covering ``stored`` slots."""
    return (stored + CHUNK - 1) // CHUNK


@njit(cache=True)
def _pick(cumulative, u):
    """Index of the category a uniform ``u`` falls in (``bisect_right``, clamped)."""
    k = np.searchsorted(cumulative, u, side="right")
    last = cumulative.size - 1
    return k if k < last else last


# ---------------------------------------------------------------------------
# Creation


@njit(cache=True)
def _create_range(c, lo, hi, first_uid, key, week, initial, kp):
    wk = np.uint64(week)
    for i in range(lo, hi):
        uid = first_uid + (i - lo)
        u64 = np.uint64(uid)
        segment = _pick(kp.segment_cumulative, uniform(key, S_SEGMENT, wk, u64))
        expectation = kp.segment_expectation[segment]
        spread = uniform(key, S_INITIAL_SATISFACTION, wk, u64)
        tenure = 0
        if initial:
            tenure = int(rules.initial_tenure(uniform(key, S_INITIAL_TENURE, wk, u64)))
        c.uid[i] = uid
        c.flags[i] = ACTIVE
        c.segment[i] = segment
        c.channel[i] = _pick(kp.channel_cumulative, uniform(key, S_CHANNEL, wk, u64))
        c.department[i] = 0
        c.new_handoffs[i] = 0
        c.issue_age[i] = 0
        c.handoffs[i] = 0
        c.outcome[i] = 0
        c.tenure[i] = tenure
        c.outcome_week[i] = 0
        c.satisfaction[i] = rules.initial_satisfaction(expectation, spread)
        c.expectation[i] = expectation
        c.lifetime_revenue[i] = 0.0


def create_customers(c, start, count, first_uid, key, week, initial, kp):
    """Fill slots ``start..start+count`` with new customers numbered from ``first_uid``.

    As ``ServiceProfitModel._create_customers``: segment, channel and satisfaction from
    the week's draws; initial customers also get a tenure of up to five years.
    """
    if count < PARALLEL_FROM_CHUNKS * CHUNK:
        _create_range(c, start, start + count, first_uid, key, week, initial, kp)
    else:
        _create_parallel(c, start, count, first_uid, key, week, initial, kp)


@njit(cache=True, parallel=True)
def _create_parallel(c, start, count, first_uid, key, week, initial, kp):
    chunks = (count + CHUNK - 1) // CHUNK
    for k in prange(chunks):
        lo = start + k * CHUNK
        hi = min(lo + CHUNK, start + count)
        _create_range(c, lo, hi, first_uid + k * CHUNK, key, week, initial, kp)


@njit(cache=True)
def tally_newcomers(c, lo, hi, promoter_threshold, detractor_threshold):
    """(satisfaction sum, promoters, detractors) of the customers in slots ``lo..hi``."""
    total = 0.0
    promoters = 0
    detractors = 0
    for i in range(lo, hi):
        s = np.float64(c.satisfaction[i])
        total += s
        kind = rules.nps_class(s, promoter_threshold, detractor_threshold)
        if kind == 1:
            promoters += 1
        elif kind == -1:
            detractors += 1
    return total, promoters, detractors


# ---------------------------------------------------------------------------
# Staff (serial: at most 100,000 of them)


@njit(cache=True)
def step_staff(s, served_sum, served_n, pressure, training, kp, key, week):
    """Satisfaction, skill and time standard move; return who quits (as ``Staff.step``)."""
    n = s.uid.size
    quits = np.zeros(n, np.bool_)
    wk = np.uint64(week)
    training_level = rules.saturation(kp.training_per_head * training, kp.training_half)
    tools_level = rules.saturation(kp.technology_per_head, kp.tools_half)
    last = pressure.size - 1
    for j in range(n):
        d = s.department[j]
        quality = rules.internal_quality(
            training_level,
            tools_level,
            kp.empowerment,
            kp.wage_per_week / kp.market_wage,
            pressure[d if d < last else last],
            kp.quality_training,
            kp.quality_tools,
            kp.quality_empowerment,
            kp.quality_pay,
            kp.pressure_penalty,
        )
        if served_n[j] > 0:
            s.mirror[j] = served_sum[j] / served_n[j]
        s.satisfaction[j] = rules.update_staff_satisfaction(
            s.satisfaction[j], quality, s.mirror[j], kp.mirror_weight, kp.staff_satisfaction_rate
        )
        s.skill[j] = rules.update_skill(
            s.skill[j], training_level, kp.learning_rate, kp.training_learning_boost
        )
        s.standard[j] = rules.update_time_standard(
            s.standard[j],
            s.time_taken[j],
            kp.handle_time,
            kp.erosion_time_constant,
            kp.recovery_time_constant,
        )
        s.tenure[j] += 1.0
        hazard = rules.quit_hazard(
            s.satisfaction[j], kp.quit_base, kp.quit_reference, kp.quit_steepness
        )
        quits[j] = uniform(key, S_QUIT, wk, np.uint64(s.uid[j])) < hazard
    return quits


@njit(cache=True)
def plan_capacity(s, members, pool_start, pool_len, load, hours_per_head, exponent):
    """Work pressure per department sets time per contact and the share served.

    As ``ServiceProfitModel._plan_capacity``; ``members[pool_start[d]:][:pool_len[d]]``
    are department ``d``'s staff in uid order, and all of ``members`` is every member of
    staff in department order (the pool of a department left empty).
    Returns (share served, pressure) per department and sets each member's time taken.
    """
    n_dept = load.size
    share = np.zeros(n_dept)
    pressure = np.zeros(n_dept)
    for d in range(n_dept):
        lo = pool_start[d]
        size = pool_len[d]
        if size == 0:
            lo = 0
            size = members.size
        if size == 0:
            continue
        standard_sum = 0.0
        for k in range(lo, lo + size):
            standard_sum += s.standard[members[k]]
        standard = standard_sum / size
        hours = hours_per_head * size
        pressure[d] = load[d] * standard / hours
        taken = rules.time_per_contact(standard, pressure[d], exponent)
        if load[d] > 0:
            share[d] = min(1.0, (hours / taken) / load[d])
        else:
            share[d] = 1.0
        for k in range(pool_start[d], pool_start[d] + pool_len[d]):
            j = members[k]
            s.time_taken[j] = rules.time_per_contact(s.standard[j], pressure[d], exponent)
    return share, pressure


# ---------------------------------------------------------------------------
# Customers, pass 1: issues and routing (MODEL.md steps 3 and 4)


@njit(cache=True)
def _issues_range(c, lo, hi, kp, surge, fixed_share, key, week, counts):
    wk = np.uint64(week)
    self_service_uses = 0
    last_dept = kp.departments - 1
    # the chance of an issue depends on the segment alone: the rule once per segment
    chance = np.empty(kp.segment_issue_multiplier.size)
    for g in range(chance.size):
        chance[g] = rules.issue_probability(
            kp.issue_rate, kp.complexity, kp.segment_issue_multiplier[g], fixed_share, surge
        )
    for i in range(lo, hi):
        f = np.int64(c.flags[i])
        if f & ACTIVE == 0:
            continue
        uid = np.uint64(c.uid[i])
        if f & OPEN == 0:
            if uniform(key, S_ISSUE, wk, uid) >= chance[c.segment[i]]:
                continue  # no issue, nothing to route: the flags stay as they are
            f = (f | OPEN | FRESH) & ~(HOPPED | COMPLAINED | MOMENT_OF_TRUTH)
            c.issue_age[i] = 0
            c.handoffs[i] = 0
            if uniform(key, S_CRITICALITY, wk, uid) < kp.moment_of_truth_share:
                f |= MOMENT_OF_TRUTH
            c.department[i] = int(uniform(key, S_DEPARTMENT, wk, uid) * kp.departments)
            if f & MOMENT_OF_TRUTH == 0 and uniform(key, S_SELF_SERVICE, wk, uid) < kp.self_service:
                self_service_uses += 1
                if uniform(key, S_SELF_SERVICE_OK, wk, uid) < kp.self_service_success:
                    f &= ~OPEN
                else:
                    c.issue_age[i] = 1  # a failed self-service attempt costs a week
        if f & OPEN:
            handoffs = 0
            if uniform(key, S_MISROUTE, wk, uid) < kp.misroute_probability:
                handoffs += 1  # wrong department, or escalation to a specialist
            if f & HOPPED and uniform(key, S_HOP, wk, uid) >= kp.one_view:
                handoffs += 1  # a new channel without one view: the story again
            f &= ~HOPPED
            d = c.department[i]
            if d > last_dept:
                d = last_dept
                c.department[i] = d
            c.new_handoffs[i] = handoffs
            counts[d, handoffs] += 1
        c.flags[i] = f
    return self_service_uses


def issues_pass(c, stored, kp, surge, fixed_share, key, week):
    """New issues, self-service and routing for every active customer.

    Returns (self-service uses, contacts routed per department and handoff count)."""
    chunks = n_chunks(stored)
    if chunks >= PARALLEL_FROM_CHUNKS:
        return _issues_parallel(c, stored, kp, surge, fixed_share, key, week)
    uses = 0
    counts = np.zeros((chunks, MAX_DEPARTMENTS, MAX_NEW_HANDOFFS), np.int64)
    for k in range(chunks):
        lo, hi = k * CHUNK, min((k + 1) * CHUNK, stored)
        uses += _issues_range(c, lo, hi, kp, surge, fixed_share, key, week, counts[k])
    return uses, counts.sum(axis=0)


@njit(cache=True, parallel=True)
def _issues_parallel(c, stored, kp, surge, fixed_share, key, week):
    chunks = n_chunks(stored)
    uses = np.zeros(chunks, np.int64)
    counts = np.zeros((chunks, MAX_DEPARTMENTS, MAX_NEW_HANDOFFS), np.int64)
    for k in prange(chunks):
        lo = k * CHUNK
        hi = min(lo + CHUNK, stored)
        uses[k] = _issues_range(c, lo, hi, kp, surge, fixed_share, key, week, counts[k])
    return uses.sum(), counts.sum(axis=0)


# ---------------------------------------------------------------------------
# Churn without evaluating the hazard for most customers
#
# A customer churns when its draw u falls below the churn hazard, which is a few tenths
# of a percent a week for most. Where u is at or above an upper bound of the hazard, the
# customer stays without the rule being evaluated (two exponentials); elsewhere the rule
# decides, so every decision is the rule's. The bound for a customer of a segment
# (whose expectation is the segment's) is the rule at zero tenure and at the lower edge
# of the satisfaction bin below the customer's: valid because the hazard falls with
# satisfaction and with tenure. That is checked, not assumed: :func:`churn_bounds`
# evaluates the rule inside every bin over a range of tenures and, if any value exceeds
# its bound, returns bounds of 1, which rule nothing out.

CHURN_BINS = 1024
_CHECK_POINTS = 8  # points per satisfaction bin at which the bound is checked
_CHECK_TENURES = (0.0, 1.0, 2.0, 4.0, 8.0, 13.0, 26.0, 52.0, 104.0, 260.0, 1000.0, 6000.0)


@njit(cache=True)
def _churn_hazard(satisfaction, expectation, tenure, kp):
    return rules.churn_hazard(
        satisfaction,
        expectation,
        tenure,
        kp.churn_base,
        kp.churn_steepness,
        kp.competitor_pull,
        kp.newcomer_boost,
        kp.newcomer_weeks,
        kp.churn_cap,
    )


@njit(cache=True)
def _fill_churn_bounds(kp, expectation, bounds):
    """Fill ``bounds[g, b]``; return False if the rule broke a bound at a checked point."""
    for g in range(expectation.size):
        e = np.float64(expectation[g])
        for b in range(CHURN_BINS + 1):
            edge = (b - 1 if b > 0 else 0) / CHURN_BINS
            bounds[g, b] = _churn_hazard(edge, e, 0.0, kp)
        for b in range(CHURN_BINS * _CHECK_POINTS + 1):
            s = b / (CHURN_BINS * _CHECK_POINTS)
            bound = bounds[g, int(s * CHURN_BINS)]
            for tenure in _CHECK_TENURES:
                if _churn_hazard(s, e, tenure, kp) > bound:
                    return False
    return True


def churn_bounds(kp):
    """(bounds per segment and satisfaction bin, the segments' float32 expectations)."""
    expectation = kp.segment_expectation.astype(np.float32)
    bounds = np.empty((expectation.size, CHURN_BINS + 1))
    if not _fill_churn_bounds(kp, expectation, bounds):
        bounds[:] = 1.0
    return bounds, expectation


# ---------------------------------------------------------------------------
# Customers, pass 2: service, complaint, churn, revenue, word of mouth (steps 5-9)


@njit(cache=True)
def _serve_range(
    c,
    lo,
    hi,
    kp,
    share,
    servers,
    pool_start,
    pool_len,
    key,
    week,
    bounds,
    bound_expectation,
    served,
    ints,
    floats,
):
    wk = np.uint64(week)
    n_servers = servers.shape[0]
    # Each contact's (server, satisfaction) is kept and added to the server's sums after
    # the loop: scattered additions into a table of 100,000 staff miss the cache, and in
    # a loop of their own they overlap instead of stalling the customer loop one by one.
    contact_server = np.empty(hi - lo, np.int64)
    contact_satisfaction = np.empty(hi - lo, np.int64)
    n_contacts = 0
    satisfaction_rate = kp.satisfaction_rate
    # What every customer adds to is summed in locals (registers), not in the partials
    # arrays, which the compiler must assume may alias the state arrays.
    revenue = 0.0
    satisfaction_sum = 0.0
    survivors = 0
    promoters = 0
    detractors = 0
    for i in range(lo, hi):
        f = np.int64(c.flags[i])
        if f & ACTIVE == 0:
            continue
        uid = np.uint64(c.uid[i])
        satisfaction = np.float64(c.satisfaction[i])
        expectation = np.float64(c.expectation[i])
        contacted = False
        if f & OPEN:
            # -- service (Customer.be_served)
            moment = f & MOMENT_OF_TRUTH != 0
            weight = rules.criticality_weight(moment, kp.moment_of_truth_weight)
            new_handoffs = np.int64(c.new_handoffs[i])
            load = 1.0 + kp.handoff_time_share * new_handoffs
            floats[F_DEMAND_HOURS] += kp.handle_time * load
            d = np.int64(c.department[i])
            age = np.int64(c.issue_age[i])
            if uniform(key, S_SERVED, wk, uid) >= share[d]:
                satisfaction = rules.wait_satisfaction(satisfaction, weight, kp.wait_penalty)
                age += 1
                if age > kp.issue_max_age_weeks:  # the customer gives up
                    f &= ~OPEN
                    c.outcome[i] = UNRESOLVED
                    c.outcome_week[i] = week
                c.issue_age[i] = age
                ints[I_BACKLOG] += 1
            else:
                contacted = True
                fresh = f & FRESH != 0
                handoffs = np.int64(c.handoffs[i]) + new_handoffs
                c.handoffs[i] = handoffs
                u = uniform(key, S_STAFF_PICK, wk, uid)
                if pool_len[d] > 0:
                    server = pool_start[d] + int(u * pool_len[d])
                else:
                    server = int(u * n_servers)
                taken = servers[server, SERVER_TIME_TAKEN]
                chance = rules.resolution_probability(
                    servers[server, SERVER_SKILL],
                    servers[server, SERVER_SATISFACTION],
                    taken / kp.reference_handle_time,
                    kp.empowerment,
                    kp.one_view,
                    handoffs,
                    moment,
                    kp.scripts,
                    kp.resolution_base,
                    kp.resolution_skill,
                    kp.resolution_staff_satisfaction,
                    kp.resolution_time,
                    kp.resolution_empowerment,
                    kp.resolution_one_view,
                    kp.handoff_resolution_penalty,
                    kp.resolution_moment_of_truth,
                    kp.resolution_scripts,
                )
                resolved = uniform(key, S_RESOLVE, wk, uid) < chance
                quality = rules.perceived_quality(
                    resolved,
                    handoffs,
                    age,
                    kp.quality_resolved,
                    kp.quality_unresolved,
                    kp.handoff_satisfaction_penalty,
                    kp.wait_penalty,
                )
                satisfaction = rules.update_satisfaction(
                    satisfaction, expectation, quality, weight, kp.satisfaction_rate
                )
                contact_server[n_contacts] = server
                contact_satisfaction[n_contacts] = np.int64(satisfaction * FIXED_POINT + 0.5)
                n_contacts += 1
                ints[I_CONTACTS] += 1
                ints[I_HANDOFFS] += new_handoffs
                floats[F_TIME_TAKEN] += taken
                floats[F_CONTACT_COST] += kp.contact_cost[c.channel[i]] * load
                if fresh:
                    ints[I_FIRST_CONTACTS] += 1
                    if resolved:
                        ints[I_FIRST_RESOLVED] += 1
                if resolved:
                    experience = rules.contact_experience(quality, expectation)
                    if handoffs == 0 and fresh:
                        floats[F_EXPERIENCE_FIRST] += experience
                        ints[I_EXPERIENCE_FIRST_N] += 1
                    elif handoffs > 0:
                        floats[F_EXPERIENCE_HANDOFF] += experience
                        ints[I_EXPERIENCE_HANDOFF_N] += 1
                    f &= ~OPEN
                    c.outcome[i] = RESOLVED_FIRST if fresh else RESOLVED_LATER
                    c.outcome_week[i] = week
                else:
                    if uniform(key, S_HOP_CHANNEL, wk, uid) < kp.hop_probability:
                        f |= HOPPED
                        c.channel[i] = _pick(
                            kp.channel_cumulative, uniform(key, S_CHANNEL, wk, uid)
                        )
                    age += 1
                    if age > kp.issue_max_age_weeks:
                        f &= ~OPEN
                        c.outcome[i] = UNRESOLVED
                        c.outcome_week[i] = week
                    c.issue_age[i] = age
                f &= ~FRESH
                # -- complaint (Customer._maybe_complain)
                if f & COMPLAINED == 0 and (not resolved or satisfaction < expectation):
                    f |= COMPLAINED
                    complaint = rules.complaint_probability(
                        kp.segment_complaint[c.segment[i]],
                        moment,
                        kp.complaint_severity_multiplier,
                    )
                    if uniform(key, S_COMPLAINT, wk, uid) < complaint:
                        f |= EVER_COMPLAINED
                        ints[I_COMPLAINTS] += 1
                        if uniform(key, S_RECOVERY, wk, uid) < kp.empowerment * kp.recovery_success:
                            satisfaction = rules.recover_satisfaction(
                                satisfaction, expectation, kp.recovery_boost
                            )
        # -- churn and revenue (Customer.settle)
        outcome = np.int64(c.outcome[i])
        tracked = outcome != 0 and week - np.int64(c.outcome_week[i]) < DEFECTION_WINDOW_WEEKS
        if tracked:
            ints[I_AT_RISK + outcome] += 1
        tenure = np.float64(c.tenure[i])
        u = uniform(key, S_CHURN, wk, uid)
        segment = c.segment[i]
        bound = 1.0  # the draw is below 1: evaluate the rule unless a bound rules it out
        if c.expectation[i] == bound_expectation[segment]:
            b = int(satisfaction * CHURN_BINS)
            if 0 <= b <= CHURN_BINS:
                bound = bounds[segment, b]
        if u < bound and u < _churn_hazard(satisfaction, expectation, tenure, kp):
            ints[I_CHURNED] += 1
            if f & EVER_COMPLAINED:
                ints[I_CHURNED_COMPLAINED] += 1
            floats[F_CHURNED_REVENUE] += c.lifetime_revenue[i]
            if tracked:
                ints[I_DEFECTED + outcome] += 1
            c.satisfaction[i] = satisfaction
            c.flags[i] = f & ~ACTIVE
            continue
        if not contacted:
            satisfaction = rules.drift_satisfaction(satisfaction, expectation, satisfaction_rate)
        spend = rules.weekly_spend(
            kp.segment_spend[c.segment[i]],
            tenure,
            satisfaction,
            expectation,
            kp.tenure_growth,
            kp.tenure_cap_years,
            kp.upsell,
        )
        c.lifetime_revenue[i] += spend
        c.tenure[i] += 1
        revenue += spend
        c.flags[i] = f
        c.satisfaction[i] = satisfaction
        # -- word of mouth: the survivors' satisfaction and NPS class, read (as the Mesa
        #    model does) from the float64 value before it is rounded for storage
        satisfaction_sum += satisfaction
        survivors += 1
        kind = rules.nps_class(satisfaction, kp.promoter_threshold, kp.detractor_threshold)
        if kind == 1:
            promoters += 1
        elif kind == -1:
            detractors += 1
    for j in range(n_contacts):
        served[contact_server[j], 0] += contact_satisfaction[j]
        served[contact_server[j], 1] += 1
    floats[F_REVENUE] += revenue
    floats[F_SATISFACTION] += satisfaction_sum
    ints[I_SURVIVORS] += survivors
    ints[I_PROMOTERS] += promoters
    ints[I_DETRACTORS] += detractors


def serve_pass(
    c, stored, kp, share, servers, pool_start, pool_len, key, week, churn_bounds, n_rows
):
    """Service, complaints, churn, revenue and NPS for every active customer.

    ``servers`` is the staff table in pool order (``SERVER_*`` columns). Returns the
    integer and float partials per chunk (rows in chunk order) and, per thread and per
    row of ``servers``, the fixed-point sum of served customers' satisfaction and their
    count (``served[thread, server] = (sum, count)``).
    """
    args = (c, stored, kp, share, servers, pool_start, pool_len, key, week, *churn_bounds)
    chunks = n_chunks(stored)
    if chunks >= PARALLEL_FROM_CHUNKS:
        return _serve_parallel(*args, n_rows)
    ints = np.zeros((chunks, N_INTS), np.int64)
    floats = np.zeros((chunks, N_FLOATS), np.float64)
    served = np.zeros((1, servers.shape[0], 2), np.int64)
    for k in range(chunks):
        lo, hi = k * CHUNK, min((k + 1) * CHUNK, stored)
        _serve_range(
            c,
            lo,
            hi,
            kp,
            share,
            servers,
            pool_start,
            pool_len,
            key,
            week,
            churn_bounds[0],
            churn_bounds[1],
            served[0],
            ints[k],
            floats[k],
        )
    return ints, floats, served


@njit(cache=True, parallel=True)
def _serve_parallel(
    c, stored, kp, share, servers, pool_start, pool_len, key, week, bounds, expectation, n_rows
):
    chunks = n_chunks(stored)
    ints = np.zeros((chunks, N_INTS), np.int64)
    floats = np.zeros((chunks, N_FLOATS), np.float64)
    served = np.zeros((n_rows, servers.shape[0], 2), np.int64)
    for k in prange(chunks):
        row = numba.get_thread_id()
        lo = k * CHUNK
        hi = min(lo + CHUNK, stored)
        _serve_range(
            c,
            lo,
            hi,
            kp,
            share,
            servers,
            pool_start,
            pool_len,
            key,
            week,
            bounds,
            expectation,
            served[row],
            ints[k],
            floats[k],
        )
    return ints, floats, served


# ---------------------------------------------------------------------------
# Housekeeping


@njit(cache=True)
def compact(c, stored):
    """Squeeze churned customers out, keeping uid order; return how many remain."""
    kept = 0
    for i in range(stored):
        if c.flags[i] & ACTIVE == 0:
            continue
        if kept != i:
            c.uid[kept] = c.uid[i]
            c.flags[kept] = c.flags[i]
            c.segment[kept] = c.segment[i]
            c.channel[kept] = c.channel[i]
            c.department[kept] = c.department[i]
            c.new_handoffs[kept] = c.new_handoffs[i]
            c.issue_age[kept] = c.issue_age[i]
            c.handoffs[kept] = c.handoffs[i]
            c.outcome[kept] = c.outcome[i]
            c.tenure[kept] = c.tenure[i]
            c.outcome_week[kept] = c.outcome_week[i]
            c.satisfaction[kept] = c.satisfaction[i]
            c.expectation[kept] = c.expectation[i]
            c.lifetime_revenue[kept] = c.lifetime_revenue[i]
        kept += 1
    for i in range(kept, stored):
        c.flags[i] = 0
    return kept


# Any compiled function of this module: it tells where numba keeps this module's cache.
CACHE_PROBE = compact
