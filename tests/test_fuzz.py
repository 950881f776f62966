"""Property-based fuzzing of everything a user hands over: no input crashes the loaders.

Arbitrary bytes, shipped scenarios and experiments with mutated lines, and hostile
``--set`` values go to the loaders and through the CLI in-process (``main([...])``):
each gives a valid object (exit 0 for ``show``) or a clean error (exit 2, one line on
stderr), within a per-example deadline and a bound on the Python memory allocated.
"""

from __future__ import annotations

import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serviceprofit.cli import main
from serviceprofit.model.safe_yaml import YAMLInputError, load_yaml
from serviceprofit.model.scenario import ScenarioError, load_scenario
from serviceprofit.sweeps.experiment import load_experiment

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_TEXTS = [p.read_text() for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
EXPERIMENT_TEXTS = [p.read_text() for p in sorted((ROOT / "experiments").glob("*.yaml"))]
#: Python memory one example may allocate (the billion laughs once took 6 GB).
MEMORY = 64 * 2**20
FUZZ = settings(
    max_examples=200,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: YAML fragments an attacker (or a typo) would try.
NASTY = [
    "&a [*a]",
    "*a",
    "&a x",
    "[" * 40,
    "{" * 40,
    "!!python/object:os.system",
    "!!binary AAAA",
    ".inf",
    "-.nan",
    "true",
    "null",
    "~",
    "1e309",
    "0x1F",
    "'",
    '"',
    "? [1]",
    "<<: *a",
    "- - - - -",
    "\t",
    "\x00",
    "\ufeff",
    "%YAML 1.1",
    "---",
    "...",
    "@",
    "`",
    "1_000",
    "2**63",
    "-1",
    "99999999999999999999",
    "[]",
    "{}",
    "{a: 1, a: 1}",
    "é",
    "\U0001f600",
    "[1]",
    "{preset: [1]}",
    "{preset: {a: 1}}",
    "{phone: true}",
    "[{week: 1, set: {}}]",
]


@pytest.fixture(scope="module", autouse=True)
def _imports_done():
    """Load each shipped file once, so lazy imports (scipy, the CLI's) are not timed."""
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        load_experiment(path)
    main(["show", str(ROOT / "scenarios" / "baseline.yaml")])


def mutate(text: str, data: st.DataObject) -> str:
    """A shipped file with a few lines replaced, duplicated, deleted or spliced with junk."""
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, max(len(lines) - 1, 0)))
        action = data.draw(st.sampled_from(["junk", "dup", "drop", "value"]))
        if action == "dup" and lines:
            lines.insert(i, lines[i])
        elif action == "drop" and lines:
            del lines[i]
        elif action == "value" and lines and ":" in lines[i]:
            key = lines[i].split(":", 1)[0]
            lines[i] = f"{key}: {data.draw(st.sampled_from(NASTY) | st.text(max_size=20))}"
        else:
            lines.insert(i, data.draw(st.sampled_from(NASTY) | st.text(max_size=40)))
    return "\n".join(lines) + "\n"


def run_bounded(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The CLI's exit code and stderr; fails if the call allocates more than MEMORY."""
    tracemalloc.start()
    try:
        code = main(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY, f"{peak / 2**20:.0f} MB allocated"
    return code, capsys.readouterr().err


def assert_clean(code: int, err: str) -> None:
    """Exit 0, or exit 2 with one line on stderr."""
    assert code in (0, 2), err
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert len(err) < 1200


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_load_or_fail_cleanly(blob):
    """Any bytes: the loader returns data or raises YAMLInputError, nothing else."""
    try:
        load_yaml(blob)
    except YAMLInputError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(data=st.data())
def test_mutated_scenarios_through_the_cli(tmp_path, capsys, data):
    """A mutated shipped scenario: `show` prints it (exit 0) or one clean line (exit 2)."""
    text = mutate(data.draw(st.sampled_from(SCENARIO_TEXTS)), data)
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    for parent in ("baseline.yaml", "silo.yaml"):
        (tmp_path / parent).write_text((ROOT / "scenarios" / parent).read_text())
    assert_clean(*run_bounded(["show", str(path)], capsys))
    try:
        load_scenario(path)
    except ScenarioError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(data=st.data())
def test_mutated_experiments_load_or_fail_cleanly(tmp_path, capsys, data):
    """A mutated shipped experiment: an Experiment or an ExperimentError, in bounds; one
    the loader refuses is refused by `sweep` too, in one line, creating nothing."""
    text = mutate(data.draw(st.sampled_from(EXPERIMENT_TEXTS)), data)
    path = tmp_path / "experiments" / "e.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    (tmp_path / "scenarios").mkdir(exist_ok=True)
    for p in (ROOT / "scenarios").glob("*.yaml"):
        (tmp_path / "scenarios" / p.name).write_text(p.read_text())
    tracemalloc.start()
    try:
        load_experiment(path)
        refused = False
    except ScenarioError as exc:
        assert "\n" not in str(exc)
        refused = True
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY
    if refused:
        out = tmp_path / "out"
        code, err = run_bounded(["sweep", str(path), "--out", str(out)], capsys)
        assert code == 2
        assert_clean(code, err)
        assert not out.exists()


@FUZZ
@given(
    key=st.sampled_from(
        [
            "weeks",
            "strategy.process",
            "strategy.process.preset",
            "strategy.organisation",
            "segments.0.share",
            "channels.mix",
            "events",
            "x.y",
        ]
    )
    | st.text(max_size=30),
    value=st.sampled_from(NASTY) | st.text(max_size=60),
)
def test_hostile_set_values_through_the_cli(capsys, key, value):
    """`show --set KEY=VALUE` with hostile keys and values: exit 0 or one clean line."""
    argv = ["show", str(ROOT / "scenarios" / "baseline.yaml"), f"--set={key}={value}"]
    assert_clean(*run_bounded(argv, capsys))
