"""Each behaviour rule does what its docstring and source say."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from serviceprofit.model import rules


def test_logistic_is_symmetric_and_stable():
    """logistic(-x) = 1 - logistic(x), even far in the tails."""
    for x in (-800.0, -5.0, 0.0, 3.0, 800.0):
        assert rules.logistic(-x) == pytest.approx(1.0 - rules.logistic(x))
    assert rules.logistic(0.0) == 0.5


def test_saturation_half_point():
    """Spending ``half`` buys half the effect; nothing buys nothing."""
    assert rules.saturation(40.0, 40.0) == 0.5
    assert rules.saturation(0.0, 40.0) == 0.0
    assert rules.saturation(1e9, 40.0) == pytest.approx(1.0)


def test_issue_probability_scales_and_fixed_issues_vanish():
    """Complexity scales issues; fixed issues no longer arise; an upgrade surges them."""
    base = rules.issue_probability(0.1, 1.0, 1.0, 0.0, 0.0)
    assert rules.issue_probability(0.1, 2.0, 1.0, 0.0, 0.0) == pytest.approx(2 * base)
    assert rules.issue_probability(0.1, 1.0, 1.0, 0.5, 0.0) == pytest.approx(base / 2)
    assert rules.issue_probability(0.1, 1.0, 1.0, 0.0, 0.5) == pytest.approx(1.5 * base)
    assert rules.issue_probability(0.9, 5.0, 3.0, 0.0, 0.0) == 1.0


def _resolution(**kw):
    args = dict(
        skill=0.6,
        staff_satisfaction=0.7,
        time_ratio=1.0,
        empowerment=0.8,
        one_view=0.0,
        handoffs=0,
        moment_of_truth=False,
        scripts=0.2,
        base=-1.5,
        w_skill=2.0,
        w_staff_satisfaction=0.8,
        w_time=0.8,
        w_empowerment=1.0,
        w_one_view=0.4,
        handoff_penalty=0.6,
        w_moment_of_truth=1.0,
        w_scripts=1.5,
    )
    args.update(kw)
    return rules.resolution_probability(*args.values())


def test_resolution_rises_with_skill_time_empowerment_and_view():
    """More skill, time, authority or one view of the customer resolve more."""
    p = _resolution()
    assert _resolution(skill=0.9) > p
    assert _resolution(time_ratio=1.5) > p
    assert _resolution(empowerment=1.0) > p
    assert _resolution(one_view=1.0) > p
    assert _resolution(staff_satisfaction=0.9) > p


def test_resolution_falls_with_handoffs_and_for_moments_of_truth():
    """Each handoff lowers resolution; scripts hurt most on moments of truth."""
    p = _resolution()
    assert _resolution(handoffs=1) < p
    assert _resolution(handoffs=2) < _resolution(handoffs=1)
    assert _resolution(moment_of_truth=True) < p
    assert _resolution(moment_of_truth=True, scripts=0.9) < _resolution(moment_of_truth=True)
    assert _resolution(scripts=0.9) == p  # scripts do not hurt routine contacts


def test_perceived_quality_handoffs_and_waiting():
    """A resolution loses quality per handoff and per week waited; none is worth little."""
    q = rules.perceived_quality(True, 0, 0, 0.9, 0.35, 0.08, 0.05)
    assert q == 0.9
    assert rules.perceived_quality(True, 1, 0, 0.9, 0.35, 0.08, 0.05) == pytest.approx(0.82)
    assert rules.perceived_quality(True, 0, 2, 0.9, 0.35, 0.08, 0.05) == pytest.approx(0.8)
    assert rules.perceived_quality(False, 0, 0, 0.9, 0.35, 0.08, 0.05) == 0.35


def test_disconfirmation_moves_satisfaction_toward_experience():
    """Quality above expectation raises satisfaction, below lowers it; weight speeds it."""
    s, e = 0.7, 0.65
    up = rules.update_satisfaction(s, e, 0.9, 1.0, 0.25)
    down = rules.update_satisfaction(s, e, 0.35, 1.0, 0.25)
    heavy = rules.update_satisfaction(s, e, 0.35, 4.0, 0.25)
    assert up > s > down > heavy
    assert rules.contact_experience(e, e) == pytest.approx(0.7)
    assert 0.0 <= rules.update_satisfaction(0.0, 1.0, 0.0, 50.0, 1.0) <= 1.0


def test_complaint_propensity_rises_with_severity_and_is_capped():
    """Routine problems rarely draw complaints; moments of truth often do."""
    assert rules.complaint_probability(0.04, False, 10.0) == 0.04
    assert rules.complaint_probability(0.04, True, 10.0) == pytest.approx(0.4)
    assert rules.complaint_probability(0.5, True, 10.0) == 0.95


def test_recovery_closes_part_of_the_gap_only_below_target():
    """Recovery lifts an unhappy customer toward expectation + 0.1, never beyond."""
    assert rules.recover_satisfaction(0.3, 0.65, 0.5) == pytest.approx(0.3 + 0.5 * 0.45)
    assert rules.recover_satisfaction(0.9, 0.65, 0.5) == 0.9


def _churn(s, e=0.65, tenure=520.0):
    return rules.churn_hazard(s, e, tenure, 0.0025, 4.5, 0.001, 1.5, 26.0, 0.5)


def test_churn_rises_steeply_below_expectation():
    """The hazard grows exponentially as satisfaction falls below expectation."""
    assert _churn(0.35) > 3 * _churn(0.65) > 3 * _churn(0.95) * 0.5
    assert _churn(0.35) / _churn(0.65) == pytest.approx(
        (0.001 + 0.0025 * math.exp(4.5 * 0.3)) / (0.001 + 0.0025)
    )
    assert _churn(-10.0) == 0.5  # capped


def test_new_customers_churn_more():
    """Early-life churn: a new customer leaves more readily than an old one."""
    assert _churn(0.7, tenure=0.0) > _churn(0.7, tenure=26.0) > _churn(0.7, tenure=260.0)


def test_spend_grows_with_tenure_up_to_the_cap_and_with_mood():
    """Reichheld and Sasser: spend rises with tenure (capped) and with satisfaction."""
    base = rules.weekly_spend(10.0, 0.0, 0.65, 0.65, 0.15, 5.0, 0.5)
    assert base == 10.0
    assert rules.weekly_spend(10.0, 104.0, 0.65, 0.65, 0.15, 5.0, 0.5) == pytest.approx(13.0)
    capped = rules.weekly_spend(10.0, 52.0 * 10, 0.65, 0.65, 0.15, 5.0, 0.5)
    assert capped == pytest.approx(17.5)
    assert rules.weekly_spend(10.0, 0.0, 0.85, 0.65, 0.15, 5.0, 0.5) > base
    assert rules.weekly_spend(10.0, 0.0, -5.0, 0.65, 0.15, 5.0, 0.5) == 0.0


def test_nps_classes():
    """Promoters at or above 0.85, detractors below 0.65, passives between."""
    assert rules.nps_class(0.9, 0.85, 0.65) == 1
    assert rules.nps_class(0.7, 0.85, 0.65) == 0
    assert rules.nps_class(0.6, 0.85, 0.65) == -1


def test_internal_quality_rewards_investment_and_punishes_pressure():
    """Training, tools, authority and pay raise internal quality; overload lowers it."""
    args = (0.5, 0.5, 0.5, 1.0, 1.0, 0.3, 0.2, 0.3, 0.2, 0.5)
    q = rules.internal_quality(*args)
    assert rules.internal_quality(0.9, *args[1:]) > q
    assert rules.internal_quality(*args[:4], 1.5, *args[5:]) < q
    assert rules.internal_quality(*args[:4], 0.5, *args[5:]) == q  # slack is no bonus


def test_staff_satisfaction_mirrors_customers():
    """Serving satisfied customers lifts staff satisfaction (the satisfaction mirror)."""
    happy = rules.update_staff_satisfaction(0.6, 0.6, 0.9, 0.3, 0.1)
    sad = rules.update_staff_satisfaction(0.6, 0.6, 0.3, 0.3, 0.1)
    assert happy > 0.6 > sad


def test_skill_learns_faster_with_training_and_saturates():
    """The learning curve approaches 1, faster with training."""
    slow = rules.update_skill(0.3, 0.0, 0.02, 1.0)
    fast = rules.update_skill(0.3, 1.0, 0.02, 1.0)
    assert 0.3 < slow < fast < 1.0
    assert rules.update_skill(1.0, 1.0, 0.02, 1.0) == 1.0


def test_time_per_contact_follows_oliva_sterman():
    """Time per task = standard x pressure^-0.64 under pressure, the standard otherwise."""
    assert rules.time_per_contact(0.75, 0.5, 0.64) == 0.75
    assert rules.time_per_contact(0.75, 2.0, 0.64) == pytest.approx(0.75 * 2.0**-0.64)


def test_time_standard_erodes_fast_and_recovers_slowly():
    """Erosion over ~19 weeks; recovery toward the allowed time far slower."""
    eroded = rules.update_time_standard(0.75, 0.5, 0.75, 19.0, 300.0)
    assert eroded == pytest.approx(0.75 - 0.25 / 19.0)
    recovered = rules.update_time_standard(0.5, 0.5, 0.75, 19.0, 300.0)
    assert recovered - 0.5 == pytest.approx(0.25 / 300.0)
    assert (0.75 - eroded) > 10 * (recovered - 0.5)


def test_quit_hazard_rises_as_satisfaction_falls():
    """Unhappy staff quit more; the hazard is capped."""
    assert rules.quit_hazard(0.4, 0.005, 0.7, 4.0) > rules.quit_hazard(0.8, 0.005, 0.7, 4.0)
    assert rules.quit_hazard(-100.0, 0.005, 0.7, 4.0) == 0.5


@pytest.mark.parametrize("policy", [rules.PROFIT_FIRST, rules.BALANCED])
def test_owner_cuts_when_profit_misses_and_kpis_hold(policy):
    """Missing the required margin with healthy KPIs: headcount and training are cut."""
    head, training = rules.owner_review(
        policy, 0.05, 0.8, 0.8, 0.2, 0.68, 0.55, 50.0, 1.0, 50.0, 0.05, 0.2
    )
    assert head == pytest.approx(47.5)
    assert training == pytest.approx(0.8)


def test_balanced_owner_answers_bad_kpis_with_investment():
    """A balanced owner restores training and slack when customers or staff suffer."""
    head, training = rules.owner_review(
        rules.BALANCED, 0.05, 0.5, 0.8, 0.2, 0.68, 0.55, 50.0, 1.0, 50.0, 0.05, 0.2
    )
    assert head > 50.0
    assert training > 1.0
    head_pf, training_pf = rules.owner_review(
        rules.PROFIT_FIRST, 0.05, 0.5, 0.8, 0.2, 0.68, 0.55, 50.0, 1.0, 50.0, 0.05, 0.2
    )
    assert head_pf < 50.0 and training_pf < 1.0


def test_fixed_owner_changes_nothing():
    """The fixed policy keeps every lever."""
    assert rules.owner_review(
        rules.FIXED, -1.0, 0.0, 0.0, 0.2, 0.68, 0.55, 50.0, 1.0, 10.0, 0.05, 0.2
    ) == (50.0, 1.0)


def test_owner_moves_headcount_one_step_per_review():
    """Staffing to plan moves at most one headcount step per review."""
    head, _ = rules.owner_review(
        rules.BALANCED, 0.5, 0.9, 0.9, 0.2, 0.68, 0.55, 50.0, 1.0, 10.0, 0.05, 0.2
    )
    assert head == pytest.approx(47.5)


def test_reputation_and_acquisition():
    """Reputation follows NPS with a lag; good reputation converts marketing better."""
    assert rules.reputation_update(0.5, 100.0, 8.0) == pytest.approx(0.5 + 0.5 / 8.0)
    neutral = rules.marketing_acquisitions(1000.0, 50.0, 0.5, 1.5)
    assert neutral == pytest.approx(20.0)
    assert rules.marketing_acquisitions(1000.0, 50.0, 0.8, 1.5) > neutral


def test_product_learning_and_upgrades():
    """Fed-back issues get fixed up to what is fixable; upgrades surge then fade."""
    share = 0.0
    for _ in range(1000):
        share = rules.fixed_share_update(share, 0.6, 0.02, 0.5)
    assert share == pytest.approx(0.5, abs=1e-3)
    assert rules.upgrade_surge(0, 0.5) == 0.5
    assert rules.upgrade_surge(6, 0.5) < 0.05
    assert rules.upgrade_surge(-1, 0.5) == 0.0


def _draws_around(x: float) -> list[float]:
    """Draws at, just below and just above logistic(x), and a little further out."""
    value = rules.logistic(x)
    near = [value, np.nextafter(value, 0.0), np.nextafter(value, 1.0)]
    for _ in range(8):
        near += [np.nextafter(near[-2], 0.0), np.nextafter(near[-1], 1.0)]
    return [*near, value * (1 - 1e-12), value * (1 + 1e-12), value - 0.01, value + 0.01]


def test_below_logistic_is_the_rule_compiled_and_in_python():
    """The screened comparison gives ``u < logistic(x)`` for draws within ulps of the
    rule's value, at grid points, between them and beyond the grid's reach."""
    compiled = njit(lambda u, x: rules.below_logistic(u, x))
    rng = np.random.default_rng(7)
    grid = [k / 32.0 for k in range(-12 * 32 - 3, 12 * 32 + 4)]  # grid points, both edges
    xs = grid + [np.nextafter(g, 1.0) for g in grid] + [np.nextafter(g, -1.0) for g in grid]
    xs += [*rng.uniform(-14.0, 14.0, 3000), 0.0, -0.0, 40.0, -40.0, float("nan")]
    checked = 0
    for x in xs:
        for u in _draws_around(x) + list(rng.uniform(0.0, 1.0, 4)):
            u = float(u)
            expected = u < rules.logistic(x)
            assert rules.below_logistic(u, x) == expected, (u, x)
            assert compiled(u, x) == expected, (u, x)
            checked += 1
    assert checked > 100_000
