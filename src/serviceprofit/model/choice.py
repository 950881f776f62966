"""Choice in a market: which firm a person picks, and how friends move them.

Pure functions of a person's view of the firms and one uniform draw, compiled with
``register_jitable`` so that the Mesa backend (one person at a time, in Python) and the
numba backend (loops over arrays) call the same arithmetic and, given the same draw from
:func:`serviceprofit.model.rng.uniform`, make the same choice. The market phase of the week
(:func:`market_phase`) is built from them (docs/ODD.md, section 7).

The model is a multinomial logit (McFadden 1974) over the firms a person considers and
the outside option (no firm), on each firm's perceived value:

    V_f = b_rep * (r_f - 1/2) + b_exp * known_f * (x_f - 1/2) - b_price * ln(p_f / p_ref)
          + b_ref * q_f / (1 + q_f) - c_switch * [f is not the current firm]
    V_0 = outside_value

with ``r_f`` the firm's reputation as this person sees it (:func:`perceived_reputation`:
its public reputation mixed with friends' satisfaction and the reviews the person saw),
``x_f`` the person's own last satisfaction with the firm (``known_f`` = 1 for a former
or current customer, who remembers), ``p_f`` the segment's weekly spend there, ``q_f``
the promoters of the firm among the person's neighbours (referrals lean the person
toward the promoter's firm, saturating), and a switching cost for leaving the current
firm (Burnham, Frels and Mahajan 2003). Marketing buys attention, not customers: a
firm enters the consideration set with probability :func:`attention` of its spend per
person reached (Roberts and Lattin 1991 on consideration sets); only considered firms
are choices.

Churn spreads along ties: a neighbour's defection multiplies a customer's churn hazard
by ``1 + uplift * 2 ** (-age / half_life)`` (:func:`contagion_multiplier`), summed over
defecting neighbours through one decaying exposure per customer
(:func:`decay_exposure`). Nitzan and Libai (Journal of Marketing 2011; 1M mobile
customers): a defecting neighbour raises the defection hazard by about 80% (79.7%),
the effect decays exponentially and is strongest within the first month. Defaults:
``uplift = 0.8``, ``half_life = 4`` weeks (the effect halves after a month, an
assumption matching "strongest within the first month"; 1/8 of it is left after three
months).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.extending import register_jitable

from serviceprofit.model.hints import prefetch
from serviceprofit.model.rng import Stream, poisson, poisson_at, uniform

__all__ = [
    "CONTAGION_HALF_LIFE_WEEKS",
    "CONTAGION_UPLIFT",
    "OUTSIDE",
    "attention",
    "choose",
    "contagion_multiplier",
    "decay_exposure",
    "decay_table",
    "exposure_at",
    "firm_offers",
    "firm_value",
    "logit_probabilities",
    "logit_probabilities_array",
    "neighbour_view",
    "perceived_reputation",
    "referral_lean",
]

OUTSIDE = -1
"""The choice "no firm" (leave the category, or stay a prospect)."""
CONTAGION_UPLIFT = 0.8
"""Rise of the churn hazard per freshly defected neighbour (Nitzan and Libai 2011: 79.7%)."""
CONTAGION_HALF_LIFE_WEEKS = 4.0
"""Weeks over which a defection's effect on neighbours halves (assumption; see the module)."""


@register_jitable
def perceived_reputation(public, prior_weight, observed_sum, observed_count):
    """A firm's reputation as one person sees it, in [0, 1].

    The firm's public reputation counts as ``prior_weight`` observations; each friend
    who is the firm's customer adds one observation, their satisfaction, and each review
    seen adds one, the reviewer's satisfaction (the caller sums them into
    ``observed_sum`` and ``observed_count``). A person with no friends there and no
    reviews seen keeps the public view; many observations outweigh it (a Bayesian mean
    with a prior of weight ``prior_weight``).
    """
    return (prior_weight * public + observed_sum) / (prior_weight + observed_count)


@register_jitable
def referral_lean(promoters):
    """Pull of ``promoters`` neighbouring promoters of one firm, in [0, 1): one friend
    matters most, each further one less (q / (1 + q))."""
    return promoters / (1.0 + promoters)


