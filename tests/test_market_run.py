"""Market runs: both backends on one definition of the week, conservation, the books.

Small markets (two firms, a few hundred people) so that the Mesa runs take seconds.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serviceprofit import simulate_market
from serviceprofit.backends.market_run import MARKET_COLUMNS, switching_table
from serviceprofit.model.market import load_market

from .test_model import COSTS


def small_market(people: int = 400, weeks: int = 52, **overrides):
    """The shipped two-firm market at a few hundred people, the switch in week 20."""
    return load_market(
        "rivals_one_cuts_cost",
        {
            "weeks": weeks,
            "market.customers": people,
            "market.prospects.initial": people // 5,
            "market.prospects.arrivals_per_week": 2,
            "firms.frugal.events.0.week": 20,
            "firms.steady.population.staff": 3,
            "firms.frugal.population.staff": 3,
            **overrides,
        },
    )


def assert_same_run(a, b) -> None:
    ta, tb = a.timeseries(), b.timeseries()
    assert list(ta.columns) == list(tb.columns)
    for column in ta.columns:
        np.testing.assert_array_equal(ta[column].to_numpy(), tb[column].to_numpy(), err_msg=column)
    np.testing.assert_array_equal(a.flows, b.flows)
    assert a.people == b.people


def check_market_invariants(result) -> None:
    market = result.market
    ts = result.timeseries()
    assert not ts.drop(columns="firm").isna().any().any()
    # every person is a firm's customer, a prospect, or has left the category
    people = result.people
    assert sum(people["customers"]) + people["prospects"] + people["left"] == people["arrived"]
    assert people["arrived"] >= market.people()
    for f, (name, run) in enumerate(result.firms.items()):
        ft = run.timeseries
        assert int(ft["customers_active"].iloc[-1]) == people["customers"][f]
        # a firm's customers change only by the market's flows: churners go to a rival or
        # leave, a customer won by a rival goes, rivals' customers and prospects arrive
        start = market.initial_customers()[name]
        moved = (
            ft["customers_acquired"].cumsum()
            - ft["lost_to_outside"].cumsum()
            - ft["lost_to_rivals"].cumsum()
        )
        np.testing.assert_array_equal(ft["customers_active"], start + moved)
        np.testing.assert_array_equal(
            ft["customers_acquired"], ft["won_from_rivals"] + ft["won_from_prospects"]
        )
        assert (ft["customers_churned"] <= ft["lost_to_outside"] + ft["lost_to_rivals"]).all()
        # the accounts balance
        np.testing.assert_allclose(ft[COSTS].sum(axis=1), ft["cost_total"], rtol=1e-12)
        np.testing.assert_allclose(
            ft["revenue"] - ft["cost_total"], ft["profit"], rtol=1e-9, atol=1e-6
        )
        initial_cash = market.firms[name].owner.initial_cash
        np.testing.assert_allclose(
            initial_cash + ft["profit"].cumsum(), ft["cash"], rtol=1e-9, atol=1e-3
        )
        assert ((ft["market_share"] >= 0) & (ft["market_share"] <= 1)).all()
    share = ts.groupby("week")["market_share"].sum()
    np.testing.assert_allclose(share, 1.0, rtol=1e-12)
    # the switching matrix adds up to the weekly flows
    table = switching_table(list(result.firms), result.flows)
    assert table["people"].sum() == result.flows.sum()


def test_market_outputs_have_the_market_columns():
    result = simulate_market(small_market(weeks=30), seed=3)
    ts = result.timeseries()
    assert ts["firm"].unique().tolist() == ["steady", "frugal"]
    assert len(ts) == 2 * 30
    for column in MARKET_COLUMNS:
        assert column in ts.columns
    check_market_invariants(result)


def test_mesa_and_numba_float64_are_the_same_market_run():
    market = small_market()
    mesa = simulate_market(market, backend="mesa", seed=1)
    numba_run = simulate_market(market, backend="numba", seed=1, precision="float64")
    assert_same_run(mesa, numba_run)
    assert sum(mesa.firms["frugal"].timeseries["lost_to_rivals"]) > 0  # the market did move
    check_market_invariants(mesa)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "kind"), [(2, "scale_free"), (3, "homophily")])
def test_mesa_and_numba_float64_agree_on_other_networks(seed, kind):
    market = small_market(weeks=78, **{"market.network.kind": kind})
    mesa = simulate_market(market, backend="mesa", seed=seed)
    numba_run = simulate_market(market, backend="numba", seed=seed, precision="float64")
    assert_same_run(mesa, numba_run)


def test_one_and_two_threads_give_the_same_bits():
    market = small_market(people=60_000, weeks=30)  # firms of several chunks: parallel passes
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate_market(market, seed=5)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = simulate_market(market, seed=5)
    finally:
        numba.set_num_threads(before)
    assert_same_run(one, two)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    people=st.integers(60, 500),
    share=st.sampled_from([0.1, 0.5, 0.8]),
    kind=st.sampled_from(["small_world", "scale_free", "homophily"]),
    degree=st.sampled_from([0, 2, 6]),
    arrivals=st.sampled_from([0.0, 3.0]),
)
def test_people_are_conserved_and_books_balance(seed, people, share, kind, degree, arrivals):
    market = small_market(
        people=people,
        weeks=30,
        **{
            "market.shares.steady": share,
            "market.shares.frugal": round(1 - share, 6),
            "market.network.kind": kind,
            "market.network.average_degree": degree,
            "market.prospects.arrivals_per_week": arrivals,
        },
    )
    check_market_invariants(simulate_market(market, seed=seed))


def test_cli_runs_a_market_and_writes_one_row_per_firm_per_week(tmp_path, capsys):
    from serviceprofit.cli import main

    out = tmp_path / "out"
    code = main(
        [
            "run", "rivals_one_cuts_cost", "--backend", "numba", "--weeks", "30",
            "--set", "market.customers=300", "--set", "market.prospects.initial=60",
            "--set", "firms.frugal.events.0.week=10", "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    import json

    import pandas as pd

    ts = pd.read_csv(out / "timeseries.csv")
    assert len(ts) == 60 and set(ts["firm"]) == {"steady", "frugal"}
    assert set(MARKET_COLUMNS) <= set(ts.columns)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["firms"]) == {"steady", "frugal"}
    assert "provenance" in summary and summary["provenance"]["seeds"] == 0
    switching = pd.read_csv(out / "switching.csv")
    assert list(switching.columns) == ["year", "from", "to", "people"]
    assert switching["people"].sum() == ts["customers_acquired"].sum() + ts["lost_to_outside"].sum()
