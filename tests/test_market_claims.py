"""The market's claims (issue 12), over ten seeds each, numba backend.

Figures are reported in docs/ODD.md, section 7.4. Each claim states its tolerance; the
markets are small (a few thousand people) so that ten seeds take seconds once compiled.
"""

from __future__ import annotations

import numpy as np
import pytest

from serviceprofit import load_scenario, simulate_many, simulate_market
from serviceprofit.model import choice
from serviceprofit.model.market import Market, MarketSpec, load_market

SEEDS = list(range(10))
RIVALS = """
name: claim_rival
weeks: 104
firms:
  cheap:
    extends: cost_minimised
    population: {staff: 20}
    strategy: {marketing: {spend_per_week: 400}}
  value:
    extends: customer_value
    population: {staff: 20}
    strategy: {marketing: {spend_per_week: 400}}
market:
  customers: 4000
  shares: {cheap: 0.5, value: 0.5}
  prospects: {initial: 1500, arrivals_per_week: 14}
  network: {kind: small_world, average_degree: 10}
"""


@pytest.fixture(scope="module")
def rivals(tmp_path_factory):
    path = tmp_path_factory.mktemp("markets") / "claim_rival.yaml"
    path.write_text(RIVALS)
    return path


def _standard_error(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1) / np.sqrt(values.size))


@pytest.mark.slow
def test_a_cost_minimised_firm_leaks_to_a_customer_value_rival(rivals):
    """Its leavers go mostly to the rival (share above one half by two standard errors),
    and it keeps a smaller share of its week-0 customers than the same firm alone does
    (same customers, staff and marketing, paired seeds; by two standard errors)."""
    market = load_market(rivals)
    runs = [simulate_market(market, seed=s) for s in SEEDS]
    to_rival = np.array([r.flows.sum(axis=0)[1, 2] for r in runs], float)
    to_outside = np.array([r.flows.sum(axis=0)[1, 0] for r in runs], float)
    share = to_rival / (to_rival + to_outside)
    assert share.mean() - 2 * _standard_error(share) > 0.5, share
    kept_market = np.array(
        [r.firms["cheap"].timeseries["customers_active"].iloc[-1] / 2000 for r in runs]
    )
    alone = load_scenario(
        "cost_minimised",
        {
            "population.customers": 2000,
            "population.staff": 20,
            "weeks": 104,
            "strategy.marketing.spend_per_week": 400,
        },
    )
    kept_alone = np.array(
        [r.timeseries["customers_active"].iloc[-1] / 2000 for r in simulate_many(alone, SEEDS)]
    )
    difference = kept_alone - kept_market
    assert difference.mean() - 2 * _standard_error(difference) > 0, (kept_alone, kept_market)


@pytest.mark.slow
def test_churn_clusters_on_the_network(rivals):
    """Customers with a recently churned neighbour churn more often than the others, by
    the ratio their hazard multipliers imply (within 25%, pooled over ten seeds), and
    not at all more without contagion (ratio within 25% of 1)."""
    for uplift, lower in ((0.8, 1.1), (0.0, None)):
        market = load_market(rivals, {"market.choice.contagion_uplift": uplift})
        tally = sum(simulate_market(market, seed=s).contagion for s in SEEDS)
        measured = (tally[1] / tally[0]) / (tally[4] / tally[3])
        implied = (tally[2] / tally[0]) / (tally[5] / tally[3])
        assert abs(measured / implied - 1) < 0.25, (measured, implied)
        if lower is not None:
            assert implied > lower and measured > lower, (measured, implied)


@pytest.mark.slow
def test_a_denser_network_amplifies_referrals_and_the_leak(rivals):
    """At average degree 20 rather than 4 (paired seeds), the customer-value firm ends with
    more customers and the cost-minimised firm loses more to it (means, by two standard
    errors of the paired differences)."""
    figures = {}
    for degree in (4, 20):
        market = load_market(rivals, {"market.network.average_degree": degree})
        runs = [simulate_market(market, seed=s) for s in SEEDS]
        figures[degree] = (
            np.array([r.firms["value"].timeseries["customers_active"].iloc[-1] for r in runs]),
            np.array([r.firms["cheap"].timeseries["lost_to_rivals"].sum() for r in runs]),
        )
    for which in (0, 1):
        difference = figures[20][which] - figures[4][which]
        assert difference.mean() - 2 * _standard_error(difference) > 0, figures


@pytest.mark.slow
def test_a_firm_alone_in_a_market_is_the_firm_alone():
    """A lone firm in a market without a network, whose prospects arrive at the rate the
    firm alone acquires customers (its mean over the same seeds) and start at the pool
    that rate keeps in balance, ends with the customers, churn and profit of the firm
    alone: means within 4% (customers, profit) and 10% (annual churn)."""
    scenario = load_scenario("baseline", {"population.customers": 2000, "weeks": 104})
    scenario = scenario.with_overrides({"population.staff": 20})
    single = simulate_many(scenario, SEEDS)
    acquired = np.mean([r.timeseries["customers_acquired"].mean() for r in single])
    record = scenario.strategy.marketing.spend_per_week
    base = Market.model_validate(
        {
            "name": "alone",
            "weeks": 104,
            "firms": {"alone": scenario},
            "market": MarketSpec(customers=2000, shares={"alone": 1.0}),
        }
    )
    spec = base.market.model_dump()
    pool = 1000.0
    for _ in range(50):  # the pool whose conversions (attention x one half) equal arrivals
        reach = choice.attention(record / (2000 + pool), spec["choice"]["cost_per_impression"],
                                 spec["choice"]["attention_floor"])  # fmt: skip
        pool = acquired / (reach * 0.5)
    spec["prospects"] = {"initial": int(pool), "arrivals_per_week": float(acquired)}
    spec["network"]["average_degree"] = 0
    market = base.model_copy(update={"market": MarketSpec.model_validate(spec)})
    lone = [simulate_market(market, seed=s).firms["alone"] for s in SEEDS]
    for field, tolerance in (
        ("customers_final", 0.04),
        ("profit_total", 0.04),
        ("churn_rate_annual", 0.10),
    ):
        ours = np.mean([r.summary[field] for r in lone])
        theirs = np.mean([r.summary[field] for r in single])
        assert abs(ours / theirs - 1) < tolerance, (field, ours, theirs)
