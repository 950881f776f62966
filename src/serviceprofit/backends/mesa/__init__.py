"""The Mesa backend: readable agents, for teaching and inspection."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from serviceprofit.model.result import RunResult, summarise

if TYPE_CHECKING:
    from collections.abc import Callable

    from serviceprofit.model.scenario import Scenario

__all__ = ["run"]


def run(
    scenario: Scenario,
    seed: int = 0,
    keep_agents: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run ``scenario`` for its weeks on Mesa agents and collect the result."""
    from serviceprofit.backends.mesa.model import ServiceProfitModel

    model = ServiceProfitModel(scenario, seed=seed, keep_agents=keep_agents)
    for week in range(scenario.weeks):
        model.step()
        if progress is not None:
            progress(week + 1, scenario.weeks)
    timeseries = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    return summarise(
        scenario=scenario,
        backend="mesa",
        seed=seed,
        timeseries=timeseries,
        counts=model.totals_counts,
        sums=model.totals_sums,
        customers=pd.DataFrame(model.customer_table()) if keep_agents else None,
        staff=pd.DataFrame(model.staff_table()) if keep_agents else None,
    )