@register_jitable
def firm_value(
    reputation,
    known,
    experience,
    price,
    reference_price,
    promoters,
    is_current,
    beta_reputation,
    beta_experience,
    beta_price,
    beta_referral,
    switching_cost,
):
    """Perceived value ``V_f`` of one firm to one person (see the module's equation).

    ``known`` is 1.0 where the person was or is the firm's customer (``experience``, their
    last satisfaction there, counts), else 0.0; ``is_current`` is 1.0 for the firm the
    person is a customer of now (no switching cost to stay).
    """
    value = beta_reputation * (reputation - 0.5)
    value += beta_experience * known * (experience - 0.5)
    value -= beta_price * math.log(price / reference_price)
    value += beta_referral * referral_lean(promoters)
    value -= switching_cost * (1.0 - is_current)
    return value


@register_jitable
def attention(spend_per_person, cost_per_impression, floor):
    """Chance a firm enters a person's consideration set this week.

    Marketing buys impressions; a person receives a Poisson number of them with mean
    ``spend_per_person / cost_per_impression`` and considers the firm after at least
    one, or on their own with chance ``floor`` (the firm is known anyway):
    ``1 - (1 - floor) * exp(-spend / cost)``. Saturating: doubling spend never doubles
    attention, and attention is not a customer.
    """
    return 1.0 - (1.0 - floor) * math.exp(-spend_per_person / cost_per_impression)


@register_jitable
def firm_offers(marketing_spend, n_segments, segment_spend, arrived, cost_per_impression,
                attention_floor, attention_, price, reference_price):  # fmt: skip
    """The firms as choosers see them in a week, into ``attention_``, ``price`` and
    ``reference_price``: each firm's chance of a person's attention (:func:`attention`
    of its marketing spend per person in the category, ``arrived`` people), its price
    to each segment (``segment_spend[f, g]`` for its ``n_segments[f]`` segments, 1
    beyond) and each segment's mean price over the firms, added in firm order."""
    n_firms = attention_.size
    width = 0
    for f in range(n_firms):
        attention_[f] = attention(
            marketing_spend[f] / max(arrived, 1), cost_per_impression, attention_floor
        )
        for g in range(price.shape[1]):
            price[f, g] = segment_spend[f, g] if g < n_segments[f] else 1.0
        width = max(width, n_segments[f])
    for g in range(width):
        total = price[0, g]
        for f in range(1, n_firms):
            total += price[f, g]
        reference_price[g] = total / n_firms


@register_jitable
def logit_probabilities(values, considered, outside_value, out):
    """Multinomial logit shares over the considered firms and the outside option.

    ``values[f]`` is firm ``f``'s perceived value, ``considered[f]`` whether it is in
    the set; ``out[0]`` receives the outside option's probability and ``out[1 + f]``
    firm ``f``'s. Values are shifted by their maximum before ``exp`` so that large
    values never overflow. ``outside_value = -inf`` offers no outside option (a customer
    reached by a rival: leaving is churn's decision); then at least one firm must be
    considered. Returns ``out``.
    """
    top = outside_value
    for f in range(values.size):
        if considered[f] and values[f] > top:
            top = values[f]
    total = math.exp(outside_value - top)
    out[0] = total
    for f in range(values.size):
        weight = math.exp(values[f] - top) if considered[f] else 0.0
        out[1 + f] = weight
        total += weight
    for i in range(values.size + 1):
        out[i] /= total
    return out


@register_jitable
def choose(values, considered, outside_value, u):
    """The firm chosen with uniform draw ``u`` in [0, 1), or :data:`OUTSIDE`.

    Inverse-CDF sampling of :func:`logit_probabilities` from one uniform, the options in
    the fixed order (outside, firm 0, firm 1, ...): both backends, given the same draw,
    choose the same. Allocation free.
    """
    top = outside_value
    for f in range(values.size):
        if considered[f] and values[f] > top:
            top = values[f]
    total = math.exp(outside_value - top)
    for f in range(values.size):
        if considered[f]:
            total += math.exp(values[f] - top)
    threshold = u * total
    cumulative = math.exp(outside_value - top)
    if threshold < cumulative:
        return OUTSIDE
    last = OUTSIDE
    for f in range(values.size):
        if considered[f]:
            cumulative += math.exp(values[f] - top)
            last = f
            if threshold < cumulative:
                return f
    return last  # rounding left u * total at the very top: the last considered option


@register_jitable
def decay_exposure(exposure, half_life_weeks):
    """One week's decay of a customer's exposure to defected neighbours.

    The exposure is the sum over defected neighbours of ``2 ** (-age / half_life)``
    (each defection adds 1 in its week); decaying the sum weekly by ``2 ** (-1 /
    half_life)`` keeps it exact with one number per customer instead of a clock per
    neighbour.
    """
    return exposure * 2.0 ** (-1.0 / half_life_weeks)


