"""The compiled market: each firm's week on its own arrays, and the market phase between.

A firm in a market is a firm of :mod:`.kernel` (its customer and staff arrays, counters,
owner, records, key), whose customers are people of the market: a customer's ``uid`` is
the person's id, so the person's draws at the firm are the firm's draws for that id.
The week (docs/ODD.md, 7.2) is :func:`firm_front` (steps 1-9, churn multiplied by
contagion) for every firm, :func:`show_firm` (what the market sees of each firm's
customers), ``choice.market_phase`` (contagion, choices, moves: the one definition the
Mesa market calls too), then :func:`firm_back` (leavers go, joiners arrive, the books
close) for every firm. The loop over weeks and firms is in Python
(:mod:`.market_model`): a handful of compiled calls a week.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from serviceprofit.backends.numba import kernel as k
from serviceprofit.model import choice, firm, week
from serviceprofit.model.week import (
    ACTIVE,
    C_ACQUIRED,
    C_CUSTOMERS_ACTIVE,
    C_CUSTOMERS_START,
    C_STAFF_ACTIVE,
    C_STAFF_HIRED,
    C_STAFF_LAID_OFF,
    EVER_COMPLAINED,
    GONE,
    MAX_DEPARTMENTS,
    N_COUNTS,
    N_SUMS,
    S_STAFF_SATISFACTION,
    SERVER_COLUMNS,
    TALLY_DTYPE,
)

# Columns of a firm's market row per week.
M_ACTIVE, M_WON, M_LOST_RIVALS, M_LOST_OUTSIDE, M_WON_PROSPECTS, N_MARKET_COLUMNS = range(6)


@njit(cache=True)
def create_people(c, start, persons, segment_of, start_satisfaction, p, dice, initial, t):
    """Fill slots from ``start`` with the people ``persons`` as new customers of the
    firm: the person's segment, the firm's draws for the person's id; a returning former
    customer starts from their remembered satisfaction (``start_satisfaction``, NaN for
    others). Newcomers count in the week's word of mouth (not ``initial`` ones)."""
    for n in range(persons.size):
        i = start + n
        person = persons[n]
        segment, channel, satisfaction, expectation, tenure = week.new_customer_in_segment(
            p, dice, person, np.int64(segment_of[person]), initial
        )
        if not initial and not math.isnan(start_satisfaction[person]):
            satisfaction = start_satisfaction[person]
        c.uid[i] = person
        c.flags[i] = ACTIVE
        c.segment[i] = segment
        c.channel[i] = channel
        c.department[i] = 0
        c.new_handoffs[i] = 0
        c.issue_age[i] = 0
        c.handoffs[i] = 0
        c.outcome[i] = 0
        c.tenure[i] = int(tenure)
        c.outcome_week[i] = 0
        c.satisfaction[i] = satisfaction
        c.expectation[i] = expectation
        c.lifetime_revenue[i] = 0.0
        if not initial:
            week.tally_word_of_mouth(p, c.satisfaction[i], t)


@njit(cache=True)
def start_firm(c, s, counters, records, index, key, scratch, persons, segment_of, nothing):
    """Week 0 of a firm of the market (as ``kernel.start_run``), its customers the
    ``persons`` given."""
    p = records[index[0]]
    dice = (key, np.uint64(0))
    counters[k.K_POOL_DEPARTMENTS] = p.departments
    counters[k.K_PRESSURE_DEPARTMENTS] = p.departments
    s = k.hire_staff(s, counters, p, dice, p.initial_staff, True)
    create_people(c, 0, persons, segment_of, nothing, p, dice, True, scratch[0])
    counters[k.K_STORED] = persons.size
    counters[k.K_ACTIVE] = persons.size
    return s


