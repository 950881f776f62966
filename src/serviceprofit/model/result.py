"""What a run returns: the weekly time series, the run summary, and diagnostics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from serviceprofit.model.outcomes import SUMMARY_FIELDS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from serviceprofit.model.scenario import Scenario

__all__ = [
    "MIN_WEEKS",
    "SHORT_TERM_WEEKS",
    "SUMMARY_FIELDS",
    "NonFiniteResultError",
    "RunResult",
    "summarise",
]


OUTCOME_NAMES = ("resolved_first", "resolved_later", "unresolved")

# A quarter: the short-term horizon of ``profit_first_13_weeks`` and of the crossing of
# short- and long-term winners, and the fewest weeks an annual rate is extrapolated from
# (over fewer, one quit or one churner reads as a large annual rate).
SHORT_TERM_WEEKS = 13

# Summary fields that a run shorter than this many weeks cannot measure: ``None`` there.
MIN_WEEKS: dict[str, int] = {
    "churn_rate_annual": SHORT_TERM_WEEKS,
    "staff_turnover_annual": SHORT_TERM_WEEKS,
    "profit_first_13_weeks": SHORT_TERM_WEEKS,
    "customer_lifetime_value": SHORT_TERM_WEEKS,
}


@dataclass
class RunResult:
    """One run: ``timeseries`` (one row per week), ``summary`` (one record), and more.

    ``diagnostics`` holds the per-contact figures behind the calibration claims;
    ``customers`` and ``staff`` are the final agent tables when asked for.
    """

    timeseries: pd.DataFrame
    summary: dict[str, Any]
    diagnostics: dict[str, float] = field(default_factory=dict)
    customers: pd.DataFrame | None = None
    staff: pd.DataFrame | None = None


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _share(num: float, den: float) -> float | None:
    """A summary ratio, or ``None`` when nothing was there to measure (no contacts, no churn)."""
    return num / den if den else None


def summarise(
    *,
    scenario: Scenario,
    backend: str,
    seed: int,
    timeseries: pd.DataFrame,
    counts: Sequence[int],
    sums: Sequence[float],
    customers: pd.DataFrame | None = None,
    staff: pd.DataFrame | None = None,
    rows: tuple[np.ndarray, list[str]] | None = None,
) -> RunResult:
    """Reduce a run's weekly rows and totals to MODEL.md's summary record.

    A field the run cannot measure is ``None``, never a stand-in number: the fields in
    :data:`MIN_WEEKS` of a shorter run, and ratios with nothing to measure (first-contact
    resolution without contacts, the complaint share without churners, lifetime value
    without churn). ``counts`` and ``sums`` are the run's tallies summed over the weeks,
    indexed as in :mod:`serviceprofit.model.week`. ``rows`` is ``timeseries`` as
    :func:`weekly_rows` reads it, from a caller that has the numbers already (the numba
    backend's history): reading them back from the frame costs more than the rest of the
    summary (pandas builds a series of the columns' dtypes).
    """
    from serviceprofit.model.week import (
        C_AT_RISK,
        C_CHURNED,
        C_CHURNED_COMPLAINED,
        C_CUSTOMERS_START,
        C_DEFECTED,
        C_EXPERIENCE_FIRST_N,
        C_EXPERIENCE_HANDOFF_N,
        C_FIRST_CONTACTS,
        C_FIRST_RESOLVED,
        C_STAFF_QUITS,
        S_EXPERIENCE_FIRST,
        S_EXPERIENCE_HANDOFF,
    )

    ts = timeseries
    weeks = len(ts)
    # numpy columns: the same sums as pandas' (numpy's pairwise sum of the same values),
    # without pandas' overhead per call, which a small compiled run would notice. The
    # weekly rows are read as one float64 array (integer counts are exact as floats),
    # column by column contiguous: one pandas call where a column at a time cost about
    # 0.3 ms a run
    rows, names = weekly_rows(ts) if rows is None else rows
    index = {name: i for i, name in enumerate(names)}
    col = {
        name: rows[:, index[name]]
        for name in (
            "customers_active",
            "customer_satisfaction",
            "nps",
            "staff_satisfaction",
            "staff_active",
            "revenue",
            "cost_total",
            "profit",
            "cost_to_serve",
            "contacts",
        )
    }
    last = {name: values[-1] for name, values in col.items()}
    weekly_churn = _ratio(counts[C_CHURNED], counts[C_CUSTOMERS_START])
    customer_weeks = float(col["customers_active"].sum())
    mean_staff = float(col["staff_active"].mean())
    revenue_per_customer_week = _ratio(float(col["revenue"].sum()), customer_weeks)
    service_cost = float((col["cost_to_serve"] * col["contacts"]).sum())
    summary = {
        "scenario": scenario.name,
        "backend": backend,
        "seed": int(seed),
        "weeks": weeks,
        "customers_final": int(last["customers_active"]),
        "churn_rate_annual": 1.0 - (1.0 - weekly_churn) ** 52,
        "customer_satisfaction_final": float(last["customer_satisfaction"]),
        "nps_final": float(last["nps"]),
        "fcr_mean": _share(counts[C_FIRST_RESOLVED], counts[C_FIRST_CONTACTS]),
        "staff_turnover_annual": _ratio(counts[C_STAFF_QUITS], mean_staff) * 52.0 / weeks,
        "staff_satisfaction_final": float(last["staff_satisfaction"]),
        "revenue_total": float(col["revenue"].sum()),
        "cost_total": float(col["cost_total"].sum()),
        "profit_total": float(col["profit"].sum()),
        "profit_first_13_weeks": float(col["profit"][:SHORT_TERM_WEEKS].sum()),
        "cost_to_serve_mean": _share(service_cost, float(col["contacts"].sum())),
        "complaint_share_of_churners": _share(counts[C_CHURNED_COMPLAINED], counts[C_CHURNED]),
        "customer_lifetime_value": _share(revenue_per_customer_week, weekly_churn),
    }
    for key, needed in MIN_WEEKS.items():
        if weeks < needed:
            summary[key] = None
    diagnostics = {
        "experience_resolved_first": _ratio(sums[S_EXPERIENCE_FIRST], counts[C_EXPERIENCE_FIRST_N]),
        "experience_resolved_after_handoff": _ratio(
            sums[S_EXPERIENCE_HANDOFF], counts[C_EXPERIENCE_HANDOFF_N]
        ),
    }
    for i, name in enumerate(OUTCOME_NAMES, start=1):
        hazard = _ratio(counts[C_DEFECTED + i], counts[C_AT_RISK + i])
        diagnostics[f"defection_26w_{name}"] = 1.0 - (1.0 - hazard) ** 26
    _check_finite(scenario.name, ts, summary, (rows, names))
    return RunResult(ts, summary, diagnostics, customers, staff)


def weekly_rows(ts: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """A run's weekly numbers as one float64 array (each column contiguous) and the
    names of its columns: every column when all are numbers (one pandas call), else
    the numeric ones (text is not a number). :func:`summarise` reads them so."""
    numeric = [name for name, dtype in ts.dtypes.items() if dtype.kind in "biuf"]
    frame = ts if len(numeric) == ts.shape[1] else ts[numeric]
    return np.asfortranarray(frame.to_numpy(dtype=np.float64)), numeric


class NonFiniteResultError(ValueError):
    """A run produced NaN or infinity: its numbers mean nothing, so it is not a result."""


def _check_finite(
    name: str,
    ts: pd.DataFrame,
    summary: dict[str, Any],
    rows: tuple[np.ndarray, list[str]] | None = None,
) -> None:
    """Fail a run whose weekly series ``ts`` (``rows``: :func:`weekly_rows` of it, if
    already read) or summary holds NaN or infinity.

    Extreme (but allowed) parameters can overflow the model's arithmetic; reporting such
    a total as 0 would be a wrong answer that looks like a right one. (Integer columns,
    read as floats, are always finite.)
    """
    bad = [k for k, v in summary.items() if isinstance(v, float) and not math.isfinite(v)]
    values, names = weekly_rows(ts) if rows is None else rows
    finite = np.isfinite(values)
    if not finite.all():
        week, column = np.argwhere(~finite)[0]
        bad.append(f"{names[int(column)]} (first in week {int(week)})")
    if bad:
        raise NonFiniteResultError(
            f"scenario {name}: the run produced NaN or infinity in {', '.join(bad[:4])};"
            " the scenario's values drive the model out of range (check the largest ones)"
        )
