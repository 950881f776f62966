"""Comparing markets: one focal firm's outcomes, its rivals alongside, shares and switching.

A strategist in a market asks "what happens to *us* if we (or a rival) do this?". A market
comparison runs every market ``replicates`` times under common random numbers, as
:func:`serviceprofit.comparison.compare.compare` does for single firms (replicate ``i``
of every market on :func:`serviceprofit.model.seeds.replicate_seed` ``(seed, i)``), and
compares the *focal* firm's outcomes between markets: its summary (the outcome registry,
:data:`serviceprofit.model.outcomes.OUTCOMES`) and its market figures
(:data:`serviceprofit.model.outcomes.MARKET_OUTCOMES`: final share, customers won from
and lost to rivals, customers who left the category), each with its interval and the paired
difference from the baseline market. The rivals' figures come alongside (their means and
intervals, not compared: a rival may exist in one market and not in another), with every
firm's market share over time and who went where, per year.

The result is an ordinary :class:`~serviceprofit.comparison.compare.Comparison` whose
"scenarios" are the focal firm as it stands in each market (named after the market), with
:class:`MarketComparison` in its ``market`` field: the report, the table, ``rerun`` and the
provenance read it from there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from serviceprofit.model.outcomes import MARKET_OUTCOMES, OUTCOMES
from serviceprofit.model.scenario import Scenario, ScenarioError, is_market

if TYPE_CHECKING:
    from serviceprofit.comparison.compare import Comparison
    from serviceprofit.model.market import Market

__all__ = ["RIVAL_OUTCOMES", "MarketComparison", "compare_markets", "market_inputs"]

#: The figures shown for every firm of a market, focal and rivals.
RIVAL_OUTCOMES: tuple[str, ...] = (
    "customers_final",
    "market_share_final",
    "won_from_rivals_total",
    "lost_to_rivals_total",
    "lost_to_outside_total",
    "profit_total",
)
#: A firm's weekly columns kept for the market's figures.
_WEEKLY = ("customers_active", "market_share", "won_from_rivals", "lost_to_rivals",
           "lost_to_outside", "won_from_prospects")  # fmt: skip


@dataclass
class MarketComparison:
    """What a market comparison adds to a :class:`Comparison`.

    ``firms``: one row per (scenario, replicate, firm) with the firm's summary and its
    market figures, and ``focal`` true for the compared firm. ``weekly``: every firm's
    share, customers and flows per week (``scenario, replicate, firm, week, ...``).
    ``switching``: who went where per year in each run (``scenario, replicate, year, from,
    to, people``; from ``prospect`` or a firm, to ``outside`` or a firm).
    """

    firm: str
    markets: list[Market]
    firms: pd.DataFrame
    weekly: pd.DataFrame
    switching: pd.DataFrame

    def flows(self, scenario: str) -> pd.DataFrame:
        """Mean people per year over the replicates, from (rows) to (columns), one block
        per year: ``year, from`` as the index, destinations as columns."""
        runs = self.firms[self.firms.scenario == scenario]["replicate"].nunique()
        rows = self.switching[self.switching.scenario == scenario]
        table = rows.groupby(["year", "from", "to"])["people"].sum().div(max(runs, 1))
        wide = table.unstack("to", fill_value=0.0)
        market = next(m for m in self.markets if m.name == scenario)
        firms = list(market.firms)
        origins = [o for o in ["prospect", *firms] if o in wide.index.get_level_values("from")]
        columns = [c for c in [*firms, "outside"] if c in wide.columns]
        years = sorted(wide.index.get_level_values("year").unique())
        order = pd.MultiIndex.from_product([years, origins], names=["year", "from"])
        return wide.reindex(index=order, columns=columns, fill_value=0.0).fillna(0.0)


def _is_market(item: Any) -> bool:
    from serviceprofit.model.market import Market

    if isinstance(item, Market):
        return True
    if isinstance(item, Scenario):
        return False
    return is_market(item)


def market_inputs(items: Sequence[Any]) -> bool:
    """Whether the compared inputs are markets (every one) or scenarios (every one).

    A mix is refused: a firm alone and a firm among rivals face different worlds, and the
    paired differences would mix the two (compare the firm alone as a one-firm market).
    """
    kinds = [_is_market(item) for item in items if item is not None]
    if any(kinds) and not all(kinds):
        markets = [str(i) for i, k in zip(items, kinds, strict=False) if k]
        scenarios = [str(i) for i, k in zip(items, kinds, strict=False) if not k]
        raise ScenarioError(
            scenarios[0],
            "scenarios",
            f"cannot compare a single-firm scenario with a market ({markets[0]}):"
            " give only market files (with --firm) or only scenario files",
        )
    return bool(kinds) and all(kinds)


def _load(item: Any, overrides: dict[str, Any]) -> tuple[Market, Path | None]:
    from serviceprofit.model.market import Market, load_market

    if isinstance(item, Market):
        return (item.with_overrides(overrides) if overrides else item), None
    from serviceprofit.model.shipped import locate

    return load_market(item, overrides or None), locate(item, "markets")


def _resolve(
    items: Sequence[Any], baseline: Any, overrides: dict[str, Any]
) -> tuple[list[Market], dict[str, Path | None]]:
    """Load the markets, the baseline first, names distinct (as scenarios are)."""
    from serviceprofit.comparison.compare import resolve_compared
    from serviceprofit.model.market import Market

    return resolve_compared(
        items, baseline, lambda item: _load(item, overrides), Market, "market", _is_market
    )


def _check_firm(markets: list[Market], firm: str | None, sources: dict[str, Path | None]) -> str:
    """The focal firm must be named, and be a firm of every market."""
    common = [name for name in markets[0].firms if all(name in m.firms for m in markets)]
    if firm is None:
        listed = ", ".join(common) if common else "none: the markets share no firm"
        raise ScenarioError(
            "--firm",
            "",
            f"comparing markets needs --firm NAME, the firm whose outcomes are compared;"
            f" firms in every market: {listed}",
        )
    for market in markets:
        if firm not in market.firms:
            raise ScenarioError(
                str(sources.get(market.name) or market.name),
                "--firm",
                f"no firm {firm!r} in market {market.name!r}; its firms: "
                + ", ".join(market.firms),
            )
    return firm


def compare_markets(
    markets: Sequence[Any],
    firm: str | None,
    replicates: int,
    backend: str,
    seed: int,
    baseline: Any = None,
    overrides: dict[str, Any] | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Comparison:
    """Run every market ``replicates`` times under common random numbers and compare the
    focal ``firm`` between them (see the module docstring). Called by
    :func:`~serviceprofit.comparison.compare.compare` with ``firm=`` on market inputs;
    ``backend`` is already resolved and ``replicates`` checked there."""
    from serviceprofit.backends.batch import MarketJob, run_market_jobs
    from serviceprofit.backends.market_run import switching_table
    from serviceprofit.comparison.compare import Comparison, _statistics
    from serviceprofit.model.seeds import replicate_seeds
    from serviceprofit.provenance import record

    overrides = dict(overrides or {})
    loaded, sources = _resolve(markets, baseline, overrides)
    firm = _check_firm(loaded, firm, sources)
    seeds = replicate_seeds(seed, replicates)
    made = record(
        scenarios=[_focal(m, firm) for m in loaded],
        backend=backend,
        seeds=seeds,
        overrides=overrides,
        seed=seed,
        firm=firm,
        markets={m.name: m.to_dict() for m in loaded},
    )
    jobs = [MarketJob(m, s) for m in loaded for s in seeds]
    results = run_market_jobs(jobs, backend, workers=workers, progress=progress)

    summaries, weekly, rows, shares, switching = [], [], [], [], []
    for i, (job, result) in enumerate(zip(jobs, results, strict=True)):
        replicate, name = i % replicates, job.market.name
        for firm_name, run in result.firms.items():
            rows.append(
                {**run.summary, "scenario": name, "replicate": replicate,
                 "firm": firm_name, "focal": firm_name == firm}
            )  # fmt: skip
            kept = run.timeseries[["week", *_WEEKLY]]
            shares.append(kept.assign(scenario=name, replicate=replicate, firm=firm_name))
        focal = result.firms[firm]
        summaries.append({"replicate": replicate, **focal.summary, "scenario": name})
        weekly.append(focal.timeseries.assign(scenario=name, replicate=replicate))
        flows = switching_table(list(job.market.firms), result.flows)
        switching.append(flows.assign(scenario=name, replicate=replicate))
    runs = pd.DataFrame(summaries)
    front = ["scenario", "replicate", "firm"]
    runs = runs[[*front, *[c for c in runs.columns if c not in front]]]
    runs.insert(0, "run_id", range(len(runs)))  # the id `serviceprofit rerun` takes
    weekly_frame = pd.concat(weekly, ignore_index=True)
    ahead = ["scenario", "replicate", "week"]
    weekly_frame = weekly_frame[[*ahead, *[c for c in weekly_frame.columns if c not in ahead]]]
    names = [m.name for m in loaded]
    table = _statistics(runs, names, names[0], (*OUTCOMES, *MARKET_OUTCOMES))
    share_frame = pd.concat(shares, ignore_index=True)
    share_frame = share_frame[["scenario", "replicate", "firm", "week", *_WEEKLY]]
    switch_frame = pd.concat(switching, ignore_index=True)
    switch_frame = switch_frame[["scenario", "replicate", "year", "from", "to", "people"]]
    return Comparison(
        scenarios=[_focal(m, firm) for m in loaded],
        baseline=names[0],
        backend=backend,
        seed=seed,
        seeds=seeds,
        runs=runs,
        table=table,
        weekly=weekly_frame,
        sources=sources,
        overrides=overrides,
        provenance=made,
        market=MarketComparison(
            firm=firm,
            markets=loaded,
            firms=_front(pd.DataFrame(rows), ["scenario", "replicate", "firm", "focal"]),
            weekly=share_frame,
            switching=switch_frame,
        ),
    )


def _front(frame: pd.DataFrame, first: list[str]) -> pd.DataFrame:
    return frame[[*first, *[c for c in frame.columns if c not in first]]]


def _focal(market: Market, firm: str) -> Scenario:
    """The focal firm as it stands in ``market``, named after the market (the comparison's
    names are the markets'), described by the market."""
    scenario = market.firms[firm]
    description = market.description or scenario.description
    return scenario.model_copy(update={"name": market.name, "description": description})
