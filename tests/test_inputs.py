"""Hostile input: every found problem of issue 9 ends in exit code 2 and one line.

Each case is a file or flag that once crashed, hung, ate memory or silently did
something else; the test runs the CLI in-process and checks the exit code, that stderr
is one line naming the file or flag, the rule, and that memory stayed small.
"""

from __future__ import annotations

import math
import tracemalloc

import pandas as pd
import pytest

from serviceprofit.backends.budget import BudgetError, check, estimate
from serviceprofit.cli import main
from serviceprofit.model.result import NonFiniteResultError, _check_finite
from serviceprofit.model.safe_yaml import MAX_DEPTH, YAMLInputError, clip, load_yaml
from serviceprofit.model.scenario import Scenario, ScenarioError, load_scenario, parse_override

BILLION_LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9)
)


def run_cli(argv, capsys):
    """Exit code and stderr of the CLI, with the peak of Python memory it allocated."""
    tracemalloc.start()
    try:
        code = main(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return code, capsys.readouterr().err, peak


CASES = [
    ("laughs.yaml", BILLION_LAUGHS, "more than 10,000 values"),
    ("latin1.yaml", b"weeks: \xff\n", "not UTF-8 text"),
    ("deep.yaml", "a: " + "[" * 2000, f"nested deeper than {MAX_DEPTH} levels"),
    ("deep_block.yaml", "a:\n" + "".join(" " * i + "- \n" for i in range(1, 60)), "nested"),
    ("empty.yaml", "", "is empty"),
    ("list.yaml", "- 1\n- 2\n", "must be a mapping"),
    ("dup.yaml", "weeks: 10\nweeks: 20\n", "line 2: duplicate key 'weeks'"),
    ("self.yaml", "description: &d [*d]\n", "line 1: *d is inside the value &d names"),
    ("bool.yaml", "weeks: true\n", "weeks: must be a valid integer (got True)"),
    ("text.yaml", "weeks: '12'\n", "weeks: must be a valid integer"),
    ("inf.yaml", "strategy: {marketing: {spend_per_week: .inf}}\n", "finite number"),
    ("nul.yaml", "name: a\x00b\n", "NUL"),
    (
        "late.yaml",
        "events: [{week: 200, set: {strategy.organisation: merged}}]\n",
        "events.0.week: week 200 is not in the run; weeks are 0..155",
    ),
    (
        "until.yaml",
        "weeks: 20\nevents: [{week: 5, until: 30, set: {strategy.organisation: merged}}]\n",
        "events.0.until: must be at most the run's weeks (20)",
    ),
    (
        "fixed.yaml",
        "events: [{week: 5, set: {population.customers: 10}}]\n",
        "events.0.set.population.customers: is read once, when the run starts",
    ),
    ("weeks_event.yaml", "events: [{week: 5, set: {weeks: 10}}]\n", "events.0.set.weeks"),
    (
        "together.yaml",
        "weeks: 30\nevents:\n"
        " - {week: 10, until: 25, set: {channels.mix.phone: 0.5, channels.mix.email: 0.15}}\n"
        " - {week: 20, set: {channels.mix.chat: 0.35, channels.mix.email: 0.15}}\n",
        "events 0, 1 (together in week 20): channels.mix: channel shares must sum to 1",
    ),
    ("big.yaml", "description: " + "x" * (1 << 20) + "\n", "larger than 1,048,576 bytes"),
]


@pytest.mark.parametrize(("name", "text", "message"), CASES, ids=[c[0] for c in CASES])
def test_hostile_scenario_gets_one_line_and_exit_2(tmp_path, capsys, name, text, message):
    """A hostile scenario: exit 2, one line naming the file and the rule, small memory."""
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    out = tmp_path / "out"
    code, err, peak = run_cli(["run", str(path), "--out", str(out)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert name in err and message in err
    assert len(err) < 1000
    assert peak < 50 * 2**20
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "S", "--seed", "-1"], "--seed -1: must be 0..2**63-1"),
        (["run", "S", "--seed", str(2**63)], "must be 0..2**63-1"),
        (["run", "S", "--weeks", "0"], "--weeks 0: must be 1..5200"),
        (["run", "S", "--set", "strategy.marketing.spend_per_week=.inf"], "finite number"),
        (["run", "S", "--set", "weeks=true"], "weeks: must be a valid integer"),
        (["run", "S", "--set", "x=" + BILLION_LAUGHS.replace("\n", ", ")], "--set: x"),
        (["run", "S", "--set", "a" + ".a" * 100 + "=1"], "not a scenario key"),
        (["run", "S", "--set", "strategy.process.preset=[1]"], "a preset name must be text"),
        (["claims", "--seeds", "0"], "--seeds 0: must be 1..10,000"),
        (["compare", "S", "--replicates", "100000"], "--replicates 100000: must be 1..10,000"),
        (["run", "S", "--set", "population.customers=50000000"], "use --backend numba"),
    ],
)
def test_hostile_flags_get_one_line_and_exit_2(scenarios_dir, capsys, argv, message):
    """Flags and --set values out of bounds: exit 2 and one line saying what is allowed."""
    argv = [str(scenarios_dir / "baseline.yaml") if a == "S" else a for a in argv]
    code, err, _ = run_cli(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and message in err


def test_analyze_wants_a_sweep_directory(tmp_path, capsys):
    """analyze on a file, or on a directory that holds no sweep: exit 2, one line."""
    file = tmp_path / "x.yaml"
    file.write_text("a: 1\n")
    code, err, _ = run_cli(["analyze", str(file)], capsys)
    assert code == 2 and "not a sweep directory" in err
    code, err, _ = run_cli(["analyze", str(tmp_path)], capsys)
    assert code == 2 and "not a sweep directory" in err


def test_experiment_with_aliases_is_refused(tmp_path, capsys):
    """The billion laughs in an experiment file: refused while parsing."""
    path = tmp_path / "exp.yaml"
    path.write_text(BILLION_LAUGHS.replace("a: &a", "scenario: &a"))
    code, err, peak = run_cli(["sweep", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "more than 10,000 values" in err
    assert peak < 50 * 2**20


def test_experiment_run_count_is_capped(tmp_path, scenarios_dir):
    """A design of more than a million runs is refused at load, with the count."""
    from serviceprofit.sweeps.experiment import ExperimentError, load_experiment

    path = tmp_path / "huge.yaml"
    path.write_text(
        f"scenario: {scenarios_dir / 'baseline.yaml'}\n"
        "factors: {strategy.process.empowerment: {low: 0, high: 1}}\n"
        "design: {method: latin_hypercube, samples: 100000}\nreplicates: 11\n"
    )
    with pytest.raises(ExperimentError, match="1,100,000 runs; at most 1,000,000"):
        load_experiment(path)


def test_loader_bounds_hold_without_expanding():
    """Aliases are charged their expanded size; a shared small value is fine."""
    assert load_yaml("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    with pytest.raises(YAMLInputError, match="more than 10,000 values"):
        load_yaml(BILLION_LAUGHS)
    with pytest.raises(YAMLInputError, match="duplicate key"):
        load_yaml("a: {b: 1, b: 2}\n")


@pytest.mark.parametrize(
    "text",
    ["a: &x [*x]\n", "a: &x {b: [1, *x]}\n", "a: &x\n  b: *x\n", "&top {a: *top}\n"],
)
def test_a_value_containing_itself_is_refused(text):
    """An alias inside the value its anchor names would build a list or mapping that holds
    itself (found by test_fuzz: the scenario's dump then failed with a traceback); an
    alias after the value it names stays fine."""
    with pytest.raises(YAMLInputError, match="a value cannot contain itself"):
        load_yaml(text)
    assert load_yaml("a: &x [1]\nb: [*x, *x]\n") == {"a": [1], "b": [[1], [1]]}


def test_messages_never_repr_unbounded_input():
    """clip bounds the repr of any value, even a graph of shared references."""
    x: list = [0]
    for _ in range(60):
        x = [x, x]
    assert len(clip(x)) <= 60
    assert len(clip("y" * 10**6)) <= 60
    with pytest.raises(ScenarioError) as info:
        Scenario().with_overrides({"weeks": "z" * 100_000})
    assert len(str(info.value)) < 1000
    with pytest.raises(ScenarioError) as info:
        Scenario().with_overrides(dict([parse_override("segments=" + "[z, " * 40 + "]" * 40)]))
    assert len(str(info.value)) < 1000


def test_text_values_are_bounded():
    """A name longer than any label is refused with its limit."""
    with pytest.raises(ScenarioError, match="at most 200 characters"):
        Scenario().with_overrides({"name": "n" * 5000})


def test_events_valid_alone_and_together_load(scenarios_dir):
    """The shipped event scenario still loads: its events lie in the run and combine."""
    scenario = load_scenario(scenarios_dir / "merge_in_year_two.yaml")
    assert scenario.at_week(80).strategy.product.complexity == pytest.approx(1.6)


def test_non_finite_result_is_an_error_not_zero():
    """A NaN in the weekly series or summary fails the run, naming where it first is."""
    ts = pd.DataFrame({"profit": [1.0, math.nan], "customers_active": [1, 1]})
    with pytest.raises(NonFiniteResultError, match=r"profit \(first in week 1\)"):
        _check_finite("x", ts, {"profit_total": 1.0})
    with pytest.raises(NonFiniteResultError, match="profit_total"):
        _check_finite("x", ts.iloc[:1], {"profit_total": math.inf})
    with_text = ts.assign(note=["a", "b"])  # a text column is not a number, nor an error
    with pytest.raises(NonFiniteResultError, match=r"profit \(first in week 1\)"):
        _check_finite("x", with_text, {"profit_total": 1.0})
    _check_finite("x", with_text.iloc[:1], {"profit_total": 1.0})


def test_budget_refuses_with_figure_and_way_out():
    """A job over the memory or time limit is refused with the figure and a way out."""
    big = Scenario().with_overrides({"population.customers": 10_000_000})
    with pytest.raises(BudgetError, match=r"GB of memory.*use --backend numba"):
        check(big, "mesa", memory=8 * 2**30)
    check(big, "numba", memory=8 * 2**30)
    with pytest.raises(BudgetError, match="fewer replicates"):
        check(big, "numba", runs=10_000, memory=8 * 2**30)
    small = estimate(Scenario(), "mesa")
    assert small.seconds < estimate(Scenario(), "mesa", runs=10).seconds