@njit(cache=True)
def firm_front(c, s, counters, firm_state, pending, history, pressure, week_tally, records,
               index, bounds, bound_expectation, key, now, contagion, threads):  # fmt: skip
    """Steps 1-9 of one firm's week (the order of ``kernel.advance``), churn multiplied
    by contagion; the market phase follows. With ``threads`` above 1 the customer passes
    of a large firm run in parallel over chunks, as ``kernel.advance``'s (same bits).
    Returns the (possibly grown) staff arrays."""
    parallel = threads > 1
    r = index[now]
    p = records[r]
    dice = (key, np.uint64(now))
    t = week_tally[0]
    counts = t.counts
    sums = t.sums
    counts[:] = 0
    sums[:] = 0.0
    t.load[:] = 0
    firm.begin_week(p, firm_state, history, dice, now)
    k._staff_week(s, counters, p, dice, firm_state[firm.F_TRAINING], pressure, counts)
    if counters[k.K_POOL_DEPARTMENTS] != p.departments:
        counters[k.K_POOL_DEPARTMENTS] = p.departments
        for j in range(counters[k.K_STAFF]):
            s.department[j] = j % p.departments
    hires, layoffs = firm.staffing(p, firm_state, pending, now, counters[k.K_STAFF])
    if layoffs > 0:
        counters[k.K_STAFF] = max(0, counters[k.K_STAFF] - layoffs)
    counts[C_STAFF_LAID_OFF] = layoffs
    s = k.hire_staff(s, counters, p, dice, hires, False)
    counts[C_STAFF_HIRED] = hires
    n_staff = counters[k.K_STAFF]
    members, pool_start, pool_len = k._pools(s, n_staff, p.departments)
    surge, fixed_share = firm.issue_climate(p, firm_state, now)
    chances = np.zeros(bounds.shape[1])
    week.issue_chances(p, surge, fixed_share, chances)
    counts[C_CUSTOMERS_START] = counters[k.K_ACTIVE]
    stored = counters[k.K_STORED]
    chunks = k.n_chunks(stored)
    tallies = np.zeros(chunks, TALLY_DTYPE)
    parallel = parallel and chunks >= k.PARALLEL_FROM_CHUNKS
    if parallel:
        k._issues_parallel(c, stored, records, r, dice, chances, tallies)
    else:
        for q in range(chunks):
            lo = q * k.CHUNK
            k._issues_range(c, lo, min(lo + k.CHUNK, stored), records, r, dice, chances, tallies, q)
    for q in range(chunks):
        t.load += tallies[q].load
    share = np.zeros(MAX_DEPARTMENTS)
    hours_per_head = p.contact_hours * p.productivity * firm.capacity_factor(p, firm_state, now)
    k._plan_capacity(s, members, pool_start, pool_len, p, t.load, hours_per_head, share, pressure)
    counters[k.K_PRESSURE_DEPARTMENTS] = p.departments
    servers = np.zeros((n_staff, SERVER_COLUMNS))
    for row in range(n_staff):
        j = members[row]
        week.fill_server(p, servers, row, s.skill[j], s.satisfaction[j], s.time_taken[j])
    pools = (pool_start, pool_len)
    table = (bounds[r], bound_expectation[r])
    if parallel:
        served = np.zeros((threads, n_staff, 2), np.int64)
        k._serve_parallel(c, stored, records, r, now, dice, share, servers, pools, table,
                          tallies, served, contagion)  # fmt: skip
    else:
        served = np.zeros((1, n_staff, 2), np.int64)
        for q in range(chunks):
            lo = q * k.CHUNK
            k._serve_range(c, lo, min(lo + k.CHUNK, stored), records, r, now, dice, share,
                           servers, pools, table, tallies, q, served[0], contagion)  # fmt: skip
    for row in range(n_staff):
        j = members[row]
        s.served_fixed[j] = 0
        s.served_n[j] = 0
        for th in range(served.shape[0]):
            s.served_fixed[j] += served[th, row, 0]
            s.served_n[j] += served[th, row, 1]
    for q in range(chunks):
        for m in range(N_COUNTS):
            counts[m] += tallies[q].counts[m]
        for m in range(N_SUMS):
            sums[m] += tallies[q].sums[m]
    counters[k.K_ACTIVE] -= counts[week.C_CHURNED]
    return s


