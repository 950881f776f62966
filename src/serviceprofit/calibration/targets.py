"""Targets: the firm's observed figures, each with its uncertainty, read and checked at the door.

A targets file (YAML) says what the firm has measured and how sure it is::

    weeks: 52                 # the figures cover the first 52 weeks of the scenario
    scale: 0.25               # calibration runs at a quarter of the firm (see docs)
    targets:
      churn_rate_annual: {value: 0.18, se: 0.01}
      fcr_mean: {range: [0.66, 0.74]}
    series:                   # optional: a weekly or monthly series in a CSV
      file: weekly.csv
      every: month            # `week` or `month`
      window: [0, 51]         # first and last week observed (0-based, inclusive)
      metrics: {churn_rate: {se: 0.004}}
    parameters:               # optional: replaces the default set (priors.py)
      behaviour.churn_base: {prior: log_uniform, low: 0.001, high: 0.01}
    fit: {population: 200, generations: 8, max_minutes: 10, seed: 0}

Summary targets use the run summary's names (``result.SUMMARY_FIELDS``); series
columns use the weekly metric names (``outcomes.WEEKLY``). Each becomes one or more
*statistics* with an observed value and a scale ``sigma``: the standard error, or for a
range the half-width over 1.96 (a range is read as a 95% interval around its midpoint).
The ABC distance divides each difference by its sigma, so a KPI known to within a
point counts as much as one known to within ten points only when both miss by the
same number of their own standard errors.

Every problem is a :class:`TargetsError` naming the file, the key and what is allowed.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from serviceprofit.calibration.priors import Prior, default_parameters
from serviceprofit.model.outcomes import OUTCOMES, WEEKLY
from serviceprofit.model.scenario import Scenario, ScenarioError, first_problem

__all__ = [
    "EXTENSIVE",
    "FLOWS",
    "KPIS",
    "SERIES_METRICS",
    "FitSettings",
    "Statistic",
    "Targets",
    "TargetsError",
    "load_targets",
    "weeks_of_month",
]

#: Summary figures a firm can state as targets: the run summary's outcomes.
KPIS: tuple[str, ...] = OUTCOMES
#: Weekly metrics a series may hold.
SERIES_METRICS: tuple[str, ...] = tuple(m for m in WEEKLY if m != "week")

#: Weekly metrics that are flows (a month's value is their sum; ``outcomes.WEEKLY``).
FLOWS: frozenset[str] = frozenset(m for m, o in WEEKLY.items() if o.aggregate == "sum")

#: Figures that grow with the size of the firm: a run at ``scale`` is divided by it.
EXTENSIVE: frozenset[str] = FLOWS | {
    "customers_final",
    "revenue_total",
    "cost_total",
    "profit_total",
    "profit_first_13_weeks",
    "customers_active",
    "backlog",
    "staff_active",
    "cumulative_profit",
    "cash",
}

#: Allowed ranges of KPIs that are shares or bounded scores.
_BOUNDS: dict[str, tuple[float, float]] = {
    "churn_rate_annual": (0.0, 1.0),
    "fcr_mean": (0.0, 1.0),
    "complaint_share_of_churners": (0.0, 1.0),
    "customer_satisfaction_final": (0.0, 1.0),
    "staff_satisfaction_final": (0.0, 1.0),
    "nps_final": (-100.0, 100.0),
    "staff_turnover_annual": (0.0, math.inf),
    "customers_final": (0.0, math.inf),
    "cost_to_serve_mean": (0.0, math.inf),
}

MAX_FILE_BYTES = 1_000_000
MAX_CSV_BYTES = 5_000_000
#: A range is read as a 95% interval: sigma = half-width / Z95.
Z95 = 1.959963984540054


class TargetsError(ScenarioError):
    """Bad targets input: says where (file, key path) and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """One observed KPI: a value with a standard error, or a range (read as a 95% interval)."""

    value: float | None = None
    se: Annotated[float, Field(gt=0.0)] | None = None
    range: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _one_uncertainty(self) -> Target:
        for name in ("value", "se"):
            v = getattr(self, name)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number (got {v})")
        if (self.se is None) == (self.range is None):
            raise ValueError("give either se (a standard error) or range: [low, high]")
        if self.range is not None:
            low, high = self.range
            if not (math.isfinite(low) and math.isfinite(high)) or not high > low:
                raise ValueError(
                    f"range must be [low, high] with low < high (got {list(self.range)})"
                )
            if self.value is not None and not low <= self.value <= high:
                raise ValueError(f"value {self.value:g} lies outside its range [{low:g}, {high:g}]")
        elif self.value is None:
            raise ValueError("give the observed value with its se")
        return self

    def centre_sigma(self) -> tuple[float, float]:
        """Observed value and its sigma (range: midpoint and half-width / 1.96)."""
        if self.range is not None:
            low, high = self.range
            centre = self.value if self.value is not None else (low + high) / 2
            return centre, (high - low) / 2 / Z95
        return float(self.value), float(self.se)  # type: ignore[arg-type]


