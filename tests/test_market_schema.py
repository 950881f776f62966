"""Market files: rival firms as scenarios, validated at the door like every scenario."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from serviceprofit.model.market import Market, load_market
from serviceprofit.model.scenario import ScenarioError, load_scenario

SHIPPED = Path(str(resources.files("serviceprofit").joinpath("data", "markets")))

MINIMAL = {
    "firms": {"a": {}, "b": {"strategy": {"process": "cost_minimised"}}},
    "market": {"customers": 1000, "shares": {"a": 0.5, "b": 0.5}},
}


def _write(tmp_path: Path, data: dict, name: str = "market.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def _with(**changes) -> dict:
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return data


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_markets_load(path):
    """Every shipped market validates, has two or more firms, and its firms' customers at
    week 0 add up to the market's customers."""
    market = load_market(path)
    assert isinstance(market, Market) and len(market.firms) >= 2
    counts = market.initial_customers()
    assert sum(counts.values()) == market.market.customers
    for name, firm in market.firms.items():
        assert firm.population.customers == counts[name] and firm.weeks == market.weeks


def test_the_three_shipped_markets_are_the_asked_ones():
    """Two equal firms where one switches to cost-minimised; a cost-minimised incumbent
    against a customer-value entrant; three firms of different size."""
    rivals = load_market(SHIPPED / "rivals_one_cuts_cost.yaml")
    assert set(rivals.market.shares.values()) == {0.5}
    frugal = rivals.firms["frugal"]
    assert frugal.strategy.process.preset == "customer_value"
    assert frugal.at_week(52).strategy.process.preset == "cost_minimised"
    assert rivals.firms["steady"].at_week(100).strategy.process.preset == "customer_value"
    entrant = load_market(SHIPPED / "incumbent_vs_entrant.yaml")
    assert entrant.firms["incumbent"].strategy.process.preset == "cost_minimised"
    assert entrant.firms["entrant"].strategy.process.preset == "customer_value"
    assert entrant.market.shares["entrant"] < entrant.market.shares["incumbent"]
    three = load_market(SHIPPED / "three_firms.yaml")
    assert len(three.firms) == 3 and len(set(three.initial_customers().values())) == 3


def test_firm_extends_a_scenario_file(tmp_path):
    """A firm may extend a scenario file (next to the market file) and override keys; the
    firm is then exactly that scenario with the market's weeks and its customers."""
    (tmp_path / "base.yaml").write_text(
        yaml.safe_dump({"name": "base", "weeks": 52, "strategy": {"process": "cost_minimised"}})
    )
    data = _with(
        firms={
            "a": {"extends": "base.yaml"},
            "b": {"extends": "base.yaml", "owner": {"policy": "fixed"}},
        }
    )
    market = load_market(_write(tmp_path, data))
    alone = load_scenario(
        tmp_path / "base.yaml", {"population.customers": 500, "weeks": 156, "name": "a"}
    )
    assert market.firms["a"] == alone
    assert market.firms["b"].owner.policy == "fixed"
    assert market.firms["b"].strategy.process.preset == "cost_minimised"


def test_dotted_overrides_reach_firms_and_market(tmp_path):
    """`firms.NAME.strategy...` changes one firm only; `market.network...` the network."""
    path = _write(tmp_path, MINIMAL)
    market = load_market(
        path,
        {
            "firms.a.strategy.process.empowerment": 0.1,
            "market.network.kind": "scale_free",
            "market.choice.switching_cost": 2.5,
        },
    )
    assert market.firms["a"].strategy.process.empowerment == 0.1
    assert market.firms["a"].strategy.process.preset == "customer_value"
    assert market.firms["b"].strategy.process.empowerment != 0.1
    assert market.market.network.kind == "scale_free"
    assert market.market.choice.switching_cost == 2.5


def test_defaults_state_the_contagion_source():
    """The default contagion is Nitzan and Libai's 80% with a four-week half-life."""
    choice = load_market(dict(MINIMAL)).market.choice
    assert choice.contagion_uplift == 0.8 and choice.contagion_half_life_weeks == 4.0


