"""The five claims the default calibration must show (MODEL.md), measured over seeds.

Each claim is checked on paired runs: replicate ``i`` of every scenario runs on
:func:`serviceprofit.model.seeds.replicate_seed` ``(seed, i)``, the very run replicate ``i``
of a comparison with the same seed is, so differences between strategies are paired
(common random numbers) and each is judged by a 95% Student-t interval over the seeds.
Nothing here looks at a strategy's name to decide an outcome: the claims are read off
the runs' results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from serviceprofit.backends.batch import Job, run_jobs
from serviceprofit.model.scenario import Scenario, load_scenario
from serviceprofit.model.seeds import replicate_seeds

if TYPE_CHECKING:
    from serviceprofit.model.result import RunResult

__all__ = ["CLAIM_RUNS", "Claim", "ClaimReport", "measure_claims", "scale_firm"]

# name -> (scenario file, overrides); the heavy-marketing pair differs only in spend.
CLAIM_RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "customer_value": ("customer_value.yaml", {}),
    "cost_minimised": ("cost_minimised.yaml", {}),
    "silo": ("silo.yaml", {}),
    "merged": ("merged.yaml", {}),
    "cost_minimised_heavy_marketing": ("cost_minimised_heavy_marketing.yaml", {}),
    "customer_value_heavy_marketing": (
        "customer_value.yaml",
        {"strategy.marketing.spend_per_week": 4000.0},
    ),
}
LEVEL = 0.95


@dataclass
class Claim:
    """One claim: its statement, the measured figures, and whether it holds."""

    number: int
    statement: str
    checks: dict[str, bool] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return all(self.checks.values())


@dataclass
class ClaimReport:
    runs: pd.DataFrame
    claims: list[Claim]
    # each claim run's scenario as it ran (scaled, overrides applied), by claim-run name
    scenarios: dict[str, Scenario] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        return all(c.holds for c in self.claims)


def _row(name: str, replicate: int, result: RunResult) -> dict[str, Any]:
    """A claim run's row: its summary, diagnostics and the totals the claims read."""
    ts = result.timeseries
    return {
        "run": name,
        "replicate": replicate,
        **result.summary,
        **result.diagnostics,
        "acquired_total": float(ts["customers_acquired"].sum()),
        "churned_total": float(ts["customers_churned"].sum()),
        "staff_active_mean": float(ts["staff_active"].mean()),
        "acquired_final_year": float(ts["customers_acquired"].iloc[-52:].sum()),
        "churned_final_year": float(ts["customers_churned"].iloc[-52:].sum()),
        "handoffs_per_contact_mean": float(
            (ts["handoffs_per_contact"] * ts["contacts"]).sum() / max(ts["contacts"].sum(), 1)
        ),
    }


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% Student-t interval."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + LEVEL / 2, len(values) - 1) * stats.sem(values))
    return mean, mean - half, mean + half


def scale_firm(scenario: Scenario, scale: float) -> dict[str, Any]:
    """Overrides that scale a firm: customers, staff and marketing spend together, so the
    ratios that set the KPIs (customers per staff member, acquisitions per customer) stay."""
    if scale == 1.0:
        return {}
    return {
        "population.customers": max(1, round(scenario.population.customers * scale)),
        "population.staff": max(1, round(scenario.population.staff * scale)),
        "strategy.marketing.spend_per_week": scenario.strategy.marketing.spend_per_week * scale,
    }


def _scaled(path: Path, scale: float) -> dict[str, Any]:
    """Overrides that scale a scenario file's firm (see :func:`scale_firm`)."""
    return scale_firm(load_scenario(path), scale) if scale != 1.0 else {}


def measure_claims(
    scenarios_dir: str | Path,
    seeds: int = 10,
    scale: float = 1.0,
    backend: str = "mesa",
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 0,
) -> ClaimReport:
    """Run the claim scenarios over ``seeds`` paired seeds and judge the five claims.

    Replicate ``i`` runs on ``replicate_seed(seed, i)`` (:mod:`serviceprofit.model.seeds`).

    ``scale`` shrinks the firm (customers, staff and marketing spend together) for
    quicker checks; the claims are about the default calibration at scale 1.
    """
    scenarios_dir = Path(scenarios_dir)
    run_seeds = replicate_seeds(seed, seeds)
    names: list[str] = []
    jobs: list[Job] = []
    resolved: dict[str, Scenario] = {}
    for name, (file, overrides) in CLAIM_RUNS.items():
        path = scenarios_dir / file
        scaled = _scaled(path, scale)
        if "strategy.marketing.spend_per_week" in overrides and scale != 1.0:
            overrides = {
                **overrides,
                "strategy.marketing.spend_per_week": overrides["strategy.marketing.spend_per_week"]
                * scale,
            }
        scenario = load_scenario(path, {**scaled, **overrides})
        resolved[name] = scenario
        names += [name] * seeds
        jobs += [Job(scenario, s) for s in run_seeds]
    results = run_jobs(jobs, backend, workers=workers, progress=progress)
    runs = pd.DataFrame(
        [_row(name, i % seeds, r) for i, (name, r) in enumerate(zip(names, results, strict=True))]
    )
    return ClaimReport(runs, judge(runs), resolved)