class SeriesUncertainty(_Strict):
    se: Annotated[float, Field(gt=0.0)]
    """Standard error of each observation of this metric."""


class Series(_Strict):
    file: str
    """CSV file (relative to the targets file): a `week` or `month` column and metric columns."""
    every: Literal["week", "month"] = "week"
    """`week` (one row per week) or `month` (one row per month, 0-based)."""
    window: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]
    """First and last week observed, 0-based and inclusive."""
    metrics: dict[str, SeriesUncertainty]
    """The columns to fit, each with the standard error of one observation."""

    @model_validator(mode="after")
    def _ordered(self) -> Series:
        if self.window[1] < self.window[0]:
            raise ValueError(
                f"window must be [first, last] with first <= last (got {list(self.window)})"
            )
        if not self.metrics:
            raise ValueError("name at least one metric column to fit")
        return self


class FitSettings(_Strict):
    """How hard to try: particles, generations, tolerance, time, seed."""

    population: Annotated[int, Field(ge=10, le=100_000)] = 200
    """Particles per generation (accepted parameter sets)."""
    generations: Annotated[int, Field(ge=1, le=100)] = 12
    """Most generations (ABC-SMC populations)."""
    tolerance: Annotated[float, Field(gt=0.0)] | None = None
    """Stop once epsilon is at most this (default: the chi-square 95% radius of the targets)."""
    max_minutes: Annotated[float, Field(gt=0.0, le=10_000.0)] = 10.0
    """Stop after this many minutes (the generation under way finishes)."""
    max_simulations: Annotated[int, Field(ge=1)] | None = None
    """Stop after this many model runs in all."""
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    """Seed of the sampler and of every run's seed."""
    predictive_draws: Annotated[int, Field(ge=2, le=10_000)] = 60
    """Posterior draws run again for the posterior-predictive bands."""


class _File(_Strict):
    description: str = ""
    weeks: Annotated[int, Field(ge=1, le=5200)] | None = None
    scale: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    targets: dict[str, Any] = Field(default_factory=dict)
    series: dict[str, Any] | None = None
    parameters: dict[str, Any] | None = None
    fit: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Statistic:
    """One number the calibration matches: a KPI, or one point of a series."""

    key: str
    """Name in the ABC summary-statistics dict (``fcr_mean``, ``series.fcr.m3``)."""
    observed: float
    sigma: float
    label: str
    metric: str
    """The KPI or weekly metric it comes from."""
    weeks: tuple[int, int] | None = None
    """For a series point: the weeks it covers (inclusive)."""


@dataclass(frozen=True)
class Targets:
    """A validated targets file, resolved against its scenario."""

    source: str
    description: str
    weeks: int
    scale: float
    statistics: tuple[Statistic, ...]
    priors: dict[str, Prior]
    fit: FitSettings
    data: dict[str, Any] = field(default_factory=dict)
    """The file as read (for provenance)."""

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.statistics]

    def observed(self) -> dict[str, float]:
        return {s.key: s.observed for s in self.statistics}

    def tolerance(self) -> float:
        """Epsilon to stop at: the fit setting, or the chi-square 95% radius.

        With each difference divided by its sigma, the squared distance of a model
        that matches the firm up to its stated errors is chi-square with one degree
        of freedom per statistic; its 95% quantile is the distance a fit need not beat.
        """
        if self.fit.tolerance is not None:
            return self.fit.tolerance
        from scipy import stats

        return float(math.sqrt(stats.chi2.ppf(0.95, len(self.statistics))))


