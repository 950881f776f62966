"""The compiled run: every week of a run, the firm's included, without returning to Python.

The week is the one definition in :mod:`serviceprofit.model.week` and
:mod:`serviceprofit.model.firm`;
this module only loops those functions over the rows of the state arrays
(:mod:`.state`) and keeps the books of the arrays (pools, growth, compaction).
:func:`advance` runs weeks ``[start, stop)`` of one run; :func:`run_ensemble` runs many
small runs in one call, in parallel over runs (each thread takes the next run when
free), each run single-threaded inside.

Results do not depend on the number of threads, nor on a run being alone or in an
ensemble:

- draws are a pure function of (run, purpose, week, uid), never a shared sequence;
- the customer passes run over fixed chunks of ``CHUNK`` slots (in parallel for large
  runs, each thread taking the next chunk when free; in turn for small ones and inside
  ensembles); each chunk tallies into its own row, and the rows are added in chunk
  order afterwards;
- what customers leave on staff (each server's count and sum of served customers'
  satisfaction) is added in integers (satisfaction in fixed point, 2**-32), the same
  total in any order.

While all customers fit in one chunk, every sum is added in uid order, as the Mesa
model adds it: with float64 state (``precision="float64"``) a run is then the Mesa run,
bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from serviceprofit.backends.numba.queue import take
from serviceprofit.backends.numba.state import Staff, customer_room, staff_room
from serviceprofit.model import choice, firm, rules, week
from serviceprofit.model.hints import prefetch
from serviceprofit.model.rng import Stream, roll
from serviceprofit.model.week import (
    ACTIVE,
    C_ACQUIRED,
    C_CUSTOMERS_ACTIVE,
    C_CUSTOMERS_START,
    C_STAFF_ACTIVE,
    C_STAFF_HIRED,
    C_STAFF_LAID_OFF,
    C_STAFF_QUITS,
    MAX_DEPARTMENTS,
    N_COUNTS,
    N_SUMS,
    OPEN,
    S_STAFF_SATISFACTION,
    SERVER_COLUMNS,
    TALLY_DTYPE,
)

CHUNK = 8192  # customers per chunk: the unit of work and of deterministic reduction
# Runs of fewer chunks do their customer passes in the calling thread: starting a
# parallel region costs microseconds on an idle machine, milliseconds on a busy one.
PARALLEL_FROM_CHUNKS = 3
# Compact the customer arrays once more than this share of their slots is churned.
COMPACT_AT_CHURNED_SHARE = 0.25
# Customers ahead whose people's arrays a market's passes ask the cache for (prefetch),
# and whose server the serve pass asks for when the table of servers has at least
# PREFETCH_SERVERS_FROM rows (32 KB: smaller tables stay in the fastest cache).
PREFETCH_AHEAD = 16
PREFETCH_SERVERS_FROM = 1024
GROWTH = 1.25  # capacity is multiplied by at least this when newcomers do not fit
# Staff rows per block of the staff's loops, and the staff from which a run on several
# threads does those loops in parallel (each row's work is its own: the same bits).
STAFF_BLOCK = 2048
PARALLEL_STAFF_FROM = 8192

# The run's counters (one int64 array).
(
    K_STORED,  # customer slots in use (active or churned, not yet compacted)
    K_ACTIVE,
    K_NEXT_CUSTOMER_UID,
    K_NEXT_STAFF_UID,
    K_STAFF,  # staff in use
    K_POOL_DEPARTMENTS,  # departments the staff are spread over
    K_PRESSURE_DEPARTMENTS,  # departments of last week's capacity plan
    K_KEEP_AGENTS,  # 1: never compact (the final table lists the churned)
    N_COUNTERS,
) = range(9)


@njit(cache=True)
def n_chunks(stored):
    """Chunks of ``CHUNK`` slots covering ``stored`` slots."""
    return (stored + CHUNK - 1) // CHUNK


# ---------------------------------------------------------------------------
# Customers: creation, the two passes of the week


@njit(cache=True, inline="always")
def write_customer(c, i, uid, new, p, initial, t):
    """Write slot ``i``: the new customer ``uid`` of ``week.new_customer``'s tuple ``new``
    (segment, channel, satisfaction, expectation, tenure). Newcomers (not ``initial``)
    count in the week's word of mouth, in slot order. The one writer of a new customer's
    row, for a firm alone and a firm of a market. Inlined: a call hands it the array
    ``c``, and numba counts a reference to an array handed to a call, an atomic add
    and subtract on the array's one counter per customer, which threads creating
    customers together contend for (2M customers on 2 threads: 17 ms, inlined 11)."""
    segment, channel, satisfaction, expectation, tenure = new
    customer = c[i]
    customer.uid = uid
    customer.flags = ACTIVE
    customer.segment = segment
    customer.channel = channel
    customer.department = 0
    customer.new_handoffs = 0
    customer.issue_age = 0
    customer.handoffs = 0
    customer.outcome = 0
    customer.tenure = int(tenure)
    customer.outcome_week = 0
    customer.satisfaction = satisfaction
    customer.expectation = expectation
    customer.lifetime_revenue = 0.0
    if not initial:
        week.tally_word_of_mouth(p, customer.satisfaction, t)


@njit(cache=True)
def create_customers(c, start, count, first_uid, p, dice, initial, t):
    """Fill slots ``start..start+count`` with new customers numbered from ``first_uid``."""
    for i in range(start, start + count):
        uid = first_uid + (i - start)
        write_customer(c, i, uid, week.new_customer(p, dice, uid, initial), p, initial, t)


@njit(cache=True, parallel=True)
def _create_initial_parallel(c, n, records, r, dice, scratch):
    """Week 0's ``n`` customers, over chunks in parallel: an initial customer is a function
    of its uid alone and is not tallied (``scratch`` is never written), so the slots hold
    the same bits however many threads write them. A 10M-customer run spent a fifth of
    its time on 16 threads creating its customers on one. (The record ``records[r]`` is
    taken inside the loop: records do not cross into parallel regions.)"""
    for k in prange(n_chunks(n)):
        lo = k * CHUNK
        create_customers(c, lo, min(lo + CHUNK, n) - lo, lo, records[r], dice, True, scratch[0])


@njit(cache=True)
def _issues_range(c, lo, hi, records, r, dice, chances, tallies, k):
    """Steps 3-4 for the customers in slots ``lo..hi`` (``week.customer_issue``), read
    ``records[r]`` and tally into ``tallies[k]`` (rows, not records, cross into parallel
    regions: numba's parallel loops run in turn when handed a record).

    First the customers with something to do are listed (``week.has_issue_work``, without
    a branch), then ``week.customer_issue`` runs for them alone: most customers have no
    issue in a week, and which do is as good as random, so a branch per customer on it
    would be mispredicted about as often as issues arise."""
    p = records[r]
    t = tallies[k]
    busy = np.empty(hi - lo, np.int64)
    n_busy = 0
    for i in range(lo, hi):
        customer = c[np.uintp(i)]  # unsigned: numba then tests no index for being negative
        busy[n_busy] = i
        n_busy += week.has_issue_work(
            dice, customer.uid, np.int64(customer.flags), chances[customer.segment]
        )
    for j in range(n_busy):
        customer = c[np.uintp(busy[j])]
        flags = np.int64(customer.flags)
        new = week.customer_issue(
            p,
            dice,
            customer.uid,
            flags,
            np.int64(customer.department),
            np.int64(customer.issue_age),
            np.int64(customer.handoffs),
            chances[customer.segment],
            t,
        )
        customer.flags = new[0]
        customer.department = new[1]
        customer.issue_age = new[2]
        customer.handoffs = new[3]
        customer.new_handoffs = new[4]


@njit(cache=True, parallel=True)
def _issues_parallel(c, stored, records, r, dice, chances, tallies, threads):
    """:func:`_issues_range` over the chunks, each thread taking the next chunk when free
    (:func:`.queue.take`)."""
    taken = np.zeros(1, np.int64)
    for _ in prange(threads):
        k = take(taken)
        while k < n_chunks(stored):
            lo = k * CHUNK
            _issues_range(c, lo, min(lo + CHUNK, stored), records, r, dice, chances, tallies, k)
            k = take(taken)


@njit(cache=True)
def _serve_range(
    c, lo, hi, records, r, week_, dice, share, servers, pools, bounds, tallies, k, served,
    contagion,
):  # fmt: skip
    """Steps 5-9 for the customers in slots ``lo..hi``: service (``week.customer_service``)
    for those with a routed issue, then churn, spend and word of mouth for everyone
    (``week.customer_settle``). ``contagion`` is (exposure, since, decay table, uplift) per
    person of a market (:func:`choice.contagion_factor`); empty arrays for a firm alone."""
    p = records[r]
    exposure, since, decay, uplift = contagion
    contagious = exposure.size > 0
    t = tallies[k]
    pool_start, pool_len = pools
    bound_table, bound_expectation = bounds
    # each contact's (server, satisfaction) is added to the server's sums after the loop:
    # scattered additions into a large staff table stall the customer loop one by one
    contact_server = np.empty(hi - lo, np.int64)
    contact_value = np.empty(hi - lo, np.int64)
    n_contacts = 0
    survivors = week.NO_SURVIVORS
    # A contact reads its server's row, picked by a draw, and the outcome's branches
    # hang on that read: in a table larger than a core's second-level cache it waits
    # for memory (a fifth of a week at 10M customers and 100,000 staff). The server of
    # the customer PREFETCH_AHEAD slots on is the same draw, so it is asked for early
    # (``week.customer_service`` draws it again: a hint changes no value).
    n_servers = servers.shape[0]
    server_rows = servers.reshape(n_servers * SERVER_COLUMNS)
    prefetching = n_servers >= PREFETCH_SERVERS_FROM
    for i in range(lo, hi):
        customer = c[np.uintp(i)]  # unsigned: numba then tests no index for being negative
        if contagious and i + PREFETCH_AHEAD < hi:  # a market's contagion clocks
            ahead = np.intp(c[i + PREFETCH_AHEAD].uid)
            prefetch(exposure, ahead)
            prefetch(since, ahead)
        if prefetching and i + PREFETCH_AHEAD < hi:
            later = c[np.uintp(i + PREFETCH_AHEAD)]
            if later.flags & (OPEN | ACTIVE) == OPEN | ACTIVE:
                d = min(np.intp(later.department), pool_start.size - 1)  # in the table
                u = roll(dice, Stream.STAFF_PICK, later.uid)
                row = week.pick_server(pool_start[d], pool_len[d], n_servers, u)
                prefetch(server_rows, row * SERVER_COLUMNS)
        flags = np.int64(customer.flags)
        if flags & ACTIVE == 0:
            continue
        uid = customer.uid
        segment = np.int64(customer.segment)
        satisfaction = np.float64(customer.satisfaction)
        expectation = np.float64(customer.expectation)
        outcome = np.int64(customer.outcome)
        outcome_week = np.int64(customer.outcome_week)
        contacted = False
        if flags & OPEN:
            department = np.int64(customer.department)
            (
                flags,
                channel,
                issue_age,
                handoffs,
                satisfaction,
                outcome,
                outcome_week,
                server,
                contact,
            ) = week.customer_service(
                p,
                dice,
                uid,
                week_,
                flags,
                segment,
                np.int64(customer.channel),
                department,
                np.int64(customer.issue_age),
                np.int64(customer.handoffs),
                np.int64(customer.new_handoffs),
                satisfaction,
                expectation,
                outcome,
                outcome_week,
                share[department],
                servers,
                pool_start,
                pool_len,
                t,
            )
            customer.channel = channel
            customer.issue_age = issue_age
            customer.handoffs = handoffs
            customer.outcome = outcome
            customer.outcome_week = outcome_week
            if server >= 0:
                contacted = True
                contact_server[n_contacts] = server
                contact_value[n_contacts] = contact
                n_contacts += 1
        bound = 1.0  # evaluate the churn rule unless the bound rules it out
        if customer.expectation == bound_expectation[segment]:
            b = int(satisfaction * CHURN_BINS)
            if 0 <= b <= CHURN_BINS:
                bound = bound_table[segment, np.uintp(b)]
        multiplier = 1.0
        if contagious:
            multiplier = choice.contagion_factor(exposure, since, uid, week_, decay, uplift)
        flags, satisfaction, tenure, revenue, survivors = week.customer_settle(
            p,
            dice,
            uid,
            week_,
            flags,
            segment,
            np.int64(customer.tenure),
            satisfaction,
            expectation,
            np.float64(customer.lifetime_revenue),
            outcome,
            outcome_week,
            contacted,
            bound,
            multiplier,
            survivors,
            t,
        )
        customer.flags = flags
        customer.satisfaction = satisfaction
        customer.tenure = tenure
        customer.lifetime_revenue = revenue
    week.add_survivors(survivors, t)
    for j in range(n_contacts):
        served[contact_server[j], 0] += contact_value[j]
        served[contact_server[j], 1] += 1


@njit(cache=True, parallel=True)
def _serve_parallel(
    c, stored, records, r, week_, dice, share, servers, pools, bounds, tallies, served, contagion,
    threads,
):  # fmt: skip
    """:func:`_serve_range` over the chunks, each thread taking the next chunk when free
    (:func:`.queue.take`); what a thread's customers leave on staff goes to its own row
    of ``served``."""
    taken = np.zeros(1, np.int64)
    for _ in prange(threads):
        k = take(taken)
        while k < n_chunks(stored):
            lo = k * CHUNK
            _serve_range(c, lo, min(lo + CHUNK, stored), records, r, week_, dice, share, servers,
                         pools, bounds, tallies, k, served[numba.get_thread_id()],
                         contagion)  # fmt: skip
            k = take(taken)


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
def fill_churn_bounds(record, expectation, bounds):
    """Fill ``bounds[g, b]`` for the record's segments at the stored ``expectation``;
    return False if the rule broke a bound at a checked point."""
    p = record
    for g in range(p.n_segments):
        e = np.float64(expectation[g])
        for b in range(CHURN_BINS + 1):
            edge = (b - 1 if b > 0 else 0) / CHURN_BINS
            bounds[g, b] = week.churn_hazard(p, edge, e, 0.0)
        for b in range(CHURN_BINS * _CHECK_POINTS + 1):
            s = b / (CHURN_BINS * _CHECK_POINTS)
            bound = bounds[g, int(s * CHURN_BINS)]
            for tenure in _CHECK_TENURES:
                if week.churn_hazard(p, s, e, tenure) > bound:
                    return False
    return True


# ---------------------------------------------------------------------------
# Staff: the week, quits, reorganisation, hiring and layoffs, pools, capacity


@njit(cache=True)
def n_staff_blocks(n):
    """Blocks of ``STAFF_BLOCK`` staff rows covering ``n`` rows."""
    return (n + STAFF_BLOCK - 1) // STAFF_BLOCK


@njit(cache=True)
def staff_in_parallel(parallel, n):
    """Whether the staff's loops over ``n`` rows run over blocks in parallel: on several
    threads (``parallel``) and with many staff, where a block's work outweighs starting
    the threads."""
    return parallel and n >= PARALLEL_STAFF_FROM


@njit(cache=True)
def _staff_rows(s, lo, hi, p, dice, training, pressure, last, quits):
    """Step 2 for staff rows ``lo..hi`` (``week.staff_week``), in place; ``quits[j]``
    says whether row ``j`` quits."""
    for j in range(lo, hi):
        d = s.department[j]
        satisfaction, skill, standard, tenure, mirror, quits[j] = week.staff_week(
            p,
            dice,
            s.uid[j],
            training,
            pressure[d if d < last else last],
            s.satisfaction[j],
            s.skill[j],
            s.standard[j],
            s.time_taken[j],
            s.tenure[j],
            s.mirror[j],
            s.served_fixed[j],
            s.served_n[j],
        )
        s.satisfaction[j] = satisfaction
        s.skill[j] = skill
        s.standard[j] = standard
        s.tenure[j] = tenure
        s.mirror[j] = mirror


@njit(cache=True, parallel=True)
def _staff_rows_parallel(s, n, records, r, dice, training, pressure, last, quits):
    for b in prange(n_staff_blocks(n)):
        lo = b * STAFF_BLOCK
        _staff_rows(s, lo, min(lo + STAFF_BLOCK, n), records[r], dice, training, pressure,
                    last, quits)  # fmt: skip


@njit(cache=True)
def _staff_week(s, counters, records, r, dice, training, pressure, counts, parallel):
    """Step 2 for every member of staff (``week.staff_week``; in parallel over blocks of
    rows when ``parallel`` and the staff are many); quitters leave, the rest keep uid
    order."""
    n = counters[K_STAFF]
    last = counters[K_PRESSURE_DEPARTMENTS] - 1
    quits = np.empty(n, np.bool_)
    if staff_in_parallel(parallel, n):
        _staff_rows_parallel(s, n, records, r, dice, training, pressure, last, quits)
    else:
        _staff_rows(s, 0, n, records[r], dice, training, pressure, last, quits)
    kept = 0
    for j in range(n):
        if quits[j]:
            counts[C_STAFF_QUITS] += 1
            continue
        if kept != j:
            s.uid[kept] = s.uid[j]
            s.department[kept] = s.department[j]
            s.skill[kept] = s.skill[j]
            s.satisfaction[kept] = s.satisfaction[j]
            s.standard[kept] = s.standard[j]
            s.time_taken[kept] = s.time_taken[j]
            s.tenure[kept] = s.tenure[j]
            s.mirror[kept] = s.mirror[j]
        kept += 1
    counters[K_STAFF] = kept


@njit(cache=True)
def _grow_staff(s, capacity):
    grown = Staff(
        np.zeros(capacity, np.int64),
        np.zeros(capacity, np.int64),
        np.zeros(capacity),
        np.zeros(capacity),
        np.zeros(capacity),
        np.zeros(capacity),
        np.zeros(capacity),
        np.zeros(capacity),
        np.zeros(capacity, np.int64),
        np.zeros(capacity, np.int64),
    )
    n = s.uid.size
    grown.uid[:n] = s.uid
    grown.department[:n] = s.department
    grown.skill[:n] = s.skill
    grown.satisfaction[:n] = s.satisfaction
    grown.standard[:n] = s.standard
    grown.time_taken[:n] = s.time_taken
    grown.tenure[:n] = s.tenure
    grown.mirror[:n] = s.mirror
    grown.served_fixed[:n] = s.served_fixed
    grown.served_n[:n] = s.served_n
    return grown


@njit(cache=True)
def hire_staff(s, counters, p, dice, hires, initial):
    """Add ``hires`` staff, each to the least staffed department; return the arrays
    (grown if they were full)."""
    n = counters[K_STAFF]
    if n + hires > s.uid.size:
        s = _grow_staff(s, max(n + hires, int(s.uid.size * GROWTH) + 1))
    sizes = np.zeros(MAX_DEPARTMENTS, np.int64)
    for j in range(n):
        sizes[s.department[j]] += 1
    for h in range(hires):
        uid = counters[K_NEXT_STAFF_UID]
        counters[K_NEXT_STAFF_UID] += 1
        d = week.least_staffed(sizes, counters[K_POOL_DEPARTMENTS])
        sizes[d] += 1
        skill, tenure = week.new_staff(p, dice, uid, initial)
        j = n + h
        s.uid[j] = uid
        s.department[j] = d
        s.skill[j] = skill
        s.satisfaction[j] = rules.STAFF_INITIAL_SATISFACTION
        s.standard[j] = p.handle_time
        s.time_taken[j] = p.handle_time
        s.tenure[j] = tenure
        s.mirror[j] = rules.STAFF_INITIAL_SATISFACTION
    counters[K_STAFF] = n + hires
    return s


@njit(cache=True)
def _pools(s, n, departments):
    """Staff rows grouped by department, uid order within (the Mesa model's pools):
    (members in pool order, first position and size of each pool)."""
    pool_len = np.zeros(departments, np.int64)
    for j in range(n):
        pool_len[s.department[j]] += 1
    pool_start = np.zeros(departments, np.int64)
    for d in range(1, departments):
        pool_start[d] = pool_start[d - 1] + pool_len[d - 1]
    members = np.empty(n, np.int64)
    filled = pool_start.copy()
    for j in range(n):
        d = s.department[j]
        members[filled[d]] = j
        filled[d] += 1
    return members, pool_start, pool_len


@njit(cache=True)
def _plan_capacity(s, members, pool_start, pool_len, p, load, hours_per_head, share, pressure):
    """The capacity plan of every department (``week.capacity_plan``); sets each member's
    time taken."""
    for d in range(p.departments):
        share[d] = 0.0
        pressure[d] = 0.0
        lo = pool_start[d]
        size = pool_len[d]
        if size == 0:  # a department with no staff borrows everyone
            lo = 0
            size = members.size
        if size == 0:
            continue
        standard_sum = 0.0
        for k in range(lo, lo + size):
            standard_sum += s.standard[members[k]]
        share[d], pressure[d] = week.capacity_plan(
            p, week.routed_load(p, load, d), standard_sum, size, hours_per_head
        )
        for k in range(pool_start[d], pool_start[d] + pool_len[d]):
            j = members[k]
            s.time_taken[j] = rules.time_per_contact(
                s.standard[j], pressure[d], p.pressure_exponent
            )


# ---------------------------------------------------------------------------
# Housekeeping of the customer arrays


@njit(cache=True)
def compact(c, stored):
    """Squeeze churned customers out, keeping uid order; return how many remain."""
    kept = 0
    for i in range(stored):
        if c[i].flags & ACTIVE == 0:
            continue
        if kept != i:
            c[kept] = c[i]
        kept += 1
    for i in range(kept, stored):
        c[i].flags = 0
    return kept


@njit(cache=True)
def _grow_customers(c, stored, capacity):
    grown = np.zeros(capacity, c.dtype)
    grown[:stored] = c[:stored]
    return grown


@njit(cache=True)
def _make_room(c, counters, arriving):
    """Customer arrays in which ``arriving`` newcomers fit: compacted first, grown only
    if still full."""
    capacity = c.size
    if counters[K_STORED] + arriving <= capacity:
        return c
    if counters[K_KEEP_AGENTS] == 0:
        counters[K_STORED] = compact(c, counters[K_STORED])
    if counters[K_STORED] + arriving > capacity:
        size = max(counters[K_STORED] + arriving, int(capacity * GROWTH))
        c = _grow_customers(c, counters[K_STORED], size)
    return c


# ---------------------------------------------------------------------------
# The run


@njit(cache=True)
def start_run(c, s, counters, records, index, key, scratch, threads):
    """Week 0's customers and staff (as ``ServiceProfitModel.__init__``); ``scratch`` is
    an array of one ``TALLY_DTYPE`` row the caller holds (initial customers are not
    tallied). The customers of a large run are written on ``threads`` threads."""
    p = records[index[0]]
    dice = (key, np.uint64(0))
    counters[K_POOL_DEPARTMENTS] = p.departments
    counters[K_PRESSURE_DEPARTMENTS] = p.departments
    s = hire_staff(s, counters, p, dice, p.initial_staff, True)
    n = p.initial_customers
    if threads > 1 and n_chunks(n) >= PARALLEL_FROM_CHUNKS:
        _create_initial_parallel(c, n, records, index[0], dice, scratch)
    else:
        create_customers(c, 0, n, 0, p, dice, True, scratch[0])
    counters[K_STORED] = n
    counters[K_ACTIVE] = n
    counters[K_NEXT_CUSTOMER_UID] = n
    return s


@njit(cache=True)
def _fill_servers(s, members, lo, hi, p, servers):
    """Rows ``lo..hi`` of the servers table (``week.fill_server``), ``members[row]`` being
    the staff row of table row ``row``."""
    for row in range(lo, hi):
        j = members[row]
        week.fill_server(p, servers, row, s.skill[j], s.satisfaction[j], s.time_taken[j])


@njit(cache=True, parallel=True)
def _fill_servers_parallel(s, members, records, r, servers):
    n = members.size
    for b in prange(n_staff_blocks(n)):
        lo = b * STAFF_BLOCK
        _fill_servers(s, members, lo, min(lo + STAFF_BLOCK, n), records[r], servers)


@njit(cache=True, parallel=True)
def _zero_parallel(served):
    """Zero each thread's table of served sums, the threads' tables in parallel."""
    for th in prange(served.shape[0]):
        served[th] = 0


@njit(cache=True)
def _merge_served(s, members, served, lo, hi):
    """What each thread's customers left on the staff of table rows ``lo..hi``: counts
    and fixed-point sums, added in integers (any order gives the same total)."""
    for row in range(lo, hi):
        j = members[row]
        total = 0
        count = 0
        for th in range(served.shape[0]):
            total += served[th, row, 0]
            count += served[th, row, 1]
        s.served_fixed[j] = total
        s.served_n[j] = count


@njit(cache=True, parallel=True)
def _merge_served_parallel(s, members, served):
    n = members.size
    for b in prange(n_staff_blocks(n)):
        lo = b * STAFF_BLOCK
        _merge_served(s, members, served, lo, min(lo + STAFF_BLOCK, n))


@njit(cache=True)
def week_front(c, s, counters, firm_state, pending, history, pressure, week_tally, records,
               index, bounds, bound_expectation, key, now, contagion, threads):  # fmt: skip
    """Steps 1-9 of a firm's week ``now`` (docs/ODD.md, process overview): the owner,
    the staff, the customers' issues, the capacity plan, service, churn, spend and word
    of mouth. ``contagion`` is (exposure, since, decay table, uplift) per person of a
    market (:func:`choice.contagion_factor`), empty arrays for a firm alone. The week's
    tallies are left in ``week_tally[0]`` (zeroed here). With ``threads`` above 1 the
    customer passes of large runs run in parallel over chunks, and with many staff the
    staff's week, the servers table and what customers left on staff over blocks of
    staff (each row's work is its own). Returns the (possibly
    grown) staff arrays. One definition for a firm alone (:func:`advance`) and a firm of
    a market (``market_kernel``)."""
    r = index[now]
    p = records[r]
    dice = (key, np.uint64(now))
    t = week_tally[0]  # a pointer into the caller's array, which outlives this call
    counts = t.counts
    sums = t.sums
    counts[:] = 0
    sums[:] = 0.0
    t.load[:] = 0

    # 1. Owner: reorganisations and the review of lagged KPIs
    firm.begin_week(p, firm_state, history, dice, now)

    # On several threads a large run's customer passes run in parallel over chunks (no
    # customer is created or removed before they run), and the staff's loops over
    # blocks of staff where the staff are many
    parallel = threads > 1 and n_chunks(counters[K_STORED]) >= PARALLEL_FROM_CHUNKS

    # 2. Staff: satisfaction, skill, time standard, quits; reorganisation, layoffs, hires
    _staff_week(s, counters, records, r, dice, firm_state[firm.F_TRAINING], pressure, counts,
                parallel)  # fmt: skip
    if counters[K_POOL_DEPARTMENTS] != p.departments:
        counters[K_POOL_DEPARTMENTS] = p.departments
        for j in range(counters[K_STAFF]):
            s.department[j] = j % p.departments
    hires, layoffs = firm.staffing(p, firm_state, pending, now, counters[K_STAFF])
    if layoffs > 0:  # the newest go first
        counters[K_STAFF] = max(0, counters[K_STAFF] - layoffs)
    counts[C_STAFF_LAID_OFF] = layoffs
    s = hire_staff(s, counters, p, dice, hires, False)
    counts[C_STAFF_HIRED] = hires
    n_staff = counters[K_STAFF]
    members, pool_start, pool_len = _pools(s, n_staff, p.departments)

    # 3-4. Customers: new issues (and self-service), routing
    surge, fixed_share = firm.issue_climate(p, firm_state, now)
    chances = np.zeros(bounds.shape[1])
    week.issue_chances(p, surge, fixed_share, chances)
    counts[C_CUSTOMERS_START] = counters[K_ACTIVE]
    stored = counters[K_STORED]
    chunks = n_chunks(stored)
    tallies = np.zeros(chunks, TALLY_DTYPE)
    if parallel:
        _issues_parallel(c, stored, records, r, dice, chances, tallies, threads)
    else:
        for k in range(chunks):
            lo = k * CHUNK
            _issues_range(c, lo, min(lo + CHUNK, stored), records, r, dice, chances, tallies, k)
    week_load = t.load
    for k in range(chunks):
        week_load += tallies[k].load

    # capacity: work pressure per department, time per contact, share served
    share = np.zeros(MAX_DEPARTMENTS)
    hours_per_head = p.contact_hours * p.productivity * firm.capacity_factor(p, firm_state, now)
    _plan_capacity(s, members, pool_start, pool_len, p, week_load, hours_per_head, share, pressure)
    counters[K_PRESSURE_DEPARTMENTS] = p.departments
    servers = np.empty((n_staff, SERVER_COLUMNS))
    staff_parallel = staff_in_parallel(parallel, n_staff)
    if staff_parallel:
        _fill_servers_parallel(s, members, records, r, servers)
    else:
        _fill_servers(s, members, 0, n_staff, p, servers)

    # 5-9. Service, complaint, churn, revenue, word of mouth
    pools = (pool_start, pool_len)
    table = (bounds[r], bound_expectation[r])
    if parallel:
        served = np.empty((threads, n_staff, 2), np.int64)
        if staff_parallel:
            _zero_parallel(served)
        else:
            served[:] = 0
        _serve_parallel(c, stored, records, r, now, dice, share, servers, pools, table,
                        tallies, served, contagion, threads)  # fmt: skip
    else:
        served = np.zeros((1, n_staff, 2), np.int64)
        for k in range(chunks):
            lo = k * CHUNK
            _serve_range(c, lo, min(lo + CHUNK, stored), records, r, now, dice, share,
                         servers, pools, table, tallies, k, served[0], contagion)  # fmt: skip
    if staff_parallel:
        _merge_served_parallel(s, members, served)
    else:
        _merge_served(s, members, served, 0, n_staff)
    for k in range(chunks):  # in chunk order: the same sums whoever ran which chunk
        chunk = tallies[k]
        for m in range(N_COUNTS):
            counts[m] += chunk.counts[m]
        for m in range(N_SUMS):
            sums[m] += chunk.sums[m]
    counters[K_ACTIVE] -= counts[week.C_CHURNED]
    return s


@njit(cache=True)
def week_close(c, s, counters, firm_state, history, totals, t, p, now, arriving):
    """Steps 10 (its books) to 12 of a firm's week, once the ``arriving`` newcomers are
    written after the stored slots: they count, the accounts close, the metrics row is
    written (``firm.close_week``), the week's tallies ``t`` join ``totals``, and the
    customer arrays are compacted when enough slots are churned."""
    counts = t.counts
    sums = t.sums
    counters[K_STORED] += arriving
    counters[K_ACTIVE] += arriving
    counts[C_ACQUIRED] = arriving
    counts[C_CUSTOMERS_ACTIVE] = counters[K_ACTIVE]
    n_staff = counters[K_STAFF]
    counts[C_STAFF_ACTIVE] = n_staff
    for j in range(n_staff):
        sums[S_STAFF_SATISFACTION] += s.satisfaction[j]
    firm.close_week(p, firm_state, history, now, counts, sums)
    for m in range(N_COUNTS):
        totals[0][m] += counts[m]
    for m in range(N_SUMS):
        totals[1][m] += sums[m]
    stored = counters[K_STORED]
    if counters[K_KEEP_AGENTS] == 0 and (
        stored - counters[K_ACTIVE] > COMPACT_AT_CHURNED_SHARE * max(stored, 1)
    ):
        counters[K_STORED] = compact(c, stored)


@njit(cache=True)
def begin_run(like, records, index, weeks, key, keep_agents, threads):
    """A firm alone at week 0, as the run that :func:`advance` carries on: (customers,
    staff, counters, firm, pending hires, history, totals, pressure, week tally).

    One definition for a run from Python (``model.run_one``) and a run of an ensemble
    (:func:`_run_alone`), which must start alike to give the same bits. ``like`` is an
    empty customer array of the chosen precision (``state.allocate_customers(0,
    precision)``); ``keep_agents`` (0 or 1) keeps churned customers' slots for the
    customer table; the customers of a large run are written on ``threads`` threads."""
    p = records[index[0]]
    c = new_customers(customer_room(p.initial_customers), like)
    s = new_staff_arrays(staff_room(p.initial_staff))
    counters = np.zeros(N_COUNTERS, np.int64)
    counters[K_KEEP_AGENTS] = keep_agents
    week_tally = np.zeros(1, TALLY_DTYPE)  # a week's tally: its row outlives each week
    s = start_run(c, s, counters, records, index, key, week_tally, threads)
    firm_state, pending, history = firm.new_firm(p, weeks)
    totals = (np.zeros(N_COUNTS, np.int64), np.zeros(N_SUMS))
    pressure = np.zeros(MAX_DEPARTMENTS)
    return c, s, counters, firm_state, pending, history, totals, pressure, week_tally


@njit(cache=True)
def advance(run, records, index, bounds, bound_expectation, key, start, stop, threads):
    """Run weeks ``start..stop`` of a firm alone (``run`` as :func:`begin_run` made it):
    :func:`week_front`, acquisition by marketing and referrals, :func:`week_close`.
    Returns the run, its customer and staff arrays perhaps reallocated; its ``totals``
    are (counts, sums) summed over the weeks."""
    c, s, counters, firm_state, pending, history, totals, pressure, week_tally = run
    alone = (np.zeros(0), np.zeros(0, np.int32), np.ones(1), 0.0)  # no contagion: alone
    for now in range(start, stop):
        s = week_front(c, s, counters, firm_state, pending, history, pressure, week_tally,
                       records, index, bounds, bound_expectation, key, now, alone,
                       threads)  # fmt: skip
        # 10. Acquisition: marketing and referrals by promoters
        p = records[index[now]]
        dice = (key, np.uint64(now))
        t = week_tally[0]
        bought, referred = firm.acquisitions(p, firm_state, dice, t.counts[week.C_PROMOTERS])
        arriving = bought + referred
        c = _make_room(c, counters, arriving)
        create_customers(
            c, counters[K_STORED], arriving, counters[K_NEXT_CUSTOMER_UID], p, dice, False, t
        )
        counters[K_NEXT_CUSTOMER_UID] += arriving
        # 11. Accounting, 12. the metrics row
        week_close(c, s, counters, firm_state, history, totals, t, p, now, arriving)
    return c, s, counters, firm_state, pending, history, totals, pressure, week_tally


@njit(cache=True, parallel=True)
def run_ensemble(
    records,
    index,
    weeks,
    bounds,
    bound_expectation,
    keys,
    order,
    threads,
    like,
    history,
    counts,
    sums,
):
    """Many runs in one call, in parallel over runs, each run's weeks in turn on one
    thread: run ``r`` reads ``records[index[r, week]]``, has key ``keys[r]`` and lasts
    ``weeks[r]``; it writes its metrics to ``history[r]`` and its tallies summed over the
    weeks to ``counts[r]``, ``sums[r]``. ``like`` is an empty customer array of the
    chosen precision (``state.allocate_customers(0, precision)``).

    Each thread takes the next run of ``order`` (all runs, the longest first) whenever
    it is free (:func:`.queue.take`), rather than a fixed share of the runs: runs differ
    in size and length, and a core of a shared machine may be slow for a while.
    ``threads`` is numba's thread count (one taker each)."""
    taken = np.zeros(1, np.int64)
    for _ in prange(threads):
        i = take(taken)
        while i < order.size:
            r = order[i]
            _run_alone(like, records, index[r], weeks[r], bounds, bound_expectation, keys[r],
                       history[r], counts[r], sums[r])  # fmt: skip
            i = take(taken)


@njit(cache=True)
def new_customers(capacity, like):
    """Empty customer records of ``like``'s record type (``state.customer_dtype``)."""
    return np.zeros(capacity, like.dtype)


@njit(cache=True)
def new_staff_arrays(capacity):
    return _grow_staff(_grow_staff_empty(), capacity)


@njit(cache=True)
def _grow_staff_empty():
    empty_int = np.zeros(0, np.int64)
    empty = np.zeros(0)
    return Staff(
        empty_int, empty_int, empty, empty, empty, empty, empty, empty, empty_int, empty_int
    )


@njit(cache=True)
def _run_alone(like, records, index, weeks, bounds, bound_expectation, key, history, counts,
               sums):  # fmt: skip
    """One whole run on this thread, as ``model.run_one`` runs it from Python."""
    run = begin_run(like, records, index, weeks, key, 0, 1)
    _, _, _, _, _, own_history, totals, _, _ = advance(
        run, records, index, bounds, bound_expectation, key, 0, weeks, 1
    )
    history[:weeks] = own_history
    counts[:] = totals[0]
    sums[:] = totals[1]


# Any compiled function of this module: it tells where numba keeps this module's cache.
CACHE_PROBE = compact
