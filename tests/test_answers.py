"""Answers that mean what they say (issue 9): a change pays its transition, presets are
inherited, unmeasurable fields are absent, the fast backend is the default, and the
report says what its intervals and units mean."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from serviceprofit import load_scenario
from serviceprofit.backends import resolve_backend
from serviceprofit.backends.simulate import simulate
from serviceprofit.cli import build_parser, main
from serviceprofit.comparison.compare import compare
from serviceprofit.comparison.report import (
    LEAD,
    format_table,
    lead_differences,
    reading,
    render_html,
    scenario_differences,
)
from serviceprofit.model.firm import begin_week, capacity_factor, new_firm
from serviceprofit.model.outcomes import OUTCOMES, SUMMARY
from serviceprofit.model.params import ParamSchedule
from serviceprofit.model.result import MIN_WEEKS
from serviceprofit.model.rng import Dice
from serviceprofit.model.scenario import ScenarioError

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SMALL = {"population.customers": 600, "population.staff": 8, "weeks": 30}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"extends: {SCENARIOS / 'silo.yaml'}\nname: {name}\n{text}")
    return path


# ---------------------------------------------------------------------------
# 1. A strategy change pays its transition


def test_changing_the_organisation_under_extends_is_a_change_made_at_week_0(tmp_path):
    """A scenario that merges a silo firm adopts the organisation at start; shipped
    merged.yaml and silo.yaml state the structure they have always had."""
    merging = load_scenario(_write(tmp_path, "merging", "strategy:\n  organisation: merged\n"))
    assert merging.strategy.organisation.since == "start_of_run"
    kept = load_scenario(_write(tmp_path, "kept", "strategy:\n  process: cost_minimised\n"))
    assert kept.strategy.organisation.since == "always"
    for name in ("silo", "merged", "baseline", "merge_in_year_two"):
        assert load_scenario(SCENARIOS / f"{name}.yaml").strategy.organisation.since == "always"
    stated = "strategy:\n  organisation: {preset: merged, since: always}\n"
    assert load_scenario(_write(tmp_path, "st", stated)).strategy.organisation.since == "always"


def test_set_that_changes_the_organisation_is_a_change_too():
    """--set changes the file's firm as extends: changes its parent's, unless it says since."""
    changed = load_scenario(SCENARIOS / "silo.yaml", {"strategy.organisation": "merged"})
    assert changed.strategy.organisation.since == "start_of_run"
    stated = {"strategy.organisation": "merged", "strategy.organisation.since": "always"}
    assert load_scenario(SCENARIOS / "silo.yaml", stated).strategy.organisation.since == "always"
    other = load_scenario(SCENARIOS / "merged.yaml", {"strategy.marketing.spend_per_week": 10})
    assert other.strategy.organisation.since == "always"


def test_since_must_be_one_of_two_words(tmp_path):
    """An unknown value names the key and the allowed words."""
    path = _write(tmp_path, "bad", "strategy:\n  organisation: {preset: merged, since: 1999}\n")
    with pytest.raises(ScenarioError, match=r"strategy\.organisation\.since.*start_of_run"):
        load_scenario(path)


@pytest.mark.parametrize("backend", ["mesa", "numba"])
def test_merging_from_week_0_pays_cross_training_for_merge_weeks(backend):
    """start_of_run: double training for merge_weeks weeks, then not; always: never."""
    merged = load_scenario(SCENARIOS / "merged.yaml", SMALL)
    weeks = merged.strategy.organisation.merge_weeks
    tph = merged.strategy.process.training_per_head
    runs = {
        since: simulate(
            merged.with_overrides({"strategy.organisation.since": since}), backend, seed=3
        ).timeseries
        for since in ("start_of_run", "always")
    }
    for since, ts in runs.items():
        extra = ts.cost_training - ts.staff_active * tph  # fixed owner: multiplier stays 1
        paying = since == "start_of_run"
        assert (extra.iloc[:weeks] > 0).all() == paying
        assert extra.iloc[:weeks].to_numpy() == pytest.approx(
            (ts.staff_active * tph).iloc[:weeks].to_numpy() if paying else 0.0
        )
        assert extra.iloc[weeks:].abs().max() == pytest.approx(0.0)


def test_merging_from_week_0_has_less_contact_capacity_for_merge_weeks():
    """The firm's capacity factor is cut to 80% in weeks 0..merge_weeks-1, then restored."""
    merged = load_scenario(SCENARIOS / "merged.yaml", SMALL)
    org = merged.strategy.organisation
    full = 1.0 - org.coordination_time_share
    for since, during in (("start_of_run", 0.8 * full), ("always", full)):
        schedule = ParamSchedule(merged.with_overrides({"strategy.organisation.since": since}))
        weeks = org.merge_weeks + 2
        state, _, history = new_firm(schedule(0), weeks)
        dice = Dice(np.uint64(1))
        factors = []
        for w in range(weeks):
            dice.roll(w, 1)
            begin_week(schedule(w), state, history, dice, w)
            factors.append(capacity_factor(schedule(w), state, w))
        assert factors[: org.merge_weeks] == pytest.approx([during] * org.merge_weeks)
        assert factors[org.merge_weeks :] == pytest.approx([full, full])


