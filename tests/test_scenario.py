"""Scenarios: presets as data, extends, overrides, events, and errors that name the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from serviceprofit import Scenario, ScenarioError, load_scenario
from serviceprofit.model.scenario import presets


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_every_shipped_scenario_loads(scenarios_dir):
    """Each shipped scenario validates and has a comment saying what question it answers."""
    files = sorted(scenarios_dir.glob("*.yaml"))
    assert len(files) >= 6
    for path in files:
        scenario = load_scenario(path)
        assert scenario.name == path.stem
        assert path.read_text().lstrip().startswith("# Question:")


def test_presets_are_data_and_overridable():
    """A preset name expands to the preset's numbers; a field overrides one of them."""
    cm = load_scenario({"strategy": {"process": "cost_minimised"}})
    assert cm.strategy.process.empowerment == presets()["process"]["cost_minimised"]["empowerment"]
    tuned = load_scenario(
        {"strategy": {"process": {"preset": "cost_minimised", "empowerment": 0.55}}}
    )
    assert tuned.strategy.process.empowerment == 0.55
    assert tuned.strategy.process.handle_time == cm.strategy.process.handle_time


def test_extends_states_only_what_differs(tmp_path):
    """A child scenario inherits everything but what it states."""
    write(tmp_path, "base.yaml", "weeks: 30\npopulation: {customers: 700, staff: 7}\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\npopulation: {staff: 9}\nweeks: 40\n")
    scenario = load_scenario(child)
    assert (scenario.weeks, scenario.population.customers, scenario.population.staff) == (
        40,
        700,
        9,
    )
    assert scenario.name == "child"


def test_switching_preset_in_a_child_drops_the_parents_preset_overrides(tmp_path):
    """`process: cost_minimised` in a child means the cost-minimised preset, whole."""
    write(tmp_path, "base.yaml", "strategy:\n  process: {preset: customer_value, scripts: 0.5}\n")
    child = write(
        tmp_path, "child.yaml", "extends: base.yaml\nstrategy: {process: cost_minimised}\n"
    )
    assert load_scenario(child).strategy.process.scripts == 0.8


def test_dotted_overrides_reach_presets_lists_and_values(scenarios_dir):
    """Dotted keys set preset names, preset fields, list items and plain values."""
    scenario = load_scenario(
        scenarios_dir / "baseline.yaml",
        {
            "strategy.process": "cost_minimised",
            "strategy.organisation.one_view": 0.5,
            "segments.0.weekly_spend": 7.5,
            "weeks": 12,
        },
    )
    assert scenario.strategy.process.preset == "cost_minimised"
    assert scenario.strategy.organisation.one_view == 0.5
    assert scenario.segments[0].weekly_spend == 7.5
    assert scenario.weeks == 12


def test_events_change_the_scenario_in_force(scenarios_dir):
    """Events take effect at their week and are undone at `until`."""
    scenario = load_scenario(scenarios_dir / "merge_in_year_two.yaml")
    assert scenario.at_week(51).strategy.organisation.departments == 4
    assert scenario.at_week(52).strategy.organisation.departments == 1
    assert scenario.at_week(80).strategy.product.complexity == 1.6
    assert scenario.at_week(86).strategy.product.complexity == 1.0