@register_jitable
def contagion_multiplier(exposure, uplift):
    """Factor on the churn hazard: ``1 + uplift * exposure`` (Nitzan and Libai 2011)."""
    return 1.0 + uplift * exposure


def logit_probabilities_array(
    values: np.ndarray, considered: np.ndarray, outside_value: float
) -> np.ndarray:
    """:func:`logit_probabilities` into a new array (the Python convenience)."""
    out = np.empty(values.size + 1)
    return logit_probabilities(
        np.asarray(values, dtype=np.float64),
        np.asarray(considered, dtype=np.bool_),
        float(outside_value),
        out,
    )


@njit(cache=True)
def decay_table(half_life_weeks, weeks):
    """``table[d] = 2 ** (-d / half_life_weeks)`` for ``d`` in ``0..weeks``: the decay of
    an exposure over ``d`` weeks, computed once per run (compiled, so both backends read
    the very same numbers) instead of once per customer and week."""
    table = np.empty(weeks + 1)
    for d in range(weeks + 1):
        table[d] = 2.0 ** (-d / half_life_weeks)
    return table


@register_jitable
def exposure_at(exposure, since_week, week, decay):
    """The exposure in ``week`` of one last set to ``exposure`` in ``since_week``.

    The lazy form of :func:`decay_exposure`: a customer stores the exposure and the week
    it was last changed (the contagion clock), so no week sweeps every customer; the
    value is the same as decaying it week by week. ``decay`` is the run's
    :func:`decay_table`. No exposure stays none (zero times a finite decay).

    Without a branch: a compiled function called per customer that reads an array on
    one branch only costs a reference count per call (numba 0.6x cannot prune it).
    """
    return exposure * decay[week - since_week]


@register_jitable
def neighbour_view(
    indptr, indices, person, firm, satisfaction, promoter_threshold, review_firm,
    observed_sum, observed_count, promoters,
):  # fmt: skip
    """What ``person`` learns from their neighbours about each firm, this week.

    Fills, per firm ``f`` (arrays of the number of firms, zeroed here): the sum and count
    of observations for :func:`perceived_reputation` (each neighbour who is ``f``'s
    customer, at their satisfaction, and each neighbour's review of ``f`` this week, at
    the reviewer's satisfaction: a complaint on the social channel is heard on top of
    its author's experience) and the promoters of ``f`` among the neighbours
    (:func:`referral_lean`). ``firm[j]`` is ``j``'s firm or -1, ``review_firm[j]`` the
    firm ``j`` posted a complaint about this week or -1. The network's rows
    (``indptr``, ``indices``) are those of :mod:`serviceprofit.model.network`; every array is
    read at the same moment of the week by every chooser, so the order of choosers does
    not matter.
    """
    observed_sum[:] = 0.0
    observed_count[:] = 0.0
    promoters[:] = 0.0
    for k in range(indptr[person], indptr[person + 1]):  # ask for them all, then read
        j = indices[k]
        prefetch(firm, j)
        prefetch(satisfaction, j)
        prefetch(review_firm, j)
    for k in range(indptr[person], indptr[person + 1]):
        j = indices[k]
        f = firm[j]
        if f >= 0:
            observed_sum[f] += satisfaction[j]
            observed_count[f] += 1.0
            if satisfaction[j] >= promoter_threshold:
                promoters[f] += 1.0
        r = review_firm[j]
        if r >= 0:
            observed_sum[r] += satisfaction[j]
            observed_count[r] += 1.0


# ---------------------------------------------------------------------------
# The market phase of a week (docs/ODD.md, 7.2 step 10), one definition for both
# backends: the Mesa market model calls these in Python, the numba market run inside its
# compiled loop. A person's state is a tuple of arrays indexed by person id (``People``
# in the order below); each firm's own customers keep their state with the firm, and the
# firm hands the market what its neighbours can see (:func:`show_customer`).

PROSPECT = -1
"""Status of a person in the category who is no firm's customer (yet)."""
LEFT = -2
"""Status of a churner who chose no firm: left the category for good."""
DORMANT = -3
"""Status of a person who has not arrived yet (a node of the network that is silent)."""
CHURNER = -4
"""Status of a person who churned this week, before the market phase decides where to."""
STAY = -9
"""Decision: no change."""
RETURNING = 16
"""Added to a decision's firm when the person is a former customer of that firm."""

