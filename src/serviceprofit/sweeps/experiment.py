"""Experiments: what varies in a sweep, read from YAML and checked at the door.

An experiment names a base scenario (a path relative to the experiment file), fixed
changes to it (``set``), the factors that vary (dotted scenario keys, the same
vocabulary as ``--set``), a design (``grid``, ``latin_hypercube``, ``sobol``,
``morris``), replicates, a backend, a seed and the outcomes of interest (run-summary
fields). It says nothing about where the runs happen: that is the evaluator's business
(the EMA Workbench keeps the two apart, and so do we).

Every factor is checked by applying the values the design can reach (a range's ends,
each level, a distribution's extreme quantiles) to the base scenario and validating the
result against the :class:`~serviceprofit.model.scenario.Scenario` schema, which rejects keys
it does not know. A factor that names no scenario key, a range a key cannot take or an
unknown outcome is reported as :class:`ExperimentError` naming the file and the key.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from serviceprofit.model.keys import nearest
from serviceprofit.model.outcomes import MARKET_OUTCOMES, OUTCOMES
from serviceprofit.model.safe_yaml import clip
from serviceprofit.model.scenario import (
    Scenario,
    ScenarioError,
    Text,
    _Strict,
    first_problem,
    is_market,
    load_scenario,
    read_mapping,
)
from serviceprofit.model.shipped import locate, not_found

if TYPE_CHECKING:
    from serviceprofit.model.market import Market

__all__ = [
    "Experiment",
    "ExperimentError",
    "Factor",
    "load_experiment",
]

#: Unbounded distributions are sampled between these quantiles, so that a design point
#: at 0 or 1 (Morris levels, grid ends) maps to a finite, plausible value.
TAIL = 0.001


#: Most runs (design points times replicates) one experiment may ask for: a million
#: runs of the smallest scenario already take days on one machine.
MAX_RUNS = 1_000_000
#: Most factors, and most levels of one factor.
MAX_FACTORS, MAX_LEVELS = 100, 1000


class ExperimentError(ScenarioError):
    """Bad experiment input (or a results directory that belongs to another experiment)."""


# ---------------------------------------------------------------------------
# Factors: ranges, levels, distributions


class Range(_Strict):
    """A continuous (or ``integer``) range sampled uniformly, or log-uniformly with ``log``."""

    low: float
    high: float
    points: Annotated[int, Field(ge=2, le=1000)] | None = None
    integer: bool = False
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.high > self.low:
            raise ValueError(f"high ({self.high:g}) must be greater than low ({self.low:g})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0 (got {self.low:g})")
        if self.integer and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError("an integer range needs whole-number low and high")
        return self

    def values(self, u: Any) -> Any:
        import numpy as np

        u = np.asarray(u, dtype=float)
        if self.integer:
            if self.log:
                x = np.round(self.low * (self.high / self.low) ** u)
            else:
                x = np.floor(self.low + u * (self.high - self.low + 1))
            return np.clip(x, self.low, self.high).astype(np.int64)
        if self.log:
            return self.low * (self.high / self.low) ** u
        return self.low + u * (self.high - self.low)


class Levels(_Strict):
    """Named values (a preset name, a number, a mapping): each equally likely in a sample."""

    levels: Annotated[list[Any], Field(min_length=1, max_length=MAX_LEVELS)]

    @field_validator("levels")
    @classmethod
    def _distinct(cls, levels: list[Any]) -> list[Any]:
        seen = [json.dumps(v, sort_keys=True) for v in levels]
        if len(set(seen)) != len(seen):
            raise ValueError(f"levels must be distinct, got {clip(levels)}")
        return levels

    def indices(self, u: Any) -> Any:
        import numpy as np

        k = len(self.levels)
        return np.minimum((np.asarray(u, dtype=float) * k).astype(np.int64), k - 1)

    def values(self, u: Any) -> list[Any]:
        return [self.levels[i] for i in self.indices(u)]


_DIST_PARAMS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"),
    "triangular": ("low", "mode", "high"),
    "truncnormal": ("mean", "sd", "low", "high"),
}


class Distribution(_Strict):
    """A factor drawn through a distribution's quantile function.

    ``lognormal``'s ``mean`` and ``sd`` are those of the logarithm. Unbounded
    distributions are cut at the 0.1% and 99.9% quantiles (``TAIL``).
    """

    distribution: Literal["uniform", "normal", "lognormal", "triangular", "truncnormal"]
    mean: float | None = None
    sd: Annotated[float, Field(gt=0.0)] | None = None
    low: float | None = None
    mode: float | None = None
    high: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _parameters(self) -> Distribution:
        need = _DIST_PARAMS[self.distribution]
        given = {k for k in ("mean", "sd", "low", "mode", "high") if getattr(self, k) is not None}
        if given != set(need):
            raise ValueError(
                f"a {self.distribution} distribution takes exactly {', '.join(need)}"
                f" (got {', '.join(sorted(given)) or 'none'})"
            )
        if self.low is not None and self.high is not None and not self.high > self.low:
            raise ValueError(f"high ({self.high:g}) must be greater than low ({self.low:g})")
        if self.mode is not None and not self.low <= self.mode <= self.high:  # type: ignore[operator]
            raise ValueError(f"mode ({self.mode:g}) must lie between low and high")
        return self

    def values(self, u: Any) -> Any:
        import numpy as np
        from scipy import stats

        u = np.asarray(u, dtype=float)
        d = self.distribution
        if d == "uniform":
            x = self.low + u * (self.high - self.low)  # type: ignore[operator]
        elif d == "normal":
            x = stats.norm(self.mean, self.sd).ppf(np.clip(u, TAIL, 1 - TAIL))
        elif d == "lognormal":
            dist = stats.lognorm(s=self.sd, scale=math.exp(self.mean))  # type: ignore[arg-type]
            x = dist.ppf(np.clip(u, TAIL, 1 - TAIL))
        elif d == "triangular":
            width = self.high - self.low  # type: ignore[operator]
            x = stats.triang((self.mode - self.low) / width, loc=self.low, scale=width).ppf(u)  # type: ignore[operator]
        else:
            a = (self.low - self.mean) / self.sd  # type: ignore[operator]
            b = (self.high - self.mean) / self.sd  # type: ignore[operator]
            x = stats.truncnorm(a, b, loc=self.mean, scale=self.sd).ppf(u)
        return np.round(x).astype(np.int64) if self.integer else x


def _factor_kind(value: Any) -> str:
    """The tag of a factor: from its keys when read, from its class when dumped."""
    if isinstance(value, Levels):
        return "levels"
    if isinstance(value, Distribution):
        return "distribution"
    if isinstance(value, dict):
        if "levels" in value:
            return "levels"
        if "distribution" in value:
            return "distribution"
    return "range"


def _levels_shorthand(value: Any) -> Any:
    return {"levels": value} if isinstance(value, list) else value


Factor = Annotated[
    Annotated[Range, Tag("range")]
    | Annotated[Levels, Tag("levels")]
    | Annotated[Distribution, Tag("distribution")],
    Discriminator(_factor_kind),
]


# ---------------------------------------------------------------------------
# Designs


class Grid(_Strict):
    """Every combination of the factors' levels (ranges need ``points``)."""

    method: Literal["grid"]


