"""benchmarks/many_cores.py, the scaling benchmark for a lent many-core machine: its
arithmetic, and its parts run small on one thread (the machine it is made for is rarely
at hand, so it must not first break there)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location(
        "many_cores", ROOT / "benchmarks" / "many_cores.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("serial", [0.0, 0.1, 0.35])
def test_the_amdahl_fit_recovers_the_serial_share(serial):
    """Times of T1 (f + (1 - f) / n) give back f."""
    rows = [{"threads": n, "seconds": 4.0 * (serial + (1 - serial) / n)} for n in (1, 2, 4, 8)]
    assert _module().amdahl(rows) == pytest.approx(serial, abs=1e-12)


def test_the_amdahl_fit_needs_one_thread_and_three_counts():
    module = _module()
    assert module.amdahl([{"threads": 2, "seconds": 1.0}, {"threads": 4, "seconds": 0.6}]) is None
    assert module.amdahl([{"threads": 1, "seconds": 1.0}, {"threads": 2, "seconds": 0.6}]) is None


def test_a_split_names_workers_and_threads():
    assert _module().split("4x2") == (4, 2)
    assert _module().split("16x1") == (16, 1)


@pytest.mark.slow
def test_the_benchmark_runs_small_and_saves_its_figures(tmp_path):
    """Every part but the sweep (its workers are spawned processes) at a toy size, one
    thread: figures are written, speed-ups against one thread are 1, rates positive."""
    out = tmp_path / "many.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "many_cores.py"),
            "--threads", "1",
            "--customers", "30000",
            "--weeks", "3",
            "--ensemble-runs", "3",
            "--skip", "sweep",
            "--out", str(out),
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )  # fmt: skip
    figures = json.loads(out.read_text())
    assert figures["machine"]["cpu_count"] >= 1
    assert figures["machine"]["dependencies"]["numba"]  # provenance: versions, scenario
    assert figures["machine"]["scenario"] == "scenarios/baseline.yaml"
    assert figures["hardware"][0]["compiled_effective_cores"] == pytest.approx(1.0)
    assert figures["bandwidth"][0]["gb_per_second"] > 0
    (row,) = figures["threads"]["rows"]
    assert row["speedup"] == 1.0 and row["steps_per_second"] > 0
    assert row["weeks"]["customers"] == 30000 and row["week_1"]["weeks"] == 1
    (run,) = figures["ensemble"]["rows"]
    assert run["runs"] == 3 and run["speedup"] == 1.0
    assert "sweep" not in figures
