"""Choice in a market: which firm a person picks, and how friends move them.

Pure functions of a person's view of the firms and one uniform draw, compiled with
``register_jitable`` so that the Mesa backend (one person at a time, in Python) and the
numba backend (loops over arrays) call the same arithmetic and, given the same draw from
:func:`serviceprofit.rng.uniform`, make the same choice. They will join the week's rules
when the market is wired into the week (docs/market.md gives the plan).

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
from numba.extending import register_jitable

__all__ = [
    "CONTAGION_HALF_LIFE_WEEKS",
    "CONTAGION_UPLIFT",
    "OUTSIDE",
    "attention",
    "choose",
    "contagion_multiplier",
    "decay_exposure",
    "exposure_at",
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


@register_jitable
def exposure_at(exposure, since_week, week, half_life_weeks):
    """The exposure in ``week`` of one last set to ``exposure`` in ``since_week``.

    The lazy form of :func:`decay_exposure`: a customer stores the exposure and the week
    it was last changed (the contagion clock), so no week sweeps every customer; the
    value is the same as decaying it week by week.
    """
    return exposure * 2.0 ** (-(week - since_week) / half_life_weeks)


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
    (``indptr``, ``indices``) are those of :mod:`serviceprofit.network`; every array is
    read at the same moment of the week by every chooser, so the order of choosers does
    not matter.
    """
    observed_sum[:] = 0.0
    observed_count[:] = 0.0
    promoters[:] = 0.0
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
