"""Experiments: validation at the door, designs, overrides and per-run seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from serviceprofit.model.seeds import replicate_seed as run_seed
from serviceprofit.sweeps.design import unit_design, values_at
from serviceprofit.sweeps.experiment import ExperimentError, load_experiment

ROOT = Path(__file__).resolve().parents[1]
BASE = (ROOT / "scenarios" / "baseline.yaml").as_posix()


def write(tmp_path: Path, body: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"scenario: {BASE}\n{body}")
    return path


@pytest.mark.parametrize("name", ["sobol_levers.yaml", "grid_strategy.yaml"])
def test_shipped_experiments_load(name: str) -> None:
    """The shipped experiments are valid and name only real scenario keys."""
    experiment = load_experiment(ROOT / "experiments" / name)
    assert len(unit_design(experiment)) >= 12
    assert experiment.outcomes


SOBOL = "design: {method: sobol, samples: 8}\n"
BAD = [
    (
        "factors: {strategy.proces.empowerment: {low: 0, high: 1}}\n" + SOBOL,
        r"factors\.strategy\.proces\.empowerment: names no scenario key.*did you mean 'process'",
    ),
    (
        "factors: {weeks.x: {low: 0, high: 1}}\n" + SOBOL,
        r"factors\.weeks\.x: names no scenario key",
    ),
    (
        "factors: {strategy.process.empowerment: {low: 0, high: 2}}\n" + SOBOL,
        r"factors\.strategy\.process\.empowerment: value 2\.0 is not allowed",
    ),
    (
        "factors: {strategy.process.empowerment: {low: 0.9, high: 0.1}}\n" + SOBOL,
        r"factors\.strategy\.process\.empowerment: high \(0\.1\) must be greater than low",
    ),
    (
        "factors: {strategy.measurement.survey_lag_weeks: {low: 0, high: 12}}\n" + SOBOL,
        r"survey_lag_weeks: value .* add integer: true",
    ),
    (
        "factors: {strategy.process: [cost_minimised, lean]}\n" + SOBOL,
        r"factors\.strategy\.process: value 'lean' is not allowed: unknown process preset",
    ),
    (
        "factors: {x: {distribution: normal, mean: 1}}\n" + SOBOL,
        r"factors\.x: a normal distribution takes exactly mean, sd",
    ),
    (
        "factors: {strategy.process.empowerment: {low: 0, high: 1, step: 1}}\n" + SOBOL,
        r"factors\.strategy\.process\.empowerment\.step: unknown key",
    ),
    (
        "factors: {strategy.process.empowerment: {low: 0, high: 1}}\n"
        "design: {method: sobol, samples: 100}\n",
        r"design\.samples: must be a power of 2",
    ),
    (
        "factors: {strategy.process.empowerment: {low: 0, high: 1}}\ndesign: grid\n",
        r"a range in a grid needs points",
    ),
    (
        "factors: {strategy.process.empowerment: {low: 0, high: 1}}\n" + SOBOL + "replicate: 2\n",
        r"replicate: unknown key; allowed keys: .*replicates",
    ),
    (
        "factors: {strategy.process.empowerment: {low: 0, high: 1}}\n"
        + SOBOL
        + "outcomes: [profit]\n",
        r"outcomes: unknown outcome 'profit'; did you mean 'profit_total'",
    ),
    (
        "factors: {strategy.process.empowerment: {low: 0, high: 1}}\n" + SOBOL + "backend: gpu\n",
        r"backend: unknown backend 'gpu'",
    ),
    (
        "set: {population.customer: 10}\n"
        "factors: {strategy.process.empowerment: {low: 0, high: 1}}\n" + SOBOL,
        r"set\.population\.customer: unknown key",
    ),
]


@pytest.mark.parametrize(("body", "match"), BAD)
def test_bad_experiments_are_rejected_with_the_key(tmp_path: Path, body: str, match: str) -> None:
    """Unknown keys, bad ranges, unknown outcomes and keys the scenario lacks are refused."""
    path = write(tmp_path, body)
    with pytest.raises(ExperimentError, match=match) as info:
        load_experiment(path)
    assert str(info.value).startswith(str(path))


def test_preset_level_and_field_combine_in_either_order(tmp_path: Path) -> None:
    """A preset level applies before a field of it, whatever the order of the factors."""
    path = write(
        tmp_path,
        "factors:\n"
        "  strategy.process.empowerment: {low: 0.5, high: 0.6}\n"
        "  strategy.process: [cost_minimised, customer_value]\n" + SOBOL,
    )
    experiment = load_experiment(path)
    values = {"strategy.process.empowerment": 0.55, "strategy.process": "cost_minimised"}
    scenario = experiment.base.with_overrides(experiment.overrides(values))
    assert scenario.strategy.process.preset == "cost_minimised"
    assert scenario.strategy.process.empowerment == 0.55
    assert scenario.strategy.process.handle_time == 0.40  # from the preset, not the base


def test_grid_is_every_combination_and_reaches_the_ends(tmp_path: Path) -> None:
    """A grid crosses all levels; a range with points starts at low and ends at high."""
    path = write(
        tmp_path,
        "factors:\n"
        "  strategy.process: [cost_minimised, customer_value]\n"
        "  strategy.marketing.spend_per_week: {low: 100, high: 900, points: 3}\n"
        "  owner.review_every: {low: 2, high: 8, points: 4, integer: true}\n"
        "design: grid\n",
    )
    experiment = load_experiment(path)
    unit = unit_design(experiment)
    values = values_at(experiment, unit)
    combos = set(zip(*values.values(), strict=True))
    assert len(unit) == len(combos) == 2 * 3 * 4
    assert sorted(set(values["strategy.marketing.spend_per_week"])) == [100.0, 500.0, 900.0]
    assert sorted(set(values["owner.review_every"])) == [2, 4, 6, 8]


def test_latin_hypercube_puts_one_point_in_each_stratum(tmp_path: Path) -> None:
    """Each factor's range is cut into `samples` strata with one point in each."""
    path = write(
        tmp_path,
        "factors:\n"
        "  strategy.process.empowerment: {low: 0, high: 1}\n"
        "  behaviour.churn_steepness: {distribution: normal, mean: 4.5, sd: 0.5}\n"
        "design: {method: latin_hypercube, samples: 20}\n",
    )
    unit = unit_design(load_experiment(path))
    for column in unit.T:
        assert sorted((column * 20).astype(int)) == list(range(20))


