"""Re-running one run of a comparison or a sweep from its stored row, and checking it.

A run is a pure function of (resolved scenario, backend, seed). A comparison's
directory keeps each scenario resolved to YAML in ``provenance.json`` and each run's
``run_id``, ``scenario``, ``backend`` and ``seed`` in ``runs.csv``; a sweep's keeps the
validated experiment and its resolved base scenario in ``manifest.json`` and the
design in ``design.parquet``. So any one run can be rebuilt from what the directory
holds, not from files that may have changed since, and its summary compared with the
stored row: identical numbers say the run is reproduced, differences are named.

A sweep's run is rebuilt by the very code the sweep used (its batch builder and
``run_batch``), so what is checked is the sweep's own rule, not a copy of it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serviceprofit.sweeps.experiment import ExperimentError

__all__ = ["Rerun", "rerun"]

# Columns of a stored row that are not results of the model.
NOT_RESULTS = frozenset({"run_seconds"})


@dataclass
class Rerun:
    """One re-run: the stored row, the fresh summary, and where they differ."""

    directory: Path
    run_id: int
    kind: str
    stored: dict[str, Any]
    summary: dict[str, Any]
    differences: list[tuple[str, Any, Any]]

    @property
    def identical(self) -> bool:
        return not self.differences


def _same(a: Any, b: Any) -> bool:
    missing_a = a is None or (isinstance(a, float) and math.isnan(a))
    missing_b = b is None or (isinstance(b, float) and math.isnan(b))
    if missing_a or missing_b:
        return missing_a and missing_b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return str(a) == str(b)


def _plain(value: Any) -> Any:
    """A numpy scalar from a table as a Python value."""
    return value.item() if hasattr(value, "item") else value


def _compare(stored: dict[str, Any], fresh: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    keys = [k for k in fresh if k in stored and k not in NOT_RESULTS]
    return [(k, stored[k], fresh[k]) for k in keys if not _same(stored[k], fresh[k])]


def _bad(directory: Path, problem: str) -> ExperimentError:
    return ExperimentError(str(directory), "", problem)


def _rerun_comparison(directory: Path, run_id: int) -> Rerun:
    import pandas as pd
    import yaml

    from serviceprofit.backends.simulate import simulate
    from serviceprofit.model.scenario import load_scenario

    try:
        provenance = json.loads((directory / "provenance.json").read_text())
        runs = pd.read_csv(directory / "runs.csv")
    except FileNotFoundError as exc:
        missing = Path(exc.filename).name
        raise _bad(directory, f"no {missing}: not a comparison's directory") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(directory, f"unreadable provenance.json or runs.csv ({exc})") from None
    if "run_id" not in runs.columns:
        raise _bad(directory, "runs.csv has no run_id column (written by an older version)")
    hit = runs[runs["run_id"] == run_id]
    if hit.empty:
        raise _bad(directory, f"no run {run_id}; run ids are 0..{len(runs) - 1}")
    stored = {k: _plain(v) for k, v in hit.iloc[0].items()}
    if provenance.get("markets"):  # compare --firm: the focal firm of a market run
        return _rerun_market(directory, run_id, provenance, stored)
    text = provenance.get("scenarios", {}).get(stored["scenario"])
    if text is None:
        raise _bad(directory, f"provenance.json has no scenario {stored['scenario']!r}")
    scenario = load_scenario(yaml.safe_load(text))
    drawn = provenance.get("posterior_parameters")
    if drawn:  # compare --posterior: the replicate's constants were drawn from a posterior
        scenario = scenario.with_overrides(drawn[int(stored["replicate"])], source="posterior draw")
    result = simulate(scenario, backend=str(stored["backend"]), seed=int(stored["seed"]))
    summary = dict(result.summary)
    return Rerun(directory, run_id, "comparison", stored, summary, _compare(stored, summary))


def _rerun_market(
    directory: Path, run_id: int, provenance: dict[str, Any], stored: dict[str, Any]
) -> Rerun:
    """A market comparison's run: the whole market again, the focal firm's summary checked."""
    from serviceprofit.backends.simulate import simulate_market
    from serviceprofit.model.market import load_resolved_market

    data = provenance["markets"].get(stored["scenario"])
    if data is None:
        raise _bad(directory, f"provenance.json has no market {stored['scenario']!r}")
    market = load_resolved_market(data)
    result = simulate_market(market, backend=str(stored["backend"]), seed=int(stored["seed"]))
    summary = dict(result.firms[str(provenance["firm"])].summary)
    summary["scenario"] = stored["scenario"]  # the comparison names the firm by its market
    return Rerun(directory, run_id, "comparison", stored, summary, _compare(stored, summary))


def _rerun_sweep(directory: Path, run_id: int) -> Rerun:
    from serviceprofit.model.scenario import load_scenario
    from serviceprofit.sweeps.experiment import Experiment
    from serviceprofit.sweeps.runs import run_batch
    from serviceprofit.sweeps.store import load_design, load_runs, read_manifest
    from serviceprofit.sweeps.sweep import _batches

    manifest = read_manifest(directory)
    experiment = Experiment.model_validate(manifest["experiment"])
    base = manifest["base_scenario"]
    if experiment.firm is not None:  # a market sweep: its base is the resolved market
        from serviceprofit.model.market import load_resolved_market

        experiment._base = load_resolved_market(base)
    else:
        experiment._base = load_scenario(base)
    total = manifest["runs_total"]
    if not 0 <= run_id < total:
        raise _bad(directory, f"no run {run_id}; run ids are 0..{total - 1}")
    runs = load_runs(directory)
    hit = runs[runs["run_id"] == run_id]
    if hit.empty:
        raise _bad(directory, f"run {run_id} is not finished yet: resume the sweep first")
    stored = {k: _plain(v) for k, v in hit.iloc[0].items()}
    unit = load_design(directory)[[f"u:{n}" for n in experiment.names]].to_numpy()
    batch = next(_batches(experiment, unit, [run_id], 1, keep_timeseries=False))
    result = run_batch(batch)
    if result.failures:
        raise _bad(directory, f"run {run_id} failed: {result.failures[0][1]}")
    fresh = result.rows[0]
    summary = {k: v for k, v in fresh.items() if k not in NOT_RESULTS}
    return Rerun(directory, run_id, "sweep", stored, summary, _compare(stored, fresh))


def rerun(directory: str | Path, run_id: int) -> Rerun:
    """Re-run run ``run_id`` of a comparison's or a sweep's directory and check it.

    Raises :class:`~serviceprofit.sweeps.experiment.ExperimentError` (one line, naming the
    directory) when the directory is neither, or holds no such run.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise _bad(directory, "no such directory")
    if (directory / "manifest.json").exists():
        return _rerun_sweep(directory, run_id)
    return _rerun_comparison(directory, run_id)