class LatinHypercube(_Strict):
    """``samples`` points, each factor's range cut into ``samples`` strata (McKay et al. 1979)."""

    method: Literal["latin_hypercube"]
    samples: Annotated[int, Field(ge=2, le=10_000_000)]


class Sobol(_Strict):
    """Saltelli's scheme for Sobol indices: ``samples * (k + 2)`` points (Saltelli 2002)."""

    method: Literal["sobol"]
    samples: Annotated[int, Field(ge=2, le=1_048_576)]
    second_order: bool = False

    @field_validator("samples")
    @classmethod
    def _power_of_two(cls, n: int) -> int:
        if n & (n - 1):
            below = 1 << (n.bit_length() - 1)
            raise ValueError(
                f"must be a power of 2 for a Sobol sequence, e.g. {below} or {below * 2}"
            )
        return n


class Morris(_Strict):
    """Elementary effects along ``trajectories`` one-at-a-time paths (Morris 1991)."""

    method: Literal["morris"]
    trajectories: Annotated[int, Field(ge=2, le=100_000)]
    levels: Annotated[int, Field(ge=2, le=100)] = 4

    @field_validator("levels")
    @classmethod
    def _even(cls, n: int) -> int:
        if n % 2:
            raise ValueError("must be even (Morris levels are split in two halves)")
        return n