@pytest.mark.parametrize(
    ("data", "key", "allowed"),
    [
        (_with(firms={"a": {}}), "firms", "between 2 and 16 firms"),
        ({"firms": MINIMAL["firms"]}, "market", "is required"),
        (_with(market__shares={"a": 0.5, "b": 0.4}), "market", "shares must sum to 1"),
        (_with(market__shares={"a": 0.5, "c": 0.5}), "market.shares", "exactly: a, b"),
        (_with(market__shares={"a": 0.9995, "b": 0.0005}), "market.shares.b", "no customer"),
        (_with(market__network={"kind": "ring"}), "market.network.kind", "small_world"),
        (_with(market__network={"average_degree": 5}), "market.network", "even average_degree"),
        (_with(market__choice={"beta_prize": 1}), "market.choice.beta_prize", "beta_price"),
        (_with(market__choice={"review_reach": 2}), "market.choice.review_reach", "less than or"),
        (_with(market__prospects={"initial": -1}), "market.prospects.initial", "greater than"),
        (_with(weeks=0), "weeks", "greater than or equal to 1"),
        (_with(firms={"a.b": {}, "c": {}}), "firms.a.b", "letters, digits"),
        (_with(colour="red"), "colour", "Allowed keys: description, firms, market, name, weeks"),
        (
            _with(firms__a={"strategy": {"process": "cheap"}}),
            "firms.a.strategy.process",
            "unknown process preset",
        ),
        (_with(firms__a={"weeks": 10}), "firms.a.weeks", "set by the market"),
        (
            _with(firms__a={"population": {"customers": 10}}),
            "firms.a.population.customers",
            "set by market.customers",
        ),
        (_with(firms__a={"extends": "base.yaml"}), "firms.a.extends", "scenario file name"),
        (
            _with(
                firms__b={
                    "segments": [
                        {
                            "name": "all",
                            "share": 1.0,
                            "weekly_spend": 5.0,
                            "expectation": 0.7,
                            "complaint_propensity": 0.1,
                        }
                    ]
                }
            ),
            "firms.b.segments",
            "must match firms.a.segments",
        ),
    ],
)
def test_bad_markets_name_the_key_and_what_is_allowed(data, key, allowed):
    """A bad market raises ScenarioError with the source, the key path and what is allowed,
    on one line."""
    with pytest.raises(ScenarioError) as caught:
        load_market(data)
    assert caught.value.source == "<dict>"
    assert caught.value.key == key
    assert allowed in caught.value.problem
    assert "\n" not in str(caught.value)


def test_bad_file_and_bad_override_name_the_file(tmp_path):
    """A missing extends names the market file; a bad --set names the override."""
    path = _write(tmp_path, _with(firms__a={"extends": "nowhere.yaml"}))
    with pytest.raises(ScenarioError, match="no such file"):
        load_market(path)
    good = _write(tmp_path, MINIMAL, "good.yaml")
    with pytest.raises(ScenarioError, match=r"good.yaml \(with --set") as caught:
        load_market(good, {"firms.a.strategy.process.empowerment": 7})
    assert caught.value.key == "firms.a.strategy.process.empowerment"
    with pytest.raises(ScenarioError, match="set by the market"):
        load_market(good, {"firms.a.population.customers": 7})


def test_segment_prices_may_differ_by_firm():
    """A segment's weekly spend is the firm's price: it may differ between firms."""
    segments = load_scenario({}).to_dict()["segments"]
    segments[0]["weekly_spend"] = 9.0
    market = load_market(_with(firms__b={"segments": segments}))
    assert market.firms["b"].segments[0].weekly_spend == 9.0
    assert market.firms["a"].segments[0].weekly_spend != 9.0


def test_bare_names_find_shipped_markets_and_scenarios(tmp_path):
    """`load_market("three_firms")` finds the shipped market; a firm's bare `extends:`
    finds a shipped scenario when no file of that name sits beside the market."""
    assert load_market("three_firms") == load_market(SHIPPED / "three_firms.yaml")
    path = _write(tmp_path, _with(firms__a={"extends": "cost_minimised"}))
    shipped = load_scenario("cost_minimised")
    assert load_market(path).firms["a"].strategy == shipped.strategy
    with pytest.raises(ScenarioError, match="nor a shipped market"):
        load_market("no_such_market")