def test_the_schedule_reads_each_week_the_events_in_force(scenarios_dir):
    """ParamSchedule keeps one record per distinct set of events in force, and each week
    reads the record of that week's set, also where events overlap, start at week 0, or
    are undone."""
    from serviceprofit.model.params import Params, ParamSchedule
    from serviceprofit.model.scenario import events_in_force

    base = load_scenario(scenarios_dir / "baseline.yaml")
    scenario = Scenario.model_validate(
        {
            **base.to_dict(),
            "weeks": 60,
            "events": [
                {"week": 0, "until": 7, "set": {"strategy.product.complexity": 1.3}},
                {"week": 5, "until": 40, "set": {"strategy.process.empowerment": 0.2}},
                {"week": 20, "set": {"strategy.marketing.spend_per_week": 10.0}},
                {"week": 30, "until": 35, "set": {"strategy.product.complexity": 1.5}},
            ],
        }
    )
    schedule = ParamSchedule(scenario)
    sets = [tuple(events_in_force(scenario.events, week)) for week in range(scenario.weeks)]
    assert len(schedule.records) == len(set(sets)) == 6  # (1, 2) twice: one record
    for week in range(scenario.weeks):
        assert schedule(week) == Params.from_scenario(scenario.at_week(week)), week
        first = sets.index(sets[week])
        assert schedule.index[week] == schedule.index[first], week


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("strategy: {proces: silo}\n", "strategy.proces", "did you mean 'process'"),
        ("weeks: many\n", "weeks", "valid integer"),
        ("weeks: 0\n", "weeks", "greater than or equal to 1"),
        ("strategy: {process: cheap}\n", "strategy.process", "allowed: ['cost_minimised'"),
        ("owner: {policy: greedy}\n", "owner.policy", "'fixed', 'profit_first' or 'balanced'"),
        (
            "strategy: {process: {empowerment: 2}}\n",
            "strategy.process.empowerment",
            "less than or equal to 1",
        ),
        (
            "strategy: {process: {preset: silo}}\n",
            "strategy.process",
            "unknown process preset 'silo'",
        ),
        ("channels: {mix: {phone: 0.5, email: 0.2}}\n", "channels.mix", "sum to 1"),
        ("channels: {mix: {phone: 0.5, fax: 0.5}}\n", "channels.mix.fax", "'phone'"),
        (
            "segments: [{name: a, share: 0.5, weekly_spend: 5, expectation: 0.6, "
            "complaint_propensity: 0.1}]\n",
            "segments",
            "shares must sum to 1",
        ),
        ("events: [{week: 5, set: {strategy.proces: merged}}]\n", "events.0.set", "proces"),
        ("events: [{week: 5, until: 3, set: {weeks: 3}}]\n", "events.0", "must be after"),
        ("population: {customers: -5}\n", "population.customers", "greater than or equal"),
    ],
)
def test_bad_values_name_file_key_and_what_is_allowed(tmp_path, text, key, message):
    """Every kind of bad value is rejected at load time, naming file, key and the rule."""
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ScenarioError, match=re.escape(message)) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    assert info.value.key.startswith(key)


def test_unknown_top_level_key_lists_allowed_keys(tmp_path):
    """A typo at the top level suggests the nearest key and lists the allowed ones."""
    path = write(tmp_path, "typo.yaml", "week: 10\n")
    with pytest.raises(ScenarioError, match=r"did you mean 'weeks'.*Allowed keys:.*population"):
        load_scenario(path)


def test_unreadable_inputs(tmp_path):
    """Missing files, bad YAML, non-mappings and extends cycles are clear errors."""
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(write(tmp_path, "broken.yaml", "weeks: [1, 2\n"))
    with pytest.raises(ScenarioError, match="must be a mapping"):
        load_scenario(write(tmp_path, "list.yaml", "- 1\n- 2\n"))
    write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.yaml")
    with pytest.raises(ScenarioError, match=r"extends.*no such file"):
        load_scenario(write(tmp_path, "orphan.yaml", "extends: nowhere.yaml\n"))


def test_yaml_is_loaded_safely(tmp_path):
    """Only safe YAML: a Python object tag is refused, never constructed."""
    path = write(tmp_path, "evil.yaml", "name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(path)


def test_bad_overrides_are_attributed_to_set(scenarios_dir):
    """A bad dotted override names --set and the key."""
    with pytest.raises(ScenarioError, match=r"--set.*strategy\.process\.empowerment"):
        load_scenario(scenarios_dir / "baseline.yaml", {"strategy.process.empowerment": 3})
    with pytest.raises(ScenarioError, match="list index"):
        load_scenario(scenarios_dir / "baseline.yaml", {"segments.9.share": 1})


def test_scenario_is_immutable_and_round_trips():
    """A scenario is frozen; its plain data validates back to an equal scenario."""
    scenario = Scenario()
    with pytest.raises(Exception, match="frozen"):
        scenario.weeks = 3  # type: ignore[misc]
    assert load_scenario(scenario.to_dict()) == scenario
