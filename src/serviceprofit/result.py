"""What a run returns: the weekly time series, the run summary, and diagnostics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .scenario import Scenario

__all__ = ["SUMMARY_FIELDS", "RunResult", "summarise"]

SUMMARY_FIELDS: tuple[str, ...] = (
    "scenario",
    "backend",
    "seed",
    "weeks",
    "customers_final",
    "churn_rate_annual",
    "customer_satisfaction_final",
    "nps_final",
    "fcr_mean",
    "staff_turnover_annual",
    "staff_satisfaction_final",
    "revenue_total",
    "cost_total",
    "profit_total",
    "profit_first_13_weeks",
    "cost_to_serve_mean",
    "complaint_share_of_churners",
    "customer_lifetime_value",
)

OUTCOME_NAMES = ("resolved_first", "resolved_later", "unresolved")


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
) -> RunResult:
    """Reduce a run's weekly rows and its tallies summed over the weeks (``counts`` and
    ``sums``, indexed as in :mod:`serviceprofit.week`) to the summary record."""
    from .week import (
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
    last = ts.iloc[-1]
    weekly_churn = _ratio(counts[C_CHURNED], counts[C_CUSTOMERS_START])
    customer_weeks = float(ts["customers_active"].sum())
    mean_staff = float(ts["staff_active"].mean())
    revenue_per_customer_week = _ratio(float(ts["revenue"].sum()), customer_weeks)
    service_cost = float((ts["cost_to_serve"] * ts["contacts"]).sum())
    summary = {
        "scenario": scenario.name,
        "backend": backend,
        "seed": int(seed),
        "weeks": weeks,
        "customers_final": int(last["customers_active"]),
        "churn_rate_annual": 1.0 - (1.0 - weekly_churn) ** 52,
        "customer_satisfaction_final": float(last["customer_satisfaction"]),
        "nps_final": float(last["nps"]),
        "fcr_mean": _ratio(counts[C_FIRST_RESOLVED], counts[C_FIRST_CONTACTS]),
        "staff_turnover_annual": _ratio(counts[C_STAFF_QUITS], mean_staff) * 52.0 / weeks,
        "staff_satisfaction_final": float(last["staff_satisfaction"]),
        "revenue_total": float(ts["revenue"].sum()),
        "cost_total": float(ts["cost_total"].sum()),
        "profit_total": float(ts["profit"].sum()),
        "profit_first_13_weeks": float(ts["profit"].iloc[:13].sum()),
        "cost_to_serve_mean": _ratio(service_cost, float(ts["contacts"].sum())),
        "complaint_share_of_churners": _ratio(counts[C_CHURNED_COMPLAINED], counts[C_CHURNED]),
        "customer_lifetime_value": _ratio(revenue_per_customer_week, weekly_churn),
    }
    diagnostics = {
        "experience_resolved_first": _ratio(sums[S_EXPERIENCE_FIRST], counts[C_EXPERIENCE_FIRST_N]),
        "experience_resolved_after_handoff": _ratio(
            sums[S_EXPERIENCE_HANDOFF], counts[C_EXPERIENCE_HANDOFF_N]
        ),
    }
    for i, name in enumerate(OUTCOME_NAMES, start=1):
        hazard = _ratio(counts[C_DEFECTED + i], counts[C_AT_RISK + i])
        diagnostics[f"defection_26w_{name}"] = 1.0 - (1.0 - hazard) ** 26
    for key, value in summary.items():
        if isinstance(value, float) and not math.isfinite(value):
            summary[key] = 0.0
    return RunResult(ts, summary, diagnostics, customers, staff)
