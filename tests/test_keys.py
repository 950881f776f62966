"""The dotted-key vocabulary (serviceprofit.model.keys): one parser, one setter, one reader."""

from __future__ import annotations

import pytest

from serviceprofit.model import keys
from serviceprofit.model.scenario import Scenario, ScenarioError


def test_parse_reads_the_value_as_yaml() -> None:
    """``--set`` values get their YAML types."""
    assert keys.parse("population.customers=300") == ("population.customers", 300)
    assert keys.parse("strategy.process=merged") == ("strategy.process", "merged")
    with pytest.raises(ScenarioError, match="expected KEY=VALUE"):
        keys.parse("nonsense")


def test_apply_then_get_round_trips_through_flatten() -> None:
    """A key set with ``apply`` reads back with ``get`` and lists under ``flatten``."""
    data = Scenario().to_dict()
    changed = keys.apply(data, {"segments.0.share": 0.25, "strategy.process.empowerment": 0.5})
    assert keys.get(changed, "segments.0.share") == 0.25
    assert keys.get(changed, "strategy.process.empowerment") == 0.5
    assert keys.flatten(changed)["segments.0.share"] == 0.25
    assert keys.get(data, "segments.0.share") != 0.25 or data is not changed  # a copy
    with pytest.raises(KeyError):
        keys.get(changed, "segments.9.share")


def test_unknown_key_names_the_nearest() -> None:
    """A misspelt key is answered with the closest known one, everywhere it is checked."""
    assert keys.nearest("proces", ["process", "product"]) == "; did you mean 'process'?"
    with pytest.raises(ScenarioError, match="did you mean 'process'"):
        Scenario().with_overrides({"strategy.proces": "merged"})


def test_scenario_and_cli_use_the_one_parser() -> None:
    """scenario's and the CLI's override helpers are this module's, not copies."""
    from serviceprofit import cli
    from serviceprofit.model import scenario

    assert scenario.parse_override is keys.parse
    assert scenario.apply_overrides is keys.apply
    assert cli.parse_override is keys.parse
