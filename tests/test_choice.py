"""Choice in a market: the logit, attention, perceived value and churn contagion."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy.special import softmax

from serviceprofit.model.choice import (
    CONTAGION_HALF_LIFE_WEEKS,
    CONTAGION_UPLIFT,
    OUTSIDE,
    attention,
    choose,
    contagion_multiplier,
    decay_exposure,
    decay_table,
    exposure_at,
    firm_value,
    logit_probabilities_array,
    neighbour_view,
    perceived_reputation,
)
from serviceprofit.model.rng import Stream, draw, run_key

VALUES = np.array([0.4, -0.3, 1.2])
ALL = np.ones(3, dtype=np.bool_)


def _value(**changes: float) -> float:
    args = {
        "reputation": 0.6,
        "known": 1.0,
        "experience": 0.7,
        "price": 10.0,
        "reference_price": 10.0,
        "promoters": 1.0,
        "is_current": 0.0,
        "beta_reputation": 4.0,
        "beta_experience": 3.0,
        "beta_price": 2.0,
        "beta_referral": 1.0,
        "switching_cost": 1.5,
    }
    args.update(changes)
    return firm_value(**args)


def test_logit_matches_scipy_softmax():
    """The shares are scipy's softmax over (outside, firms), to 1e-12; they sum to 1."""
    p = logit_probabilities_array(VALUES, ALL, 0.0)
    assert np.allclose(p, softmax(np.concatenate(([0.0], VALUES))), rtol=0, atol=1e-12)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_logit_excludes_firms_not_considered():
    """A firm not in the consideration set gets probability 0; the rest renormalise."""
    considered = np.array([True, False, True])
    p = logit_probabilities_array(VALUES, considered, 0.0)
    assert p[2] == 0.0
    expected = softmax(np.array([0.0, VALUES[0], VALUES[2]]))
    assert np.allclose(p[[0, 1, 3]], expected, atol=1e-12)


def test_logit_limits():
    """Huge values never overflow; a value far above the rest takes (almost) all; with no
    firm considered the outside option takes all."""
    p = logit_probabilities_array(np.array([800.0, 700.0, -900.0]), ALL, 0.0)
    assert np.all(np.isfinite(p)) and p[1] == pytest.approx(1.0)
    none = logit_probabilities_array(VALUES, np.zeros(3, dtype=np.bool_), 0.0)
    assert none[0] == 1.0 and not none[1:].any()
    assert choose(VALUES, np.zeros(3, dtype=np.bool_), 0.0, 0.999999) == OUTSIDE


def test_choose_frequencies_match_the_probabilities():
    """Inverse-CDF choices from counter-based draws hit each option at its logit share:
    within 4 binomial standard errors, over 200,000 draws, for three seeds."""
    p = logit_probabilities_array(VALUES, ALL, 0.2)
    n = 200_000
    for seed in range(3):
        u = draw(run_key(seed), Stream.CHOICE, 0, np.arange(n))
        picks = np.array([choose(VALUES, ALL, 0.2, x) for x in u]) + 1
        freq = np.bincount(picks, minlength=4) / n
        assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / n))


def test_choose_is_the_inverse_cdf():
    """The choice is the first option whose cumulative share exceeds u (fixed order:
    outside, firm 0, 1, 2), so both backends choose alike from the same draw."""
    p = logit_probabilities_array(VALUES, ALL, 0.0)
    edges = np.cumsum(p)
    for u in np.linspace(0, 1, 1001)[:-1]:
        expected = int(np.searchsorted(edges, u, side="right")) - 1
        assert choose(VALUES, ALL, 0.0, u) == expected


def test_choose_compiles_and_agrees():
    """The compiled choice (numba) equals the Python one for the same draws."""

    @numba.njit
    def compiled(values, considered, u):
        out = np.empty(u.size, np.int64)
        for i in range(u.size):
            out[i] = choose(values, considered, 0.0, u[i])
        return out

    u = draw(run_key(1), Stream.CHOICE, 3, np.arange(2000))
    expected = [choose(VALUES, ALL, 0.0, x) for x in u]
    assert compiled(VALUES, ALL, u).tolist() == expected


@pytest.mark.parametrize(
    ("field", "low", "high", "direction"),
    [
        ("reputation", 0.3, 0.8, +1),
        ("experience", 0.3, 0.8, +1),
        ("price", 14.0, 8.0, +1),
        ("promoters", 0.0, 3.0, +1),
        ("is_current", 0.0, 1.0, +1),
        ("switching_cost", 3.0, 0.5, +1),
    ],
)
def test_value_moves_the_right_way(field, low, high, direction):
    """Better reputation or experience, lower price, more promoting friends, being the
    current firm and a lower switching cost each raise the firm's value and its share."""
    a, b = _value(**{field: low}), _value(**{field: high})
    assert (b - a) * direction > 0
    share = [
        logit_probabilities_array(np.array([v, 0.0]), np.ones(2, bool), 0.0)[1] for v in (a, b)
    ]
    assert share[1] > share[0]


def test_experience_counts_only_for_former_customers():
    """A stranger's value ignores 'experience'; a former customer's does not."""
    assert _value(known=0.0, experience=0.1) == _value(known=0.0, experience=0.9)
    assert _value(known=1.0, experience=0.1) < _value(known=1.0, experience=0.9)


def test_perceived_reputation_mixes_public_and_friends():
    """No observations: the public reputation; many: their mean; in between, a weighted mean."""
    assert perceived_reputation(0.7, 5.0, 0.0, 0.0) == pytest.approx(0.7)
    assert perceived_reputation(0.7, 5.0, 0.2 * 1e6, 1e6) == pytest.approx(0.2, abs=1e-5)
    assert perceived_reputation(0.7, 5.0, 5 * 0.3, 5.0) == pytest.approx(0.5)