# The choice model as one float64 array (``choice_constants``), by position.
(
    K_BETA_REPUTATION,
    K_BETA_EXPERIENCE,
    K_BETA_PRICE,
    K_BETA_REFERRAL,
    K_SWITCHING_COST,
    K_OUTSIDE_VALUE,
    K_PRIOR_WEIGHT,
    K_REVIEW_REACH,
    K_UPLIFT,
    K_HALF_LIFE,
    K_CHURNER_SEARCH,
    N_CHOICE_CONSTANTS,
) = range(12)

_NO_OUTSIDE = -math.inf


@register_jitable
def contagion_factor(exposure, since, person, week, decay, uplift):
    """Factor on ``person``'s churn hazard in ``week``: :func:`contagion_multiplier` of
    the exposure read through its clock (:func:`exposure_at`, ``decay`` the run's
    :func:`decay_table`)."""
    return contagion_multiplier(exposure_at(exposure[person], since[person], week, decay), uplift)


@register_jitable
def show_customer(sat, review, person, firm, satisfaction, detractor_threshold, complained):
    """What the market sees of a customer of ``firm`` after step 9: their satisfaction
    (friends read it, in ``sat``) and, for a detractor who has complained, a standing
    review of the firm (``review[person]``). Returns whether the customer reviews the
    firm (:func:`tally_review` counts it). ``sat`` and ``review`` are the people's
    arrays: a function called per customer takes arrays, not the people's tuple, whose
    unpacking costs compiled code a reference count per array and call."""
    reviewing = complained & (satisfaction < detractor_threshold)
    sat[person] = satisfaction
    review[person] = firm if reviewing else -1  # written on every path: see exposure_at
    return reviewing


@register_jitable
def tally_review(reviews, reviewing, satisfaction):
    """Add a customer shown by :func:`show_customer` to a firm's ``reviews`` (the count
    and satisfaction sum of its standing reviews, a pair); returns the pair. The tallies
    of the show are added in the order of the firm's customers, so that both backends
    sum alike; as tuples, compiled code keeps them in registers over a pass."""
    count, total = reviews
    return count + (1.0 if reviewing else 0.0), total + (satisfaction if reviewing else 0.0)


RECENT_EXPOSURE = 0.5
"""Exposure from which a customer counts as having a recently churned neighbour (one
within a half-life, or several before) in the contagion tally."""


@register_jitable
def contagion_seen(exposure, since, person, week, decay, uplift):
    """Where a customer who went through this week's churn decision counts in the
    contagion tally (:func:`tally_contagion`): row 0 with a recently churned neighbour
    (exposure at least :data:`RECENT_EXPOSURE`), else row 3; and their hazard
    multiplier. ``exposure`` and ``since`` are the people's contagion clocks, ``decay``
    the run's :func:`decay_table`, ``uplift`` the contagion's."""
    x = exposure_at(exposure[person], since[person], week, decay)
    return (0 if x >= RECENT_EXPOSURE else 3), contagion_multiplier(x, uplift)


@register_jitable
def tally_contagion(tally, row, churned, multiplier):
    """Count a customer in the contagion tally (six sums, a tuple) at ``row`` of
    :func:`contagion_seen`: ``tally[row:row + 3]`` are the customers, how many churned,
    the sum of their hazard multipliers; returns the tally. The claim that churn
    clusters on the network reads it."""
    near, near_churned, near_multiplier, far, far_churned, far_multiplier = tally
    left = 1.0 if churned else 0.0
    if row == 0:
        return (near + 1.0, near_churned + left, near_multiplier + multiplier, far,
                far_churned, far_multiplier)  # fmt: skip
    return (near, near_churned, near_multiplier, far + 1.0, far_churned + left,
            far_multiplier + multiplier)  # fmt: skip


@register_jitable
def show_churner(people, person, firm, satisfaction):
    """A customer of ``firm`` who churned this week: a chooser of the market phase, who
    remembers the firm and their last satisfaction there."""
    status, _segment, sat, review, former, memory, _exposure, _since = people
    status[person] = CHURNER
    former[person] = firm
    memory[person] = satisfaction
    sat[person] = satisfaction
    review[person] = -1