def test_merging_from_week_0_is_not_free_in_the_first_quarter():
    """Over 4 common-random-number pairs, the first 13 weeks' profit is lower in every pair."""
    merged = load_scenario(SCENARIOS / "merged.yaml", SMALL)
    for seed in range(4):
        first = {
            since: simulate(
                merged.with_overrides({"strategy.organisation.since": since}), "numba", seed
            ).summary["profit_first_13_weeks"]
            for since in ("start_of_run", "always")
        }
        assert first["start_of_run"] < first["always"], (seed, first)


# ---------------------------------------------------------------------------
# 2. Preset inheritance


def test_a_mapping_without_preset_keeps_the_inherited_preset(tmp_path):
    """Under extends:, {training_per_head: 10} overrides one field of the parent's preset."""
    path = tmp_path / "cheap_training.yaml"
    path.write_text(
        f"extends: {SCENARIOS / 'cost_minimised.yaml'}\nname: cheap\n"
        "strategy:\n  process: {training_per_head: 3}\n"
    )
    process = load_scenario(path).strategy.process
    parent = load_scenario(SCENARIOS / "cost_minimised.yaml").strategy.process
    assert process.preset == "cost_minimised" and process.training_per_head == 3
    assert process.model_dump(exclude={"training_per_head"}) == parent.model_dump(
        exclude={"training_per_head"}
    )


def test_naming_a_preset_starts_afresh(tmp_path):
    """A child that names a preset does not inherit the parent's field overrides."""
    parent = tmp_path / "parent.yaml"
    parent.write_text("name: p\nstrategy:\n  process: {preset: cost_minimised, scripts: 0.1}\n")
    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: parent.yaml\nname: c\nstrategy:\n  process: {preset: customer_value}\n"
    )
    assert load_scenario(child).strategy.process.scripts == pytest.approx(0.2)
    grandchild = tmp_path / "grandchild.yaml"
    grandchild.write_text(
        "extends: parent.yaml\nname: g\nstrategy:\n  process: {empowerment: 0.5}\n"
    )
    process = load_scenario(grandchild).strategy.process
    assert (process.preset, process.scripts, process.empowerment) == ("cost_minimised", 0.1, 0.5)


def test_without_extends_a_mapping_starts_from_the_default_preset():
    """No parent: the schema's default preset is the one inherited."""
    data = {"strategy": {"process": {"empowerment": 0.3}, "organisation": {"one_view": 0.5}}}
    scenario = load_scenario(data)
    assert scenario.strategy.process.preset == "customer_value"
    assert scenario.strategy.organisation.preset == "silo"
    assert scenario.strategy.organisation.one_view == 0.5


def test_an_unknown_preset_is_still_refused(tmp_path):
    """A wrong preset name names the allowed ones."""
    with pytest.raises(ScenarioError, match="unknown process preset 'cheap'"):
        load_scenario({"strategy": {"process": {"preset": "cheap"}}})


def test_scenarios_doc_says_how_presets_are_inherited():
    """docs/scenarios.md (generated) documents inheritance and organisation.since."""
    text = (SCENARIOS.parent / "docs" / "scenarios.md").read_text()
    assert "without `preset:`" in text and "since" in text and "currency" in text


# ---------------------------------------------------------------------------
# 4. Fields a run cannot measure


def test_a_short_run_has_no_quarterly_or_annual_figures():
    """A 2-week run: the fields that need 13 weeks are None; the rest are finite numbers."""
    summary = simulate(SCENARIOS / "baseline.yaml", "numba", 0, overrides={"weeks": 2}).summary
    for key in MIN_WEEKS:
        assert summary[key] is None
    for key in OUTCOMES:
        if key not in MIN_WEEKS and summary[key] is not None:
            assert math.isfinite(summary[key])
    long = simulate(SCENARIOS / "baseline.yaml", "numba", 0, overrides={"weeks": 13}).summary
    assert all(long[key] is not None for key in MIN_WEEKS)


