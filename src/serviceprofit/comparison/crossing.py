"""When the short-term and the long-term winners on cumulative profit trade places.

The service-profit chain's claim is about time: a strategy that saves money now can
lose it later through silent churn (Heskett et al. 1994). The *short-term winner* is
the scenario with the highest mean cumulative profit at week 13 (a quarter, the
horizon of a quarterly review); the *long-term winner* has the highest at the last
week. When they differ, the crossing week is the first week from which the long-term
winner stays ahead for good, found on the mean over replicates and, for a sense of
its uncertainty, in every replicate pair (common random numbers make the pairs
comparable run by run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from serviceprofit.model.result import SHORT_TERM_WEEKS

if TYPE_CHECKING:
    from serviceprofit.comparison.compare import Comparison

__all__ = ["SHORT_TERM_WEEKS", "Crossing", "find_crossing", "first_week_ahead_for_good"]


@dataclass(frozen=True)
class Crossing:
    """The leaders on cumulative profit at week 13 and at the end, and when they cross.

    ``week`` is ``None`` when the short-term and long-term winners are the same
    scenario, or when the long-term winner is never ahead for good in the mean.
    ``replicate_weeks`` holds the crossing week in each replicate pair (``None`` where
    the long-term winner does not end ahead in that pair). ``short_term_lead`` and
    ``long_term_lead`` are each winner's margin in mean cumulative profit over the other
    winner; when one scenario wins both, over ``rival``, the second at the end.
    """

    short_term: str
    long_term: str
    short_term_week: int
    final_week: int
    week: int | None
    replicate_weeks: tuple[int | None, ...]
    short_term_lead: float
    long_term_lead: float
    rival: str


def first_week_ahead_for_good(weeks: np.ndarray, gap: np.ndarray) -> int | None:
    """The first week from which ``gap`` stays above zero to the end, or ``None``."""
    if len(gap) == 0 or gap[-1] <= 0:
        return None
    behind = np.flatnonzero(gap <= 0)
    return int(weeks[0] if len(behind) == 0 else weeks[behind[-1] + 1])


def find_crossing(comparison: Comparison) -> Crossing:
    """The short-term and long-term leaders on mean cumulative profit, and their crossing."""
    weekly = comparison.weekly
    table = weekly.pivot_table(
        index="week", columns=["scenario", "replicate"], values="cumulative_profit"
    )
    weeks = table.index.to_numpy()
    mean = table.T.groupby(level="scenario").mean().T[comparison.names]
    short_week = int(weeks[min(SHORT_TERM_WEEKS, len(weeks)) - 1])
    final_week = int(weeks[-1])
    at_short = mean.loc[short_week]
    at_end = mean.loc[final_week]
    short, long = str(at_short.idxmax()), str(at_end.idxmax())
    if short != long:
        short_rival, long_rival = long, short
    else:
        short_rival = long_rival = str(at_end.drop(long).idxmax())
    week: int | None = None
    replicate_weeks: tuple[int | None, ...] = ()
    if short != long:
        week = first_week_ahead_for_good(weeks, (mean[long] - mean[short]).to_numpy())
        gaps = table[long] - table[short]
        replicate_weeks = tuple(
            first_week_ahead_for_good(weeks, gaps[r].to_numpy()) for r in gaps.columns
        )
    return Crossing(
        short_term=short,
        long_term=long,
        short_term_week=short_week,
        final_week=final_week,
        week=week,
        replicate_weeks=replicate_weeks,
        short_term_lead=float(at_short[short] - at_short[short_rival]),
        long_term_lead=float(at_end[long] - at_end[long_rival]),
        rival=long_rival,
    )