@register_jitable
def considered_rivals(current, old, person, n_firms, attention_, churner_search, key, week):
    """The firms other than their current one that ``person`` considers this week, as
    bits (bit ``g`` for firm ``g``). A churner never reconsiders the firm just left and
    shops each rival with a chance of at least ``churner_search``; a prospect knows a
    former firm; any other firm enters with its attention (:func:`attention`). Only a
    firm that may be considered draws (the draw is keyed, not a sequence, so skipping
    one moves no other)."""
    rivals = 0
    for g in range(n_firms):
        if current == CHURNER and g == old:
            continue  # the firm just left is never reconsidered this week
        if current == PROSPECT and g == old:
            rivals |= 1 << g  # a former customer knows the firm
            continue
        if g == current:
            continue
        chance = attention_[g]
        if current == CHURNER:  # one who leaves is shopping
            chance = max(chance, churner_search)
        u = uniform(
            key, np.uint64(Stream.CONSIDERATION), np.uint64(week), np.uint64(person * n_firms + g)
        )
        if u < chance:
            rivals |= 1 << g
    return rivals


@register_jitable
def decide_range(people, lo, hi, indptr, indices, reputation, attention_, price,
                 reference_price, reviews, promoter_threshold, constants, key, week, scratch,
                 decision):  # fmt: skip
    """Step 10b-e: the decision of each person ``lo..hi`` this week (:data:`STAY`,
    :data:`OUTSIDE` or a firm, plus :data:`RETURNING` for a former firm) into
    ``decision[person]``.

    Most people consider no rival in a week and are decided here, on their status, their
    former firm and one draw per rival; the others weigh the firms they consider
    (:func:`weigh_firms`). One loop over a range, not a function per person: compiled,
    a function taking the people's arrays costs a reference count per array and call,
    several times the decision itself."""
    status = people[0]
    former = people[4]
    n_firms = reputation.size
    churner_search = constants[K_CHURNER_SEARCH]
    for person in range(lo, hi):
        current = np.int64(status[person])
        if current in (DORMANT, LEFT):
            decision[person] = STAY
            continue
        old = np.int64(former[person])
        rivals = considered_rivals(
            current, old, person, n_firms, attention_, churner_search, key, week
        )
        if rivals == 0:
            decision[person] = OUTSIDE if current == CHURNER else STAY
        else:
            decision[person] = weigh_firms(people, person, current, old, rivals, indptr,
                                           indices, reputation, price, reference_price,
                                           reviews, promoter_threshold, constants, key, week,
                                           scratch)  # fmt: skip


@register_jitable
def weigh_firms(people, person, current, old, rivals, indptr, indices, reputation, price,
                reference_price, reviews, promoter_threshold, constants, key, week,
                scratch):  # fmt: skip
    """The choice of ``person``, who considers the firms ``rivals`` (bits, see
    :func:`considered_rivals`) besides their current one: a logit (:func:`choose`) over
    the considered firms' perceived values (:func:`firm_value`), and the outside option
    for those without a firm."""
    status, segment, sat, review, _former, memory, _exposure, _since = people
    n_firms = reputation.size
    considered = scratch[0]
    for g in range(n_firms):
        considered[g] = 1.0 if (rivals >> g) & 1 else 0.0
    if current >= 0:
        considered[current] = 1.0
    observed_sum = scratch[1]
    observed_count = scratch[2]
    promoters = scratch[3]
    values = scratch[4]
    neighbour_view(indptr, indices, person, status, sat, promoter_threshold, review,
                   observed_sum, observed_count, promoters)  # fmt: skip
    seg = np.int64(segment[person])
    # the switching cost holds a customer at its current firm; a churner has already
    # left, a prospect has no firm to leave
    switching_cost = constants[K_SWITCHING_COST] if current >= 0 else 0.0
    for g in range(n_firms):
        values[g] = 0.0
        if considered[g] == 0.0:
            continue
        if current < 0 and reviews[g, 0] > 0.0:  # reviews reach those looking from outside
            seen_reviews = poisson_at((key, np.uint64(week)), Stream.REVIEW_REACH,
                                      constants[K_REVIEW_REACH] * reviews[g, 0],
                                      person * n_firms + g, status.size * n_firms)  # fmt: skip
            observed_sum[g] += seen_reviews * (reviews[g, 1] / reviews[g, 0])
            observed_count[g] += seen_reviews
        known = 0.0
        experience = 0.5
        if g == current:
            known, experience = 1.0, sat[person]
        elif g == old:
            known, experience = 1.0, memory[person]
        values[g] = firm_value(
            perceived_reputation(
                reputation[g], constants[K_PRIOR_WEIGHT], observed_sum[g], observed_count[g]
            ),
            known,
            experience,
            price[g, seg],
            reference_price[seg],
            promoters[g],
            1.0 if g == current else 0.0,
            constants[K_BETA_REPUTATION],
            constants[K_BETA_EXPERIENCE],
            constants[K_BETA_PRICE],
            constants[K_BETA_REFERRAL],
            switching_cost,
        )
    outside = _NO_OUTSIDE if current >= 0 else constants[K_OUTSIDE_VALUE]
    u = uniform(key, np.uint64(Stream.CHOICE), np.uint64(week), np.uint64(person))
    chosen = choose(values, considered, outside, u)
    if current >= 0 and chosen == current:
        return STAY
    if current == PROSPECT and chosen == OUTSIDE:
        return STAY
    if chosen >= 0 and chosen == old:
        return chosen + RETURNING
    return chosen


