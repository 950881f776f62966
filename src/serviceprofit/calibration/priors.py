"""Priors: what we believe about a behaviour constant before seeing the firm's figures.

A prior is one of four shapes, each a frozen scipy distribution underneath, so the same
object samples (through pyabc), gives quantiles (for the report's prior bands and the
"not pinned down" check) and is checked against the scenario schema at the door:

- ``uniform``: ``low``, ``high``;
- ``log_uniform``: ``low``, ``high`` (both > 0): equal belief in each order of magnitude,
  the honest prior for a rate known only to within a factor;
- ``normal``: ``mean``, ``sd``;
- ``truncated_normal``: ``mean``, ``sd``, ``low``, ``high``.

The default set (:data:`DEFAULT_PRIORS`) holds the constant that sets the level of each
KPI a firm usually knows. Three of them are marked "calibrated" in docs/ODD.md, section 5:
they were tuned so that the *default* firm lands on the anchors of MODEL.md, which is
exactly why another firm must fit them again; the other two are marked "assumption".
The ODD states no ranges, so the ranges here are ours, each with its reason: rates are
known to within a factor of five either way (log-uniform), log-odds to within two units.
:data:`TARGET_PARAMETERS` says which KPI informs which constant; a calibration fits the
constants its targets inform unless the targets file names its own ``parameters``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = [
    "DEFAULT_PRIORS",
    "PRIOR_KINDS",
    "SERIES_PARAMETERS",
    "TARGET_PARAMETERS",
    "Prior",
    "default_parameters",
]

PRIOR_KINDS = ("uniform", "log_uniform", "normal", "truncated_normal")

#: Quantiles at which an unbounded prior is checked against the scenario's ranges.
TAIL = 0.001


class Prior(BaseModel):
    """One constant's prior (see the module docstring for the shapes and their fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prior: Literal["uniform", "log_uniform", "normal", "truncated_normal"]
    low: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = None
    why: str = ""

    @model_validator(mode="after")
    def _fields(self) -> Prior:
        import math

        needs = {
            "uniform": ("low", "high"),
            "log_uniform": ("low", "high"),
            "normal": ("mean", "sd"),
            "truncated_normal": ("mean", "sd", "low", "high"),
        }[self.prior]
        for name in ("low", "high", "mean", "sd"):
            value = getattr(self, name)
            if name in needs and value is None:
                raise ValueError(f"a {self.prior} prior needs {' and '.join(needs)}")
            if name not in needs and value is not None:
                raise ValueError(f"a {self.prior} prior takes {', '.join(needs)}, not {name}")
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number (got {value})")
        if "low" in needs and not self.high > self.low:  # type: ignore[operator]
            raise ValueError(f"high ({self.high:g}) must be greater than low ({self.low:g})")
        if self.prior == "log_uniform" and self.low <= 0:  # type: ignore[operator]
            raise ValueError(f"a log_uniform prior needs low > 0 (got {self.low:g})")
        if "sd" in needs and not self.sd > 0:  # type: ignore[operator]
            raise ValueError(f"sd must be positive (got {self.sd:g})")
        return self

    def distribution(self) -> Any:
        """The frozen scipy distribution (pyabc's ``RV`` wraps the same one)."""
        from scipy import stats

        low, high, mean, sd = self.low, self.high, self.mean, self.sd
        if self.prior == "uniform":
            return stats.uniform(low, high - low)  # type: ignore[operator]
        if self.prior == "log_uniform":
            return stats.loguniform(low, high)
        if self.prior == "normal":
            return stats.norm(mean, sd)
        a, b = (low - mean) / sd, (high - mean) / sd  # type: ignore[operator]
        return stats.truncnorm(a, b, loc=mean, scale=sd)

    def pyabc_rv(self) -> Any:
        """The prior as a pyabc random variable (same scipy distribution, same arguments)."""
        import pyabc

        low, high, mean, sd = self.low, self.high, self.mean, self.sd
        if self.prior == "uniform":
            return pyabc.RV("uniform", low, high - low)  # type: ignore[operator]
        if self.prior == "log_uniform":
            return pyabc.RV("loguniform", low, high)
        if self.prior == "normal":
            return pyabc.RV("norm", mean, sd)
        a, b = (low - mean) / sd, (high - mean) / sd  # type: ignore[operator]
        return pyabc.RV("truncnorm", a, b, loc=mean, scale=sd)

    def extremes(self) -> tuple[float, float]:
        """The values a calibration can reach: the bounds, or the 0.1% and 99.9% quantiles."""
        dist = self.distribution()
        return float(dist.ppf(TAIL)), float(dist.ppf(1 - TAIL))

    def interval(self, level: float = 0.9) -> tuple[float, float]:
        """The central ``level`` interval of the prior."""
        dist = self.distribution()
        return float(dist.ppf((1 - level) / 2)), float(dist.ppf((1 + level) / 2))

    def describe(self) -> str:
        """``log_uniform(0.0005, 0.0125)``: the prior as one would write it."""
        if self.prior in ("uniform", "log_uniform"):
            return f"{self.prior}({self.low:g}, {self.high:g})"
        if self.prior == "normal":
            return f"normal(mean {self.mean:g}, sd {self.sd:g})"
        return (
            f"truncated_normal(mean {self.mean:g}, sd {self.sd:g}, {self.low:g} to {self.high:g})"
        )