Design = Annotated[Grid | LatinHypercube | Sobol | Morris, Field(discriminator="method")]


# ---------------------------------------------------------------------------
# The experiment


class Experiment(_Strict):
    """What varies, how it is sampled, and what is measured; not where it runs."""

    name: Text
    description: Annotated[str, Field(max_length=2000)] = ""
    scenario: Text = Field(description="base scenario or market, relative to the experiment file")
    firm: Annotated[str, Field(max_length=40)] | None = None
    """With a market as the base: the focal firm, whose outcomes the runs' outcome columns
    hold (every firm's market figures come as ``firms.NAME.OUTCOME`` columns)."""
    set: Annotated[dict[str, Any], Field(max_length=200)] = Field(default_factory=dict)
    factors: Annotated[dict[str, Factor], Field(min_length=1, max_length=MAX_FACTORS)]
    design: Design
    replicates: Annotated[int, Field(ge=1, le=100_000)] = 1
    backend: str = Field(default="auto", validate_default=True)  # auto: resolved to numba
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    common_random_numbers: bool = False
    outcomes: Annotated[list[str], Field(min_length=1, max_length=100)] = Field(
        default_factory=lambda: list(OUTCOMES)
    )

    _base: Scenario | Market | None = PrivateAttr(default=None)

    @field_validator("factors", mode="before")
    @classmethod
    def _shorthand(cls, factors: Any) -> Any:
        if isinstance(factors, dict):
            return {k: _levels_shorthand(v) for k, v in factors.items()}
        return factors

    @field_validator("design", mode="before")
    @classmethod
    def _design_shorthand(cls, design: Any) -> Any:
        return {"method": design} if isinstance(design, str) else design

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, name: str) -> str:
        from serviceprofit.backends import BACKENDS, resolve_backend

        name = resolve_backend(name)
        if name not in BACKENDS:
            allowed = ", ".join(["auto", *sorted(BACKENDS)])
            raise ValueError(f"unknown backend {name!r}; allowed: {allowed}")
        return name

    @field_validator("outcomes")
    @classmethod
    def _known_outcomes(cls, names: list[str]) -> list[str]:
        allowed = (*OUTCOMES, *MARKET_OUTCOMES)  # market figures: checked against the base
        for name in names:
            if name not in allowed:
                extra = nearest(name, allowed)
                raise ValueError(f"unknown outcome {name!r}{extra} Allowed: {', '.join(allowed)}")
        if len(set(names)) != len(names):
            raise ValueError("outcomes must not repeat")
        return names

    @model_validator(mode="after")
    def _fits_design(self) -> Experiment:
        grid = self.design.method == "grid"
        for key, factor in self.factors.items():
            if key in self.set:
                raise ValueError(f"factor {key!r} is also fixed in set; keep one")
            if grid and isinstance(factor, Distribution):
                raise ValueError(
                    f"factor {key!r}: a grid takes levels or ranges with points, not a distribution"
                )
            if isinstance(factor, Range) and grid and factor.points is None:
                raise ValueError(f"factor {key!r}: a range in a grid needs points: N")
            if isinstance(factor, Range) and not grid and factor.points is not None:
                raise ValueError(
                    f"factor {key!r}: points is for grid designs;"
                    f" a {self.design.method} design samples the whole range"
                )
        if self.points * self.replicates > MAX_RUNS:
            raise ValueError(
                f"{self.points:,} design points x {self.replicates:,} replicates ="
                f" {self.points * self.replicates:,} runs; at most {MAX_RUNS:,}"
                " (fewer samples, levels or replicates)"
            )
        return self

    @property
    def points(self) -> int:
        """Design points, counted from the design's settings without sampling them."""
        k = len(self.factors)
        design = self.design
        if design.method == "grid":
            return math.prod(
                len(f.levels) if isinstance(f, Levels) else (f.points or 1)  # type: ignore[union-attr]
                for f in self.factors.values()
            )
        if design.method == "latin_hypercube":
            return design.samples
        if design.method == "sobol":
            return design.samples * (2 * k + 2 if design.second_order else k + 2)
        return design.trajectories * (k + 1)

    # -- derived -------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Factor names in the order of the design's columns."""
        return list(self.factors)

    @property
    def base(self) -> Scenario | Market:
        """The base scenario (or market) with ``set`` applied (resolved when loaded)."""
        if self._base is None:
            raise ExperimentError(self.name, "scenario", "experiment was not loaded from a file")
        return self._base

    def overrides(self, values: dict[str, Any]) -> dict[str, Any]:
        """Dotted overrides for one design point, parents before children.

        Applying ``strategy.process: cost_minimised`` after ``strategy.process.empowerment``
        would replace the field with the preset's value, so shorter keys go first.
        """
        return {k: values[k] for k in sorted(values, key=lambda k: k.count("."))}

    def fingerprint(self) -> str:
        """A hash of everything that decides the results: the experiment and its base scenario."""
        payload = {"experiment": self.model_dump(mode="json"), "base": self.base.to_dict()}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