@njit(cache=True)
def show_firm(c, counters, f, people, reviews, detractor_threshold, now, constants, tally):
    """Tell the market what its people see of firm ``f``'s customers after step 9
    (``choice.show_customer``) and who churned this week (``choice.show_churner``)."""
    status = people[0]
    for i in range(counters[k.K_STORED]):
        flags = c.flags[i]
        person = c.uid[i]
        if flags & ACTIVE:
            choice.tally_contagion(people, person, now, constants, False, tally)
            choice.show_customer(people, person, f, np.float64(c.satisfaction[i]), reviews,
                                 detractor_threshold, flags & EVER_COMPLAINED != 0)  # fmt: skip
        elif flags & GONE == 0:
            c.flags[i] = flags | GONE
            choice.tally_contagion(people, person, now, constants, True, tally)
            if status[person] == f:
                choice.show_churner(people, person, f, np.float64(c.satisfaction[i]))


@njit(cache=True)
def firm_back(c, s, counters, firm_state, history, totals, week_tally, records, index, key,
              now, f, people, joiners, n_joiners):  # fmt: skip
    """Steps 10-12 of one firm's week after the market phase: customers won by a rival
    leave, the people who chose the firm join (person order), the books close.
    Returns the (possibly grown) customer arrays and how many left for a rival."""
    p = records[index[now]]
    dice = (key, np.uint64(now))
    t = week_tally[0]
    counts = t.counts
    sums = t.sums
    status = people[0]
    left = 0
    for i in range(counters[k.K_STORED]):
        flags = c.flags[i]
        if flags & ACTIVE and status[c.uid[i]] != f:
            c.flags[i] = (flags & ~ACTIVE) | GONE
            left += 1
    counters[k.K_ACTIVE] -= left
    mine = 0
    for n in range(n_joiners):
        if status[joiners[n]] == f:
            mine += 1
    persons = np.empty(mine, np.int64)
    mine = 0
    for n in range(n_joiners):
        if status[joiners[n]] == f:
            persons[mine] = joiners[n]
            mine += 1
    c = k._make_room(c, counters, mine)
    create_people(c, counters[k.K_STORED], persons, people[1], people[2], p, dice, False, t)
    counters[k.K_STORED] += mine
    counters[k.K_ACTIVE] += mine
    counts[C_ACQUIRED] = mine
    counts[C_CUSTOMERS_ACTIVE] = counters[k.K_ACTIVE]
    n_staff = counters[k.K_STAFF]
    counts[C_STAFF_ACTIVE] = n_staff
    for j in range(n_staff):
        sums[S_STAFF_SATISFACTION] += s.satisfaction[j]
    firm.close_week(p, firm_state, history, now, counts, sums)
    for m in range(N_COUNTS):
        totals[0][m] += counts[m]
    for m in range(N_SUMS):
        totals[1][m] += sums[m]
    stored = counters[k.K_STORED]
    if counters[k.K_KEEP_AGENTS] == 0 and (
        stored - counters[k.K_ACTIVE] > k.COMPACT_AT_CHURNED_SHARE * max(stored, 1)
    ):
        counters[k.K_STORED] = k.compact(c, stored)
    return c, left


@njit(cache=True)
def market_phase(people, arrived, indptr, indices, reputation, attention_, price,
                 reference_price, reviews, promoter_threshold, constants, key, week, flows,
                 joiners):  # fmt: skip
    """``choice.market_phase``, compiled."""
    return choice.market_phase(people, arrived, indptr, indices, reputation, attention_, price,
                               reference_price, reviews, promoter_threshold, constants, key,
                               week, flows, joiners)  # fmt: skip


@njit(cache=True)
def arrive(status, arrived, capacity, key, week, arrivals_per_week):
    """``choice.arrive``, compiled."""
    return choice.arrive(status, arrived, capacity, key, week, arrivals_per_week)
