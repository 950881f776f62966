"""Every output traceable: provenance records, re-running a stored run, shipped names."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import serviceprofit
from serviceprofit import cli, load_scenario
from serviceprofit.model.shipped import shipped_dir, shipped_names
from serviceprofit.provenance import DEPENDENCIES, git_state
from serviceprofit.rerun import rerun
from serviceprofit.sweeps.experiment import load_experiment
from serviceprofit.sweeps.store import read_manifest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--set", "population.customers=200", "--set", "population.staff=3", "--weeks", "8"]
TINY_SET = "set: {population.customers: 200, population.staff: 3, weeks: 8}\n"


def check_record(prov: dict, backend: str) -> None:
    """The fields every provenance record carries, with plausible values."""
    assert prov["serviceprofit"] == serviceprofit.__version__
    assert prov["python"] == ".".join(map(str, sys.version_info[:3]))
    assert set(DEPENDENCIES) <= set(prov["dependencies"])
    assert prov["dependencies"]["numpy"] == __import__("numpy").__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", prov["started"])
    assert prov["host"] and prov["backend"] == backend
    if (ROOT / ".git").exists():  # a checkout (or a worktree: .git is then a file)
        assert re.fullmatch(r"[0-9a-f]{40}", prov["git"]["commit"])
        assert isinstance(prov["git"]["dirty"], bool)


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """`serviceprofit --version` prints the package version."""
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"serviceprofit {serviceprofit.__version__}"


def test_importing_the_package_runs_no_subprocess() -> None:
    """The git query happens on the first record, never at import."""
    code = (
        "import subprocess\n"
        "calls = []\n"
        "real = subprocess.Popen.__init__\n"
        "def spy(self, *a, **k):\n"
        "    calls.append(a)\n"
        "    real(self, *a, **k)\n"
        "subprocess.Popen.__init__ = spy\n"
        "import serviceprofit, serviceprofit.cli, serviceprofit.provenance\n"
        "assert not calls, calls\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_git_state_is_none_outside_a_checkout(tmp_path: Path, monkeypatch) -> None:
    """A package that is not tracked by the repository git finds claims no commit."""
    import serviceprofit.provenance as provenance

    fake = tmp_path / "site" / "serviceprofit"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    monkeypatch.setattr(provenance, "__file__", str(fake / "provenance.py"))
    git_state.cache_clear()
    try:
        assert git_state() is None
    finally:
        git_state.cache_clear()


def test_run_summary_records_provenance(tmp_path: Path) -> None:
    """summary.json carries the record; its scenario YAML rebuilds the very scenario run."""
    out = tmp_path / "run"
    args = ["run", "baseline", "--seed", "5", *TINY, "--set", "strategy.process=cost_minimised"]
    assert cli.main([*args, "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    prov = summary["provenance"]
    check_record(prov, "mesa")
    assert prov["seeds"] == 5 == summary["seed"]
    assert prov["overrides"]["strategy.process"] == "cost_minimised"
    assert prov["command"] == "serviceprofit " + " ".join([*args, "--out", str(out)])
    resolved = load_scenario(yaml.safe_load(prov["scenarios"]["baseline"]))
    expected = load_scenario(
        "baseline",
        {
            "population.customers": 200,
            "population.staff": 3,
            "weeks": 8,
            "strategy.process": "cost_minimised",
        },
    )
    assert resolved == expected


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small comparison of two shipped scenarios, named bare, written to a directory."""
    out = tmp_path_factory.mktemp("compare")
    args = ["compare", "customer_value", "cost_minimised", "--replicates", "2", "--workers", "1"]
    args += ["--backend", "mesa"]
    assert cli.main([*args, *TINY[:4], "--set", "weeks=8", "--out", str(out)]) == 0
    return out


def test_compare_writes_provenance_and_row_ids(compared: Path) -> None:
    """runs.csv has run_id, scenario, seed and backend per row; provenance.json beside it
    has the record with every scenario resolved; report.html says how to reproduce."""
    runs = pd.read_csv(compared / "runs.csv")
    assert list(runs["run_id"]) == list(range(4))
    assert {"scenario", "replicate", "seed", "backend"} <= set(runs.columns)
    prov = json.loads((compared / "provenance.json").read_text())
    check_record(prov, "mesa")
    assert sorted(prov["scenarios"]) == ["cost_minimised", "customer_value"]
    assert prov["seeds"] == sorted(set(runs["seed"]), key=list(runs["seed"]).index)
    report = (compared / "report.html").read_text()
    assert "<summary>How to reproduce</summary>" in report
    assert "serviceprofit compare customer_value cost_minimised" in report
    assert "serviceprofit rerun DIR RUN_ID" in report