#: The documented default priors (docs/calibration.md has the same table).
DEFAULT_PRIORS: dict[str, Prior] = {
    "behaviour.churn_base": Prior(
        prior="log_uniform",
        low=0.0005,
        high=0.0125,
        why="calibrated to the default firm's ~15% churn (ODD); another firm's level is "
        "known to within a factor of five either way of the default 0.0025",
    ),
    "behaviour.resolution_base": Prior(
        prior="uniform",
        low=-3.5,
        high=0.5,
        why="calibrated to FCR 0.65-0.80 in the default firm (ODD); two log-odds either way "
        "of -1.5 spans FCR from about 0.3 to 0.95",
    ),
    "behaviour.quit_base": Prior(
        prior="log_uniform",
        low=0.001,
        high=0.025,
        why="calibrated to the default firm's ~25% staff turnover (ODD); a factor of five "
        "either way of 0.005",
    ),
    "behaviour.quality_resolved": Prior(
        prior="uniform",
        low=0.7,
        high=1.0,
        why="assumption (ODD): perceived quality of a clean resolution, between 'adequate' "
        "and 'perfect'",
    ),
    "behaviour.issue_rate": Prior(
        prior="log_uniform",
        low=0.03,
        high=0.3,
        why="assumption (ODD): about 5 issues a customer-year; from under 2 to about 15",
    ),
}

#: Summary KPI -> the default constants it informs.
TARGET_PARAMETERS: dict[str, tuple[str, ...]] = {
    "churn_rate_annual": ("behaviour.churn_base",),
    "fcr_mean": ("behaviour.resolution_base",),
    "staff_turnover_annual": ("behaviour.quit_base",),
    "customer_satisfaction_final": ("behaviour.quality_resolved",),
    "nps_final": ("behaviour.quality_resolved",),
    "cost_to_serve_mean": ("behaviour.issue_rate",),
}

#: Weekly metric -> the default constants it informs (for series targets).
SERIES_PARAMETERS: dict[str, tuple[str, ...]] = {
    "churn_rate": ("behaviour.churn_base",),
    "customers_churned": ("behaviour.churn_base",),
    "fcr": ("behaviour.resolution_base",),
    "staff_quits": ("behaviour.quit_base",),
    "customer_satisfaction": ("behaviour.quality_resolved",),
    "nps": ("behaviour.quality_resolved",),
    "contacts": ("behaviour.issue_rate",),
    "cost_to_serve": ("behaviour.issue_rate",),
}


def default_parameters(kpis: list[str], metrics: list[str]) -> dict[str, Prior]:
    """The default constants (and priors) informed by these KPIs and weekly metrics."""
    keys: list[str] = []
    for name in kpis:
        keys += TARGET_PARAMETERS.get(name, ())
    for name in metrics:
        keys += SERIES_PARAMETERS.get(name, ())
    return {key: DEFAULT_PRIORS[key] for key in dict.fromkeys(keys)}