_DESIGNS = ("grid", "latin_hypercube", "sobol", "morris")
_ALLOWED_KEYS = (
    "name, description, scenario, firm, set, factors, design, replicates, backend, seed,"
    " common_random_numbers, outcomes"
)


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    """A pydantic error as (key path, problem); drops the union tags pydantic adds."""
    loc = list(error["loc"])
    if loc[:1] == ["factors"] and len(loc) >= 3 and loc[2] in ("range", "levels", "distribution"):
        del loc[2]
    if loc[:1] == ["design"] and len(loc) >= 2 and loc[1] in _DESIGNS:
        del loc[1]
    key = ".".join(str(p) for p in loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        return key, "unknown key" + (f"; allowed keys: {_ALLOWED_KEYS}" if len(loc) == 1 else "")
    if kind == "missing":
        return key, "is required"
    if kind == "union_tag_invalid":
        return key, "method must be one of grid, latin_hypercube, sobol, morris"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return key, "must be a mapping, e.g. {low: 0, high: 1}, {levels: [...]}, {method: sobol}"
    message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    if kind == "value_error":
        return key, message
    return key, f"{message} (got {clip(error.get('input'))})"


def _probes(factor: Range | Levels | Distribution) -> list[Any]:
    """The values a design can reach at the edges: where a bad value would show up."""
    if isinstance(factor, Levels):
        return list(factor.levels)
    # 0.37 gives a fractional value, so a whole-number key without integer: true shows up.
    return [_plain(v) for v in factor.values([0.0, 0.37, 1.0])]


def _check_factors(experiment: Experiment, base: Scenario | Market, source: str) -> None:
    """Apply each factor's reachable values, then all factors at both ends together.

    ``apply_overrides`` creates keys that do not exist, so a misspelt factor is caught
    by the schema rejecting the unknown key, not by the lookup.
    """
    for key, factor in experiment.factors.items():
        for value in _probes(factor):
            try:
                base.with_overrides({key: value}, source=source)
            except ScenarioError as exc:
                no_key = any(w in exc.problem for w in ("unknown key", "not keys", "list index"))
                if no_key:
                    problem = f"names no scenario key ({exc.key}: {exc.problem})"
                else:
                    where = "" if exc.key == key else f"{exc.key}: "
                    hint = _integer_hint(factor, exc.problem)
                    problem = f"value {clip(value)} is not allowed: {where}{exc.problem}{hint}"
                raise ExperimentError(source, f"factors.{key}", problem) from None
    for edge, where in ((0.0, "low"), (1.0, "high")):
        values = {
            key: _plain(factor.values([edge])[0]) for key, factor in experiment.factors.items()
        }
        try:
            base.with_overrides(experiment.overrides(values), source=source)
        except ScenarioError as exc:
            raise ExperimentError(
                source, "factors", f"all factors at their {where} ends: {exc.key}: {exc.problem}"
            ) from None


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value YAML would have given."""
    return value.item() if hasattr(value, "item") else value


def _integer_hint(factor: Any, problem: str) -> str:
    if "integer" in problem and isinstance(factor, Range | Distribution) and not factor.integer:
        return "; add integer: true to the factor"
    return ""


def check_focal_firm(experiment: Experiment, base: Scenario | Market, source: str) -> None:
    """A market base needs ``firm:``, one of its firms; a scenario base takes neither a
    firm nor a market figure among its outcomes."""
    if isinstance(base, Scenario):
        if experiment.firm is not None:
            raise ExperimentError(
                source, "firm", "chooses the focal firm of a market; the base is a scenario"
            )
        market_only = [o for o in experiment.outcomes if o in MARKET_OUTCOMES]
        if market_only:
            raise ExperimentError(
                source, "outcomes", f"{market_only[0]} is a market figure; the base is a scenario"
            )
        return
    if experiment.firm not in base.firms:
        given = "" if experiment.firm is None else f"no firm {experiment.firm!r}; "
        raise ExperimentError(
            source,
            "firm",
            f"{given}a market base needs firm: NAME, the firm whose outcomes the runs"
            f" record; its firms: {', '.join(base.firms)}",
        )


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file, resolving its base scenario.

    Raises :class:`ExperimentError` naming the file, the key path and what is allowed;
    problems in the base scenario itself are reported against the scenario's file.
    """
    path = locate(path, "experiments")  # a bare name may be a shipped experiment
    source = str(path)
    if problem := not_found(path, "experiments"):
        raise ExperimentError(source, "", problem)
    try:
        data = read_mapping(path, "experiment")
    except ScenarioError as exc:
        raise ExperimentError(exc.source, exc.key, exc.problem) from None
    data.setdefault("name", path.stem)
    try:
        experiment = Experiment.model_validate(data)
    except ValidationError as exc:
        raise ExperimentError(source, *first_problem(exc, _describe)) from None
    if "\x00" in experiment.scenario:
        raise ExperimentError(source, "scenario", "must be a file name, e.g. baseline.yaml")
    base_path = locate(experiment.scenario, "scenarios", path.parent).resolve()
    if not base_path.is_file():
        market_path = locate(experiment.scenario, "markets", path.parent).resolve()
        if not (market_path.is_file() and is_market(market_path)):
            raise ExperimentError(source, "scenario", f"no such scenario file: {base_path}")
        base_path = market_path
    base: Scenario | Market
    if is_market(base_path):
        from serviceprofit.model.market import load_market

        base = load_market(base_path)
    else:
        base = load_scenario(base_path)
    check_focal_firm(experiment, base, source)
    if experiment.set:
        try:
            base = base.with_overrides(experiment.set, source=source)
        except ScenarioError as exc:
            raise ExperimentError(source, f"set.{exc.key}", exc.problem) from None
    _check_factors(experiment, base, source)
    experiment._base = base
    return experiment
