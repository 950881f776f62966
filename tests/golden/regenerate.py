"""Regenerate the fixed-seed regression files after a deliberate change to the model.

    .venv/bin/python tests/golden/regenerate.py

Review the diff of the JSON files before committing: every changed number should be
explained by the change you made.
"""

from __future__ import annotations

import json
from pathlib import Path

from serviceprofit import load_scenario, simulate
from serviceprofit.backends import BACKENDS

HERE = Path(__file__).resolve().parent
SCENARIO = HERE.parents[1] / "scenarios" / "baseline.yaml"
OVERRIDES = {"population.customers": 600, "population.staff": 6, "weeks": 40}
SEED = 7


def golden_path(backend: str) -> Path:
    return HERE / f"{backend}_baseline_seed{SEED}.json"


def regenerate(backend: str) -> dict:
    result = simulate(load_scenario(SCENARIO, OVERRIDES), backend=backend, seed=SEED)
    record = {"summary": result.summary, "last_week": result.timeseries.iloc[-1].to_dict()}
    golden_path(backend).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


if __name__ == "__main__":
    for name in BACKENDS:
        regenerate(name)