def weeks_of_month(month: int) -> tuple[int, int]:
    """The weeks (inclusive, 0-based) of month ``month``: week w is in month floor(12 w / 52)."""
    first = math.ceil(month * 52 / 12)
    last = math.ceil((month + 1) * 52 / 12) - 1
    return first, last


def _hint(name: str, allowed: tuple[str, ...] | list[str]) -> str:
    """'did you mean X? ': the closest allowed name, or one that extends or shortens it
    (``fcr`` -> ``fcr_mean``, ``fcr_mean`` -> ``fcr``)."""
    close = difflib.get_close_matches(name, list(allowed), n=1)
    if not close:
        close = [a for a in allowed if a.startswith(name) or name.startswith(a)][:1]
    return f"did you mean {close[0]!r}? " if close else ""


def _describe(model: type[BaseModel]) -> Any:
    """A ``first_problem`` describer that names the allowed keys of ``model``."""

    def describe(error: dict[str, Any]) -> tuple[str, str]:
        key = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            name = str(error["loc"][-1])
            allowed = sorted(model.model_fields)
            return key, f"unknown key; {_hint(name, allowed)}allowed: {', '.join(allowed)}"
        message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
        if error["type"] == "missing":
            return key, "is required"
        got = error.get("input")
        text = repr(got) if not isinstance(got, dict) else "a mapping"
        return key, f"{message} (got {text[:60]})"

    return describe