def test_rerun_of_a_comparison_row_is_identical(
    compared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-running a stored run gives the same numbers, checked field by field."""
    done = rerun(compared, 3)
    assert done.identical, done.differences
    stored = pd.read_csv(compared / "runs.csv").iloc[3]
    assert done.summary["profit_total"] == stored["profit_total"]
    assert cli.main(["rerun", str(compared), "1"]) == 0
    assert "identical to the stored row" in capsys.readouterr().out


def test_rerun_names_the_differences(tmp_path: Path, compared: Path, capsys) -> None:
    """A row that no longer matches its run is reported, field by field, exit code 1."""
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("runs.csv", "provenance.json"):
        (copy / name).write_bytes((compared / name).read_bytes())
    runs = pd.read_csv(copy / "runs.csv")
    runs.loc[runs.run_id == 0, "customers_final"] += 1
    runs.to_csv(copy / "runs.csv", index=False)
    assert cli.main(["rerun", str(copy), "0"]) == 1
    out = capsys.readouterr().out
    assert "1 differences from the stored row" in out and "customers_final" in out


def test_rerun_refuses_what_it_cannot_rerun(tmp_path: Path, compared: Path, capsys) -> None:
    """No such run, no such directory: one line, exit code 2."""
    assert cli.main(["rerun", str(compared), "99"]) == 2
    assert "no run 99; run ids are 0..3" in capsys.readouterr().err
    assert cli.main(["rerun", str(tmp_path), "0"]) == 2
    assert "not a comparison's directory" in capsys.readouterr().err


def test_sweep_manifest_records_provenance_and_runs_rerun(tmp_path: Path) -> None:
    """A sweep's manifest carries the record outside its fingerprint (a resume still
    matches), and any of its runs re-runs to the same row."""
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(
        "scenario: baseline\n" + TINY_SET + "factors:\n"
        "  strategy.process: [cost_minimised, customer_value]\n"
        "design: grid\nreplicates: 2\nseed: 4\nbackend: mesa\n"
    )
    out = tmp_path / "out"
    command = ["sweep", str(experiment), "--out", str(out), "--workers", "1"]
    assert cli.main(command) == 0
    manifest = read_manifest(out)
    check_record(manifest["provenance"], "mesa")
    assert manifest["provenance"]["seeds"] == 4
    assert manifest["provenance"]["command"] == "serviceprofit " + " ".join(command)
    assert cli.main(command) == 0  # a resume: same fingerprint despite a new record
    for run_id in (0, 3):
        done = rerun(out, run_id)
        assert done.identical, done.differences
        assert done.summary["run_id"] == run_id


def test_bare_names_find_shipped_scenarios_and_experiments(tmp_path: Path, monkeypatch) -> None:
    """`baseline` and `baseline.yaml` name the shipped file; `extends: baseline` too; a
    file of that name in the current directory wins; a path with a folder never falls back."""
    assert "baseline" in shipped_names("scenarios")
    assert "grid_strategy" in shipped_names("experiments")
    shipped = load_scenario(shipped_dir("scenarios") / "merged.yaml")
    monkeypatch.chdir(tmp_path)
    assert load_scenario("merged") == shipped == load_scenario("merged.yaml")
    (tmp_path / "mine.yaml").write_text("extends: merged\nname: mine\nweeks: 10\n")
    assert load_scenario("mine.yaml") == shipped.with_overrides({"name": "mine", "weeks": 10})
    (tmp_path / "merged.yaml").write_text("name: local\n")
    assert load_scenario("merged").name == "local"
    with pytest.raises(serviceprofit.ScenarioError, match="no such file"):
        load_scenario("elsewhere/baseline.yaml")
    assert load_experiment("grid_strategy").name == "grid_strategy"
    with pytest.raises(serviceprofit.ScenarioError, match=r"nor a shipped scenario .*baseline"):
        load_scenario("basline")


def test_top_level_folders_link_to_the_package_data() -> None:
    """The README's scenarios/ and experiments/ paths are the shipped package data."""
    for kind in ("scenarios", "experiments"):
        assert (ROOT / kind).resolve() == shipped_dir(kind).resolve()


def test_claims_out_carries_its_provenance(tmp_path: Path) -> None:
    """`claims --out` records each claim run's scenario as it ran, and its seeds."""
    from serviceprofit.comparison.claims import CLAIM_RUNS

    out = tmp_path / "claims"
    argv = ["claims", "--seeds", "2", "--scale", "0.05", "--backend", "numba", "--out", str(out)]
    cli.main(argv)  # exit 0 or 1 (a claim may fail at this size): the files are what matter
    made = json.loads((out / "provenance.json").read_text())
    runs = pd.read_csv(out / "claims_runs.csv")
    assert set(made["scenarios"]) == set(CLAIM_RUNS)
    assert made["seeds"] == sorted(int(s) for s in runs["seed"].unique())
    assert len(made["seeds"]) == 2 and made["backend"] == "numba" and made["scale"] == 0.05
    baseline = yaml.safe_load(made["scenarios"]["customer_value"])
    assert baseline["population"]["customers"] == round(5000 * 0.05)
