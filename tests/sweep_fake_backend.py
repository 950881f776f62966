"""A backend with a known answer, for testing sweeps and their analysis.

``profit_total`` is linear in three process fields (coefficients below), so its Sobol
indices, Morris effects and main effects follow from the coefficients alone;
``churn_rate_annual`` is a pure interaction (empowerment x scripts). The weekly series
``customers_active`` is ``seed % 1000 + 10 * empowerment * week`` over ``SERIES_WEEKS``
weeks, so its mean at a level of empowerment is known. A scenario whose
``self_service`` is above ``FAIL_ABOVE`` raises, to test how failed runs are handled.
Registered by tests with ``monkeypatch.setitem(BACKENDS, "fake", __name__)``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pandas as pd

from serviceprofit.model.result import SUMMARY_FIELDS

COEFFICIENTS = {
    "strategy.process.empowerment": 4.0,
    "strategy.process.scripts": 1.0,
    "strategy.process.self_service": 0.0,
}
SERIES_WEEKS = 6
FAIL_ABOVE = 2.0  # self_service never exceeds 1: tests lower it to make runs fail


def _value(scenario: Any, dotted: str) -> float:
    node = scenario
    for part in dotted.split("."):
        node = getattr(node, part)
    return float(node)


def run(scenario: Any, seed: int = 0, keep_agents: bool = False, progress: Any = None) -> Any:
    if scenario.strategy.process.self_service > FAIL_ABOVE:
        raise RuntimeError("self-service above the failure threshold")
    x = {key: _value(scenario, key) for key in COEFFICIENTS}
    summary: dict[str, Any] = dict.fromkeys(SUMMARY_FIELDS, 0.0)
    summary.update(scenario=scenario.name, backend="fake", seed=seed, weeks=scenario.weeks)
    summary["profit_total"] = sum(COEFFICIENTS[k] * v for k, v in x.items())
    summary["churn_rate_annual"] = x["strategy.process.empowerment"] * x["strategy.process.scripts"]
    summary["customers_final"] = seed % 1000  # ties each row to its seed
    weeks = range(1, SERIES_WEEKS + 1)
    slope = 10.0 * x["strategy.process.empowerment"]
    timeseries = pd.DataFrame(
        {
            "week": list(weeks),
            "customers_active": [seed % 1000 + slope * w for w in weeks],
            "profit": [summary["profit_total"] / SERIES_WEEKS] * SERIES_WEEKS,
        }
    )
    return SimpleNamespace(summary=summary, timeseries=timeseries)