def test_distribution_values_follow_the_quantile_function(tmp_path: Path) -> None:
    """A normal factor's median point is its mean; its extremes are cut at the tails."""
    path = write(
        tmp_path,
        "factors: {behaviour.churn_steepness: {distribution: normal, mean: 4.5, sd: 0.5}}\n"
        + SOBOL,
    )
    experiment = load_experiment(path)
    (values,) = values_at(experiment, np.array([[0.0], [0.5], [1.0]])).values()
    assert values[1] == pytest.approx(4.5)
    assert 4.5 - 4 * 0.5 < values[0] < values[1] < values[2] < 4.5 + 4 * 0.5


def test_run_seed_is_the_spawned_child() -> None:
    """Run i's seed is child i of SeedSequence(seed), as SeedSequence.spawn would give."""
    children = np.random.SeedSequence(42).spawn(5)
    for i, child in enumerate(children):
        expected = int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
        assert run_seed(42, i) == expected
    assert len({run_seed(42, i) for i in range(1000)}) == 1000


def test_fingerprint_follows_the_experiment_and_its_base_scenario(tmp_path: Path) -> None:
    """Editing the experiment or its base scenario changes the hash; a comment does not."""
    (tmp_path / "base.yaml").write_text(f"extends: {BASE}\nweeks: 26\n")
    body = "factors: {strategy.process.empowerment: {low: 0, high: 1}}\n" + SOBOL
    path = tmp_path / "exp.yaml"
    path.write_text("scenario: base.yaml\n" + body)
    first = load_experiment(path).fingerprint()
    path.write_text("# a comment\nscenario: base.yaml\n" + body)
    assert load_experiment(path).fingerprint() == first
    path.write_text("scenario: base.yaml\nseed: 1\n" + body)
    assert load_experiment(path).fingerprint() != first
    path.write_text("scenario: base.yaml\n" + body)
    (tmp_path / "base.yaml").write_text(f"extends: {BASE}\nweeks: 27\n")
    assert load_experiment(path).fingerprint() != first