def test_cli_run_says_n_a_and_writes_null(tmp_path, capsys):
    """The run summary prints n/a and summary.json holds null, never a stand-in number."""
    args = ["run", str(SCENARIOS / "baseline.yaml"), "--backend", "numba", "--weeks", "2"]
    assert main([*args, "--out", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr().out
    assert "profit_first_13_weeks" in printed and "n/a" in printed
    assert "revenue_total" in printed and " EUR" in printed
    saved = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert saved["profit_first_13_weeks"] is None


def test_compare_and_report_say_n_a_for_missing_values():
    """A comparison of 4-week runs: no mean for the 13-week fields; the table says n/a."""
    short = {**SMALL, "weeks": 4}
    pair = [SCENARIOS / "customer_value.yaml", SCENARIOS / "cost_minimised.yaml"]
    comparison = compare(pair, replicates=2, overrides=short, workers=1)
    assert math.isnan(comparison.statistic("cost_minimised", "profit_first_13_weeks", "mean"))
    assert comparison.statistic("cost_minimised", "profit_first_13_weeks", "n") == 0
    line = next(x for x in format_table(comparison).splitlines() if x.startswith("profit_first_13"))
    assert "n/a" in line
    text = re.sub(r'src="data:[^"]*"', "", render_html(comparison))
    assert not re.search(r"\bnan\b", text, re.IGNORECASE) and "n/a" in text


# ---------------------------------------------------------------------------
# 5. The backend that finishes


def test_auto_is_numba_and_the_default_of_compare_and_sweep(tmp_path):
    """compare and sweep default to auto, which is numba; the rule is in --help."""
    assert resolve_backend("auto") == "numba" and resolve_backend("mesa") == "mesa"
    parser = build_parser()
    args = parser.parse_args(["compare", "a.yaml", "b.yaml"])
    assert args.backend == "auto"
    sub = parser._subparsers._group_actions[0].choices
    assert "mesa only when asked" in " ".join(sub["compare"].format_help().split())
    assert "mesa only when asked" in " ".join(sub["sweep"].format_help().split())
    from serviceprofit.sweeps.experiment import load_experiment

    path = tmp_path / "e.yaml"
    path.write_text(
        f"scenario: {SCENARIOS / 'baseline.yaml'}\n"
        "factors: {strategy.process: [cost_minimised, customer_value]}\ndesign: grid\n"
    )
    assert load_experiment(path).backend == "numba"
    assert compare.__defaults__ is not None and "auto" in compare.__defaults__


# ---------------------------------------------------------------------------
# 3. The report says what it means


@pytest.fixture(scope="module")
def organisation():
    """silo vs merged, and merged from week 0, at small size (numba)."""
    merging = load_scenario(SCENARIOS / "silo.yaml", SMALL).with_overrides(
        {"name": "merging", "strategy.organisation": "merged"}
    )
    merging = merging.with_overrides({"strategy.organisation.since": "start_of_run"})
    return compare(
        [SCENARIOS / "silo.yaml", SCENARIOS / "merged.yaml", merging],
        replicates=4,
        overrides=SMALL,
        workers=1,
    )


def test_reading_leads_with_at_most_three_clear_differences(organisation):
    """Each scenario's paragraph names the most important clear differences, at most 3."""
    paragraphs = reading(organisation)
    for name in ("merged", "merging"):
        lead = lead_differences(organisation, name)
        assert len(lead) <= LEAD
        clear = [o for o in OUTCOMES if organisation.differences_exclude_zero(name, o)]
        assert set(lead) <= set(clear)
        assert len(lead) == min(LEAD, len(clear))
        if lead and len(clear) > len(lead):
            left_out = set(clear) - set(lead)
            assert max(SUMMARY[o].group for o in lead) <= min(SUMMARY[o].group for o in left_out)
        text = next(p for p in paragraphs if p.startswith(f"Compared with silo, {name} "))
        assert text.count("95% interval") == len(lead)
    assert sum(len(p) for p in paragraphs) < 2500


def test_report_says_intervals_are_simulation_noise_and_which_change_applies(organisation):
    """The reading and the report name simulation noise, the transition and the currency."""
    text = " ".join(reading(organisation))
    assert "simulation noise" in text and "parameter uncertainty" in text
    assert "merging adopts its organisation at week 0" in text
    assert "merged has always been organised this way" in text
    settings = dict(scenario_differences(organisation))
    assert settings["strategy.organisation.since"] == ["always", "always", "start_of_run"]
    html = render_html(organisation)
    assert "simulation noise" in html and "total profit (EUR)" in html
    assert "customer satisfaction at the end (0-100)" in html


def test_satisfaction_reads_0_to_100_in_the_table(organisation):
    """The terminal table shows satisfaction on the demo's 0-100 scale."""
    line = next(
        x
        for x in format_table(organisation).splitlines()
        if x.startswith("customer_satisfaction_final")
    )
    mean = organisation.statistic("silo", "customer_satisfaction_final", "mean")
    assert "[0-100]" in line and f"{100 * mean:,.2f}" in line


def test_currency_comes_from_the_scenario(tmp_path):
    """economics.currency labels money; a malformed code is refused with the key named."""
    pair = [SCENARIOS / "customer_value.yaml", SCENARIOS / "cost_minimised.yaml"]
    short = {**SMALL, "weeks": 14, "economics.currency": "USD"}
    comparison = compare(pair, replicates=2, overrides=short, workers=1)
    assert "profit_total [USD]" in format_table(comparison)
    assert "USD" in " ".join(reading(comparison)) and "EUR" not in format_table(comparison)
    with pytest.raises(ScenarioError, match=r"economics\.currency"):
        load_scenario(SCENARIOS / "baseline.yaml", {"economics.currency": "euros!"})
