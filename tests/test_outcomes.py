"""The outcome registry is the one list of what a run reports (serviceprofit.model.outcomes)."""

from __future__ import annotations

import pytest

from serviceprofit.backends.simulate import simulate
from serviceprofit.model.outcomes import (
    INFO,
    MAXIMIZE,
    MINIMIZE,
    OUTCOMES,
    RUN_FIELDS,
    SUMMARY,
    SUMMARY_FIELDS,
    WEEKLY,
    WEEKLY_METRICS,
)
from serviceprofit.model.scenario import Scenario


@pytest.mark.parametrize("backend", ["mesa", "numba"])
def test_registry_is_what_a_run_reports(small: Scenario, backend: str) -> None:
    """Every summary field and weekly metric of a run is declared, and every declared one
    is reported, in the declared order."""
    run = simulate(small.with_overrides({"weeks": 14}), backend=backend, seed=3)
    assert list(run.summary) == list(SUMMARY_FIELDS)
    assert list(run.timeseries.columns) == list(WEEKLY_METRICS)


def test_firm_metrics_are_the_registry() -> None:
    """The firm's metric row is the registry's weekly metrics, not a list of its own."""
    from serviceprofit.model.firm import METRICS

    assert tuple(METRICS) == WEEKLY_METRICS


def test_every_outcome_is_read_the_same_way_everywhere() -> None:
    """Outcomes are the summary fields less those naming the run; each has a direction,
    a report group, and a currency placeholder wherever it is money."""
    assert tuple(f for f in SUMMARY if f not in RUN_FIELDS) == OUTCOMES
    for name in OUTCOMES:
        o = SUMMARY[name]
        assert o.direction in (MAXIMIZE, MINIMIZE, INFO)
        assert o.group in (0, 1, 2, 3)
        assert "money" not in o.unit
    assert SUMMARY["profit_total"].unit_in("EUR") == "EUR"
    assert all(WEEKLY[m].aggregate in ("sum", "mean", "last") for m in WEEKLY_METRICS)


def test_experiments_allow_exactly_the_outcomes() -> None:
    """A sweep may study any outcome and nothing else (the registry's list)."""
    from serviceprofit.sweeps import experiment

    assert experiment.OUTCOMES is OUTCOMES


def test_demo_charts_read_registered_metrics() -> None:
    """The demo's panels draw metrics the registry declares, in its scale."""
    from serviceprofit.demo.charts import measure_series

    row = {m: 0.5 for m in WEEKLY_METRICS}
    assert measure_series([row], "fcr") == [50.0]
    assert measure_series([row], "customers_active") == [0.5]