@register_jitable
def arrive(status, arrived, capacity, key, week, arrivals_per_week):
    """This week's new prospects (Poisson, ``Stream.PROSPECT_ARRIVAL``), woken in id
    order up to the people the network was built for. Returns the people arrived."""
    new = poisson((key, np.uint64(week)), Stream.PROSPECT_ARRIVAL, arrivals_per_week)
    stop = min(capacity, arrived + new)
    for i in range(arrived, stop):
        status[i] = PROSPECT
    return stop


@register_jitable
def market_phase(people, arrived, indptr, indices, reputation, attention_, price,
                 reference_price, reviews, promoter_threshold, constants, key, week,
                 flows, joiners, decay):  # fmt: skip
    """Step 10 of a market's week for the first ``arrived`` people: contagion along the
    ties of this week's churners, then every chooser's decision, then the moves.

    ``reputation``, ``attention_`` (:func:`attention` of each firm's spend per person),
    ``price[f, segment]``, ``reference_price[segment]`` and ``reviews[f]`` (count and
    satisfaction sum of standing reviews) describe the firms this week. Decisions read
    only the state left by step 9 and are applied after all are made, in person order,
    so no chooser sees another's move. Adds each move to ``flows[origin, destination]``
    (origin 0 a prospect, 1 + f firm f; destination 0 the outside option, 1 + g firm g)
    and lists the people who join a firm in ``joiners`` (person order); a joiner's
    ``sat`` is then their starting satisfaction if they return to a former firm, else
    NaN. ``decay`` is the run's :func:`decay_table`. Returns the number of joiners.
    """
    spread_contagion(people, arrived, indptr, indices, decay, week)
    decision = np.empty(arrived, np.int8)
    scratch = np.zeros((5, reputation.size))
    # b-e. decisions, from the state of step 9 only
    decide_range(people, 0, arrived, indptr, indices, reputation, attention_, price,
                 reference_price, reviews, promoter_threshold, constants, key, week, scratch,
                 decision)  # fmt: skip
    return apply_moves(people, arrived, decision, flows, joiners)


@register_jitable
def spread_contagion(people, arrived, indptr, indices, decay, week):
    """Step 10a: each of this week's churners' ties hears of it (their exposure, read
    through its clock, gains 1)."""
    status, exposure, since = people[0], people[6], people[7]
    for i in range(arrived):
        if status[i] == CHURNER:
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                exposure[j] = exposure_at(exposure[j], since[j], week, decay) + 1.0
                since[j] = week


@register_jitable
def apply_moves(people, arrived, decision, flows, joiners):
    """Step 10f: the decisions made, in person order (see :func:`market_phase`).
    Returns the number of joiners."""
    status, _segment, sat, review, former, memory, _exposure, _since = people
    n_joiners = 0
    for i in range(arrived):
        d = np.int64(decision[i])
        if d == STAY:
            continue
        current = np.int64(status[i])
        origin = 1 + current if current >= 0 else 0
        if current == CHURNER:
            origin = 1 + np.int64(former[i])
        if d == OUTSIDE:
            status[i] = LEFT
            flows[origin, 0] += 1
            continue
        target = d % RETURNING
        start = memory[i] if d >= RETURNING else math.nan
        if current >= 0:  # a customer won by a rival remembers the firm it left
            former[i] = current
            memory[i] = sat[i]
        status[i] = target
        sat[i] = start
        review[i] = -1
        flows[origin, 1 + target] += 1
        joiners[n_joiners] = i
        n_joiners += 1
    return n_joiners
