"""The compiled market: each firm's week on its own arrays, and the market phase between.

A firm in a market is a firm of :mod:`.kernel` (its customer and staff arrays, counters,
owner, records, key), whose customers are people of the market: a customer's ``uid`` is
the person's id, so the person's draws at the firm are the firm's draws for that id.
The week (docs/ODD.md, 7.2) is ``kernel.week_front`` (steps 1-9, the firm alone's
definition, churn multiplied by contagion) for every firm, :func:`show_firm` (what
the market sees of each firm's customers), ``choice.market_phase`` (contagion,
choices, moves: the one definition the Mesa market calls too), then :func:`firm_back`
(leavers go, joiners arrive, the books close with ``kernel.week_close``) for every
firm. The loop over weeks and firms is in Python (:mod:`.market_model`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from serviceprofit.backends.numba import kernel as k
from serviceprofit.model import choice, firm, week
from serviceprofit.model.hints import prefetch
from serviceprofit.model.params import MAX_SEGMENTS
from serviceprofit.model.week import (
    ACTIVE,
    EVER_COMPLAINED,
    GONE,
)

# Columns of a firm's market row per week.
M_ACTIVE, M_WON, M_LOST_RIVALS, M_LOST_OUTSIDE, M_WON_PROSPECTS, N_MARKET_COLUMNS = range(6)


@njit(cache=True)
def create_people(c, start, persons, segment_of, start_satisfaction, p, dice, initial, t):
    """Fill slots from ``start`` with the people ``persons`` as new customers of the
    firm (``kernel.write_customer``): the person's segment, the firm's draws for the
    person's id; a returning former customer starts from their remembered satisfaction
    (``start_satisfaction``, NaN for others)."""
    for n in range(persons.size):
        person = persons[n]
        new = week.new_customer_in_segment(p, dice, person, np.int64(segment_of[person]), initial)
        if not initial and not math.isnan(start_satisfaction[person]):
            new = (new[0], new[1], start_satisfaction[person], new[3], new[4])
        k.write_customer(c, start + n, person, new, p, initial, t)


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


# What a slot showed the market this week (``show_firm``'s first pass), for its tallies.
SHOWN_NOTHING, SHOWN_ACTIVE, SHOWN_REVIEWING, SHOWN_CHURNED = range(4)


@njit(cache=True)
def _show_range(c, lo, hi, f, people, detractor_threshold, now, decay, uplift, shown):
    """``show_firm``'s first pass for slots ``lo..hi``: each writes only its own person's
    entries of the people's arrays and its own slot of ``shown`` (kind, contagion row,
    hazard multiplier), so chunks may run in any order."""
    status, _segment, sat, review, _former, _memory, exposure, since = people
    kind, row, multiplier = shown
    for i in range(lo, hi):
        if i + k.PREFETCH_AHEAD < hi:
            ahead = np.intp(c[i + k.PREFETCH_AHEAD].uid)
            prefetch(sat, ahead)
            prefetch(review, ahead)
            prefetch(exposure, ahead)
            prefetch(since, ahead)
        customer = c[i]
        flags = customer.flags
        person = customer.uid
        kind[i] = SHOWN_NOTHING
        if flags & ACTIVE:
            row[i], multiplier[i] = choice.contagion_seen(exposure, since, person, now, decay,
                                                          uplift)  # fmt: skip
            reviewing = choice.show_customer(sat, review, person, f,
                                             np.float64(customer.satisfaction), detractor_threshold,
                                             flags & EVER_COMPLAINED != 0)  # fmt: skip
            kind[i] = SHOWN_REVIEWING if reviewing else SHOWN_ACTIVE
        elif flags & GONE == 0:
            customer.flags = flags | GONE
            row[i], multiplier[i] = choice.contagion_seen(exposure, since, person, now, decay,
                                                          uplift)  # fmt: skip
            kind[i] = SHOWN_CHURNED
            if status[person] == f:
                choice.show_churner(people, person, f, np.float64(customer.satisfaction))


@njit(cache=True, parallel=True)
def _show_parallel(c, stored, f, people, detractor_threshold, now, decay, uplift, shown):
    for q in prange(k.n_chunks(stored)):
        lo = q * k.CHUNK
        _show_range(c, lo, min(lo + k.CHUNK, stored), f, people, detractor_threshold, now,
                    decay, uplift, shown)  # fmt: skip


@njit(cache=True)
def show_firm(c, counters, f, people, reviews, detractor_threshold, now, decay, uplift, tally,
              shown, threads):  # fmt: skip
    """Tell the market what its people see of firm ``f``'s customers after step 9
    (``choice.show_customer``) and who churned this week (``choice.show_churner``), then
    add them to the contagion tally and the firm's reviews in slot order, the order of
    the firm's customers: the same sums on any number of threads. ``shown`` is (kind,
    row, multiplier), arrays of at least the firm's stored slots. With ``threads``
    above 1 the first pass over a large firm runs in parallel over chunks."""
    stored = counters[k.K_STORED]
    if threads > 1 and k.n_chunks(stored) >= k.PARALLEL_FROM_CHUNKS:
        _show_parallel(c, stored, f, people, detractor_threshold, now, decay, uplift, shown)
    else:
        _show_range(c, 0, stored, f, people, detractor_threshold, now, decay, uplift, shown)
    kind, row, multiplier = shown
    sums = (tally[0], tally[1], tally[2], tally[3], tally[4], tally[5])
    seen = (reviews[f, 0], reviews[f, 1])
    for i in range(stored):
        shown_as = kind[i]
        if shown_as == SHOWN_NOTHING:
            continue
        sums = choice.tally_contagion(sums, row[i], shown_as == SHOWN_CHURNED, multiplier[i])
        if shown_as != SHOWN_CHURNED:
            seen = choice.tally_review(seen, shown_as == SHOWN_REVIEWING,
                                       np.float64(c[i].satisfaction))  # fmt: skip
    for m in range(6):
        tally[m] = sums[m]
    reviews[f, 0], reviews[f, 1] = seen


@njit(cache=True)
def firm_back(c, s, counters, firm_state, history, totals, week_tally, records, index, key,
              now, f, people, joiners, n_joiners):  # fmt: skip
    """Steps 10-12 of one firm's week after the market phase: customers won by a rival
    leave, the people who chose the firm join (person order), the books close.
    Returns the (possibly grown) customer arrays and how many left for a rival."""
    p = records[index[now]]
    dice = (key, np.uint64(now))
    t = week_tally[0]
    status = people[0]
    left = 0
    stored = counters[k.K_STORED]
    for i in range(stored):
        if i + k.PREFETCH_AHEAD < stored:
            prefetch(status, c[i + k.PREFETCH_AHEAD].uid)
        customer = c[i]
        flags = customer.flags
        if flags & ACTIVE and status[customer.uid] != f:
            customer.flags = (flags & ~ACTIVE) | GONE
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
    k.week_close(c, s, counters, firm_state, history, totals, t, p, now, mine)
    return c, left


# People per chunk of the market phase's decisions (the unit of parallel work).
PEOPLE_CHUNK = 16384


@njit(cache=True, parallel=True)
def _decisions(people, arrived, indptr, indices, reputation, attention_, price,
               reference_price, reviews, promoter_threshold, constants, key, week,
               decision):  # fmt: skip
    """Step 10b-e, ``choice.decide_range`` for every arrived person, in parallel over chunks of
    people: each decision reads only the state left by step 9 and writes its own slot,
    so the decisions are the same on any number of threads."""
    n_firms = reputation.size
    for q in prange((arrived + PEOPLE_CHUNK - 1) // PEOPLE_CHUNK):
        choice.decide_range(people, q * PEOPLE_CHUNK, min((q + 1) * PEOPLE_CHUNK, arrived),
                            indptr, indices, reputation, attention_, price, reference_price,
                            reviews, promoter_threshold, constants, key, week,
                            np.zeros((5, n_firms)), decision)  # fmt: skip


@njit(cache=True)
def firm_view(records, index, now, arrived, view, attention_, price, reference_price):
    """``choice.firm_offers`` of the firms' records in week ``now``; ``view`` is (cost
    per impression, attention floor)."""
    n_firms = attention_.size
    spend = np.zeros(n_firms)
    n_segments = np.zeros(n_firms, np.int64)
    segment_spend = np.ones((n_firms, MAX_SEGMENTS))
    for f in range(n_firms):
        p = records[index[f, now]]
        spend[f] = p.marketing_spend
        n_segments[f] = p.n_segments
        for g in range(p.n_segments):
            segment_spend[f, g] = p.segment_spend[g]
    choice.firm_offers(spend, n_segments, segment_spend, arrived, view[0], view[1],
                       attention_, price, reference_price)  # fmt: skip


@njit(cache=True)
def advance_market(cs, ss, counters, firm_states, pendings, histories, totals, pressures,
                   week_tallies, records, index, bounds, expectations, keys, people, arrived,
                   indptr, indices, constants, decay, view, key, arrivals, flows,
                   contagion_tally, start, stop, threads):  # fmt: skip
    """Weeks ``start..stop`` of a market (docs/ODD.md, 7.2), every firm and the market
    phase, in one call. Firm ``f``'s customer and staff arrays are ``cs[f]``, ``ss[f]``
    (typed lists: a firm's arrays may be replaced as they grow), its other state the
    rows ``[f]`` of the stacked arrays (``totals`` is (counts, sums), each stacked);
    ``records`` are every firm's records, ``index[f, week]`` the row firm ``f`` reads.
    Returns the people arrived. Customer passes of large firms and the market's
    decisions run in parallel when ``threads`` is above 1, with the same bits."""
    n_firms = keys.size
    status = people[0]
    capacity = status.size
    uplift = constants[choice.K_UPLIFT]
    contagion = (people[6], people[7], decay, uplift)
    joiners = np.empty(capacity, np.int64)
    decision = np.empty(capacity, np.int8)
    attention_ = np.zeros(n_firms)
    price = np.ones((n_firms, MAX_SEGMENTS))
    reference_price = np.ones(MAX_SEGMENTS)
    reputation = np.zeros(n_firms)
    shown = (np.empty(0, np.int8), np.empty(0, np.int8), np.empty(0))  # show_firm's slots
    for now in range(start, stop):
        arrived = choice.arrive(status, arrived, capacity, key, now, arrivals)
        for f in range(n_firms):  # steps 1-9 of every firm
            ss[f] = k.week_front(cs[f], ss[f], counters[f], firm_states[f], pendings[f],
                                 histories[f], pressures[f], week_tallies[f:f + 1], records,
                                 index[f], bounds, expectations, keys[f], now, contagion,
                                 threads)  # fmt: skip
        reviews = np.zeros((n_firms, 2))
        slots = 0
        for f in range(n_firms):
            slots = max(slots, counters[f][k.K_STORED])
        if shown[0].size < slots:
            room = slots + slots // 8
            shown = (np.empty(room, np.int8), np.empty(room, np.int8), np.empty(room))
        for f in range(n_firms):
            show_firm(cs[f], counters[f], f, people, reviews,
                      records[index[f, now]].detractor_threshold, now, decay, uplift,
                      contagion_tally, shown, threads)  # fmt: skip
        # step 10: the market phase (choice.market_phase, its decisions in parallel)
        firm_view(records, index, now, arrived, view, attention_, price, reference_price)
        for f in range(n_firms):
            reputation[f] = firm_states[f, firm.F_REPUTATION]
        choice.spread_contagion(people, arrived, indptr, indices, decay, now)
        promoter_threshold = records[index[0, now]].promoter_threshold
        if threads > 1:
            _decisions(people, arrived, indptr, indices, reputation, attention_, price,
                       reference_price, reviews, promoter_threshold, constants, key, now,
                       decision)  # fmt: skip
        else:
            choice.decide_range(people, 0, arrived, indptr, indices, reputation, attention_,
                                price, reference_price, reviews, promoter_threshold,
                                constants, key, now, np.zeros((5, n_firms)),
                                decision)  # fmt: skip
        n_joiners = choice.apply_moves(people, arrived, decision, flows[now], joiners)
        for f in range(n_firms):  # steps 10 (joiners, leavers) to 12 of every firm
            cs[f], _left = firm_back(cs[f], ss[f], counters[f], firm_states[f], histories[f],
                                     (totals[0][f], totals[1][f]), week_tallies[f:f + 1],
                                     records, index[f], keys[f], now, f, people, joiners,
                                     n_joiners)  # fmt: skip
    return arrived