def _validate(model: type[BaseModel], data: Any, source: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise TargetsError(source, prefix, f"must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        key, problem = first_problem(exc, _describe(model))
        return_key = f"{prefix}.{key}" if prefix and key else prefix or key
        raise TargetsError(source, return_key, problem) from None


def _read_text(path: Path, limit: int, what: str) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise TargetsError(str(path), "", f"no such {what}") from None
    except IsADirectoryError:
        raise TargetsError(str(path), "", f"is a directory, not a {what}") from None
    except OSError as exc:
        raise TargetsError(str(path), "", f"cannot read ({exc.strerror})") from None
    if len(data) > limit:
        raise TargetsError(str(path), "", f"larger than {limit:,} bytes; is this a {what}?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TargetsError(str(path), "", "not UTF-8 text") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    """The targets file through the project's bounded YAML loader (size, depth, aliases)."""
    from serviceprofit.model.safe_yaml import YAMLInputError, load_yaml

    text = _read_text(path, MAX_FILE_BYTES, "targets file")
    try:
        data = load_yaml(text, MAX_FILE_BYTES)
    except YAMLInputError as exc:
        raise TargetsError(str(path), "", str(exc)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TargetsError(str(path), "", "a targets file must be a mapping of keys to values")
    return data


def _summary_statistics(file: _File, source: str) -> list[Statistic]:
    out = []
    for name, raw in file.targets.items():
        key = f"targets.{name}"
        if name not in KPIS:
            raise TargetsError(
                source, key, f"unknown KPI; {_hint(str(name), KPIS)}allowed: {', '.join(KPIS)}"
            )
        target: Target = _validate(Target, raw, source, key)
        centre, sigma = target.centre_sigma()
        low, high = _BOUNDS.get(name, (-math.inf, math.inf))
        if not low <= centre <= high:
            raise TargetsError(
                source,
                key,
                f"value {centre:g} is outside what the KPI can be ({low:g} to {high:g})",
            )
        out.append(Statistic(name, centre, sigma, name, name))
    return out


def _series_statistics(series: Series, source: str, base: Path, weeks: int) -> list[Statistic]:
    import io

    import pandas as pd

    first, last = series.window
    if last >= weeks:
        raise TargetsError(
            source,
            "series.window",
            f"[{first}, {last}] ends after the horizon: weeks 0 to {weeks - 1} are simulated",
        )
    for metric in series.metrics:
        if metric not in SERIES_METRICS:
            raise TargetsError(
                source,
                f"series.metrics.{metric}",
                f"unknown weekly metric; {_hint(metric, SERIES_METRICS)}"
                f"allowed: {', '.join(SERIES_METRICS)}",
            )
    path = (base / series.file).resolve()
    text = _read_text(path, MAX_CSV_BYTES, "CSV file")
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (ValueError, pd.errors.ParserError) as exc:
        raise TargetsError(str(path), "", f"not a readable CSV ({str(exc)[:80]})") from None
    index = series.every
    if index not in frame.columns:
        raise TargetsError(
            str(path), index, f"missing: the series is every {index}, so give a {index!r} column"
        )
    wanted = [index, *series.metrics]
    for column in wanted:
        if column not in frame.columns:
            raise TargetsError(
                str(path),
                column,
                f"missing column; the file has {', '.join(map(str, frame.columns))}",
            )
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | ~values.apply(lambda v: math.isfinite(v) if v == v else False)
        if bad.any():
            row = int(bad.idxmax()) + 2  # header is line 1
            raise TargetsError(str(path), column, f"line {row}: must be a finite number")
        frame[column] = values
    positions = frame[index]
    if not (positions == positions.round()).all() or positions.duplicated().any():
        raise TargetsError(str(path), index, "must be whole, distinct numbers")
    out = []
    for _, row in frame.iterrows():
        at = int(row[index])
        span = (at, at) if index == "week" else weeks_of_month(at)
        if span[0] < first or span[1] > last:
            raise TargetsError(
                str(path),
                index,
                f"{index} {at} (weeks {span[0]}-{span[1]}) lies outside series.window "
                f"[{first}, {last}]",
            )
        for metric, unc in series.metrics.items():
            key = f"series.{metric}.{index[0]}{at}"
            label = f"{metric}, {index} {at}"
            out.append(Statistic(key, float(row[metric]), unc.se, label, metric, span))
    if not out:
        raise TargetsError(str(path), "", "holds no rows")
    return out


def _priors(
    raw: dict[str, Any] | None, defaults: dict[str, Prior], scenario: Scenario, source: str
) -> dict[str, Prior]:
    from serviceprofit.model.keys import flatten

    if raw is None:
        if not defaults:
            raise TargetsError(
                source,
                "parameters",
                "none of these targets informs a default constant; name the parameters to fit "
                "with their priors (see docs/calibration.md)",
            )
        priors = defaults
    else:
        if not raw:
            raise TargetsError(source, "parameters", "name at least one parameter to fit")
        priors = {
            key: _validate(Prior, value, source, f"parameters.{key}") for key, value in raw.items()
        }
    values = flatten(scenario.to_dict())
    for key, prior in priors.items():
        where = f"parameters.{key}"
        if key not in values:
            raise TargetsError(
                source,
                where,
                f"not a scenario key; {_hint(key, list(values))}see docs/scenarios.md",
            )
        current = values[key]
        if isinstance(current, bool) or not isinstance(current, float):
            kind = type(current).__name__
            raise TargetsError(
                source, where, f"holds a {kind}; only real-valued keys can be calibrated"
            )
        for value in prior.extremes():
            try:
                scenario.with_overrides({key: value}, source=source)
            except ScenarioError as exc:
                raise TargetsError(
                    source,
                    where,
                    f"the prior reaches {value:g}, which the key cannot take: {exc.problem}",
                ) from None
    return priors


def load_targets(path: str | Path, scenario: Scenario) -> Targets:
    """Read and check a targets file against ``scenario`` (the one being calibrated)."""
    path = Path(path)
    source = str(path)
    data = _read_yaml(path)
    file: _File = _validate(_File, data, source, "")
    weeks = file.weeks if file.weeks is not None else scenario.weeks
    statistics = _summary_statistics(file, source)
    metrics: list[str] = []
    if file.series is not None:
        series: Series = _validate(Series, file.series, source, "series")
        statistics += _series_statistics(series, source, path.parent, weeks)
        metrics = list(series.metrics)
    if not statistics:
        raise TargetsError(source, "targets", "give at least one observed KPI (or a series)")
    fit: FitSettings = _validate(FitSettings, file.fit, source, "fit")
    defaults = default_parameters([s.metric for s in statistics if s.weeks is None], metrics)
    priors = _priors(file.parameters, defaults, scenario, source)
    return Targets(
        source=source,
        description=file.description,
        weeks=weeks,
        scale=file.scale,
        statistics=tuple(statistics),
        priors=priors,
        fit=fit,
        data=data,
    )
