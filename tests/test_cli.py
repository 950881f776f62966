"""The command line: results written, bad input answered with exit code 2 and one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from serviceprofit.cli import main
from serviceprofit.model.firm import METRICS
from serviceprofit.model.result import SUMMARY_FIELDS

SMALL = ["--set", "population.customers=300", "--set", "population.staff=4", "--weeks", "20"]


def test_run_writes_timeseries_summary_and_chain(tmp_path, scenarios_dir, capsys):
    """`serviceprofit run --out DIR` writes the three files and prints a summary."""
    out = tmp_path / "out"
    assert main(["run", str(scenarios_dir / "baseline.yaml"), *SMALL, "--out", str(out)]) == 0
    ts = pd.read_csv(out / "timeseries.csv")
    assert list(ts.columns) == list(METRICS)
    assert len(ts) == 20
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary) == [*SUMMARY_FIELDS, "provenance"]
    assert (out / "chain.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "fcr_mean" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "strategy.proces=merged"], "did you mean 'process'"),
        (["--set", "nonsense"], "expected KEY=VALUE"),
        (["--weeks", "0"], "weeks"),
        (["--backend", "gpu"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_without_traceback(scenarios_dir, args, message):
    """Bad input: exit code 2, a clear message on stderr, no traceback."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "serviceprofit.cli",
            "run",
            str(scenarios_dir / "baseline.yaml"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unwritable_out_is_refused_before_running(tmp_path, scenarios_dir, capsys):
    """--out naming a file is refused up front, before any simulation runs."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["run", str(scenarios_dir / "baseline.yaml"), "--out", str(blocker)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_show_prints_the_resolved_scenario(scenarios_dir, capsys):
    """`serviceprofit show` prints every preset value resolved."""
    assert main(["show", str(scenarios_dir / "cost_minimised.yaml")]) == 0
    out = capsys.readouterr().out
    assert "preset: cost_minimised" in out and "handle_time: 0.4" in out