def judge(runs: pd.DataFrame) -> list[Claim]:
    """Read the five claims off paired runs (one row per run, seeds shared across runs)."""

    def col(run: str, outcome: str) -> np.ndarray:
        return runs[runs["run"] == run].sort_values("replicate")[outcome].to_numpy(dtype=float)

    def paired(a: str, b: str, outcome: str) -> tuple[float, float, float]:
        return _interval(col(a, outcome) - col(b, outcome))

    claims = []
    cm, cv = "cost_minimised", "customer_value"

    c1 = Claim(
        1,
        "A cost-minimised process costs less to serve and earns more in the first "
        "13 weeks, but by week 156 has higher churn, higher staff turnover and "
        "lower cumulative profit than a customer-value process.",
    )
    for outcome, sign in [
        ("cost_to_serve_mean", -1),
        ("profit_first_13_weeks", +1),
        ("churn_rate_annual", +1),
        ("staff_turnover_annual", +1),
        ("profit_total", -1),
    ]:
        mean, low, high = paired(cm, cv, outcome)
        c1.figures[f"{outcome} cost_minimised"] = float(col(cm, outcome).mean())
        c1.figures[f"{outcome} customer_value"] = float(col(cv, outcome).mean())
        c1.figures[f"{outcome} difference low"] = low
        c1.figures[f"{outcome} difference high"] = high
        c1.checks[f"{outcome} {'higher' if sign > 0 else 'lower'}"] = (
            low > 0 if sign > 0 else high < 0
        )
    claims.append(c1)

    c2 = Claim(
        2,
        "A merged engagement department has higher first-contact resolution, "
        "fewer handoffs and lower churn than silos, at equal headcount.",
    )
    for outcome, sign in [
        ("fcr_mean", +1),
        ("handoffs_per_contact_mean", -1),
        ("churn_rate_annual", -1),
    ]:
        mean, low, high = paired("merged", "silo", outcome)
        c2.figures[f"{outcome} merged"] = float(col("merged", outcome).mean())
        c2.figures[f"{outcome} silo"] = float(col("silo", outcome).mean())
        c2.checks[f"{outcome} {'higher' if sign > 0 else 'lower'}"] = (
            low > 0 if sign > 0 else high < 0
        )
    headcount_gap = _interval(
        col("merged", "staff_active_mean") / col("silo", "staff_active_mean") - 1.0
    )
    c2.figures["staff_active_mean merged"] = float(col("merged", "staff_active_mean").mean())
    c2.figures["staff_active_mean silo"] = float(col("silo", "staff_active_mean").mean())
    c2.checks["equal headcount (means within 5%)"] = abs(headcount_gap[0]) < 0.05
    claims.append(c2)

    c3 = Claim(3, "Most churners never complain (in every strategy run).")
    for run in CLAIM_RUNS:
        mean, low, high = _interval(col(run, "complaint_share_of_churners"))
        c3.figures[f"complaint share of churners {run}"] = mean
        c3.checks[f"{run} upper 95% bound below 0.5"] = high < 0.5
    claims.append(c3)

    c4 = Claim(
        4,
        "More marketing under a cost-minimised process buys customers who leak "
        "out: in the final year most of the extra inflow of customers is offset by "
        "extra churn, far more than under a customer-value process (the leaky "
        "bucket, read as flows over the last 52 weeks).",
    )
    heavy_cm, heavy_cv = "cost_minimised_heavy_marketing", "customer_value_heavy_marketing"

    def leak(heavy: str, base: str, span: str) -> np.ndarray:
        extra_churn = col(heavy, f"churned_{span}") - col(base, f"churned_{span}")
        extra_inflow = col(heavy, f"acquired_{span}") - col(base, f"acquired_{span}")
        return extra_churn / extra_inflow

    share_cm = _interval(leak(heavy_cm, cm, "final_year"))
    share_cv = _interval(leak(heavy_cv, cv, "final_year"))
    gap = _interval(leak(heavy_cm, cm, "final_year") - leak(heavy_cv, cv, "final_year"))
    c4.figures.update(
        {
            "extra customers acquired over 156 weeks, cost_minimised": float(
                (col(heavy_cm, "acquired_total") - col(cm, "acquired_total")).mean()
            ),
            "extra customers at week 156, cost_minimised": float(
                (col(heavy_cm, "customers_final") - col(cm, "customers_final")).mean()
            ),
            "share of all extra acquisition lost by week 156, cost_minimised": float(
                leak(heavy_cm, cm, "total").mean()
            ),
            "share of all extra acquisition lost by week 156, customer_value": float(
                leak(heavy_cv, cv, "total").mean()
            ),
            "final-year extra churn / extra inflow, cost_minimised": share_cm[0],
            "final-year extra churn / extra inflow, customer_value": share_cv[0],
        }
    )
    c4.checks["cost_minimised: final-year extra churn offsets at least half the extra inflow"] = (
        share_cm[1] >= 0.5
    )
    c4.checks["cost_minimised leaks more of it than customer_value"] = gap[1] > 0
    claims.append(c4)

    c5 = Claim(5, "Magnitudes in the range of published service-operations figures.")
    fcr = _interval(col(cv, "fcr_mean"))
    first = col(cv, "experience_resolved_first")
    handed = col(cv, "experience_resolved_after_handoff")
    drop = _interval(1.0 - handed / first)
    defect_first = col(cv, "defection_26w_resolved_first")
    defect_unresolved = col(cv, "defection_26w_unresolved")
    ratio = _interval(defect_unresolved / defect_first)
    c5.figures.update(
        {
            "fcr customer_value": fcr[0],
            "experience resolved first": float(first.mean()),
            "experience resolved after handoff": float(handed.mean()),
            "handoff experience drop": drop[0],
            "26-week defection after first-contact resolution": float(defect_first.mean()),
            "26-week defection when unresolved": float(defect_unresolved.mean()),
            "defection ratio unresolved / first": ratio[0],
        }
    )
    c5.checks["fcr within 0.65-0.80"] = 0.65 <= fcr[0] <= 0.80
    c5.checks["handed-off contact at least 5% less satisfying"] = drop[1] >= 0.05
    c5.checks["unresolved at least 2.5x likelier to defect"] = ratio[1] >= 2.5
    claims.append(c5)
    return claims