def test_attention_saturates():
    """No spend: the floor; attention rises with spend, never past 1, and doubling spend
    less than doubles it (marketing buys attention with diminishing returns)."""
    assert attention(0.0, 0.5, 0.05) == pytest.approx(0.05)
    spends = np.array([0.1, 0.2, 0.4, 0.8, 5.0])
    a = np.array([attention(s, 0.5, 0.05) for s in spends])
    assert np.all(np.diff(a) > 0) and a[-1] < 1.0
    assert attention(0.4, 0.5, 0.0) < 2 * attention(0.2, 0.5, 0.0)


def test_contagion_defaults_and_half_life():
    """A fresh defection multiplies the hazard by 1.8 (Nitzan and Libai 2011); after one
    half-life of weekly decay the extra is 0.4, after two 0.2."""
    assert contagion_multiplier(1.0, CONTAGION_UPLIFT) == pytest.approx(1.8)
    exposure = 1.0
    weeks = int(CONTAGION_HALF_LIFE_WEEKS)
    for _ in range(weeks):
        exposure = decay_exposure(exposure, CONTAGION_HALF_LIFE_WEEKS)
    assert contagion_multiplier(exposure, CONTAGION_UPLIFT) == pytest.approx(1.4)
    for _ in range(weeks):
        exposure = decay_exposure(exposure, CONTAGION_HALF_LIFE_WEEKS)
    assert contagion_multiplier(exposure, CONTAGION_UPLIFT) == pytest.approx(1.2)


def test_contagion_adds_up_over_neighbours():
    """Two defections, three weeks apart: the exposure is the sum of each one's decay."""
    h = 6.0
    exposure = 1.0
    for _ in range(3):
        exposure = decay_exposure(exposure, h)
    exposure += 1.0
    for _ in range(2):
        exposure = decay_exposure(exposure, h)
    assert exposure == pytest.approx(2 ** (-5 / h) + 2 ** (-2 / h))
    assert contagion_multiplier(0.0, CONTAGION_UPLIFT) == 1.0


def test_lazy_exposure_equals_weekly_decay():
    """The contagion clock (exposure and the week it was set) gives the weekly decay's
    value in any later week, to 1e-12."""
    weekly = 1.7
    for week in range(1, 30):
        weekly = decay_exposure(weekly, 5.0)
        decay = decay_table(5.0, 40)
        assert exposure_at(1.7, 0, week, decay) == pytest.approx(weekly, rel=1e-12)
        assert exposure_at(1.7, week - 1, week, decay) == 1.7 * 2 ** (-1 / 5.0)


def _star():
    """Person 0 tied to 1, 2, 3, 4; 1 and 2 are firm 0's customers (sat 0.9, 0.5), 3 is
    firm 1's (sat 0.3) and posted a complaint about firm 1, 4 is a prospect."""
    indptr = np.array([0, 4, 5, 6, 7, 8], np.int64)
    indices = np.array([1, 2, 3, 4, 0, 0, 0, 0], np.int32)
    firm = np.array([-1, 0, 0, 1, -1], np.int64)
    satisfaction = np.array([0.0, 0.9, 0.5, 0.3, 0.0])
    review_firm = np.array([-1, -1, -1, 1, -1], np.int64)
    return indptr, indices, firm, satisfaction, review_firm


def test_neighbour_view_counts_friends_reviews_and_promoters():
    """Friends at each firm count once at their satisfaction, a review once more, a
    promoter (satisfaction >= 0.85) once; prospects count for no firm."""
    indptr, indices, firm, satisfaction, review_firm = _star()
    total, count, promoters = np.full(2, 9.0), np.full(2, 9.0), np.full(2, 9.0)
    neighbour_view(
        indptr, indices, 0, firm, satisfaction, 0.85, review_firm, total, count, promoters
    )
    assert total.tolist() == pytest.approx([1.4, 0.6])
    assert count.tolist() == [2.0, 2.0] and promoters.tolist() == [1.0, 0.0]
    # person 4 hears only person 0, a prospect: nothing about any firm
    neighbour_view(
        indptr, indices, 4, firm, satisfaction, 0.85, review_firm, total, count, promoters
    )
    assert not total.any() and not count.any() and not promoters.any()


def test_neighbour_view_compiles():
    """The compiled view equals the Python one (one definition for both backends)."""

    @numba.njit
    def compiled(indptr, indices, firm, satisfaction, review_firm):
        total, count, promoters = np.zeros(2), np.zeros(2), np.zeros(2)
        neighbour_view(
            indptr, indices, 0, firm, satisfaction, 0.85, review_firm, total, count, promoters
        )
        return total, count, promoters

    got = compiled(*_star())
    assert got[0].tolist() == pytest.approx([1.4, 0.6]) and got[2].tolist() == [1.0, 0.0]


def test_no_outside_option_for_a_reached_customer():
    """With the outside option's value at -inf (a customer reached by a rival), the
    outside option gets probability 0 and is never chosen; the firms share the rest."""
    p = logit_probabilities_array(VALUES, ALL, -np.inf)
    assert p[0] == 0.0 and np.allclose(p[1:], softmax(VALUES), atol=1e-12)
    u = draw(run_key(2), Stream.CHOICE, 0, np.arange(2000))
    assert all(choose(VALUES, ALL, -np.inf, x) != OUTSIDE for x in u)
