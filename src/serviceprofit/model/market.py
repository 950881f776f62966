"""Market scenarios: two or more rival firms, the people who choose between them, their network.

A market file names its firms, each a full scenario (its own staff, owner, strategy and
events), inline or ``extends:`` a scenario file with overrides, and a ``market:``
section with the people (customers at week 0 split by each firm's initial share, and a
pool of prospects who are no firm's customers yet), the choice model
(:mod:`serviceprofit.model.choice`) and the network (:mod:`serviceprofit.model.network`)::

    name: rivals
    weeks: 156
    firms:
      incumbent: {extends: baseline.yaml}
      challenger: {extends: baseline.yaml, strategy: {process: cost_minimised}}
    market:
      customers: 10000
      shares: {incumbent: 0.5, challenger: 0.5}
      prospects: {initial: 2000, arrivals_per_week: 20}
      network: {kind: small_world, average_degree: 10}

Dotted overrides reach any firm's lever (``firms.challenger.strategy.process=merged``)
or the market (``market.network.average_degree=20``). Every key is validated when the
market is loaded, with the scenarios' rules and messages: a bad file raises
:class:`~serviceprofit.model.scenario.ScenarioError` naming the file, the key path and what is
allowed, which the CLI turns into one line and exit code 2.

People are common to the market, firms are not: every firm must describe the same
segments (names, shares and expectations); a segment's ``weekly_spend`` may differ by
firm, since it is that firm's price to the segment. A firm's ``weeks`` and
``population.customers`` come from the market.
"""

from __future__ import annotations

import math
import re
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from serviceprofit.model.choice import CONTAGION_HALF_LIFE_WEEKS, CONTAGION_UPLIFT
from serviceprofit.model.keys import nearest
from serviceprofit.model.network import Kind
from serviceprofit.model.scenario import (
    Fraction,
    NonNegative,
    Positive,
    Scenario,
    ScenarioError,
    _deep_merge,
    _describe,
    _organisation_since,
    _read_yaml,
    _shown,
    _Strict,
    _validate,
    apply_overrides,
    first_problem,
    is_market,
    read_mapping,
)
from serviceprofit.model.shipped import locate, not_found

__all__ = [
    "ChoiceModel",
    "Market",
    "MarketSpec",
    "NetworkSpec",
    "Prospects",
    "is_market",
    "load_market",
    "load_resolved_market",
]

MAX_FIRMS = 16
_FIRM_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
"""A firm's name is one part of a dotted key (``firms.NAME.strategy...``): no dots."""
"""Most firms in one market (the choice loops over them for every chooser)."""


class NetworkSpec(_Strict):
    """Who hears whom: the ties between customers and prospects (docs/ODD.md, 7)."""

    kind: Kind = "small_world"
    """`small_world` (Watts-Strogatz ring with rewiring), `scale_free` (Chung-Lu, power-law
    degrees) or `homophily` (random ties, mostly within a segment)."""
    average_degree: Annotated[int, Field(ge=0, le=1000)] = 10
    """Mean number of ties per person (even for `small_world`); 0: no network."""
    rewiring: Fraction = 0.1
    """`small_world`: chance each lattice tie is rewired to a random person."""
    exponent: Annotated[float, Field(gt=2.0, le=4.0)] = 2.5
    """`scale_free`: tail exponent of the degree distribution."""
    homophily: Fraction = 0.8
    """`homophily`: share of ties within a segment."""

    @model_validator(mode="after")
    def _even_ring(self) -> NetworkSpec:
        if self.kind == "small_world" and self.average_degree % 2:
            raise ValueError(
                f"a small_world network needs an even average_degree, got {self.average_degree}"
            )
        return self


class Prospects(_Strict):
    """People in the category who are no firm's customers yet."""

    initial: Annotated[int, Field(ge=0, le=50_000_000)] = 0
    """Prospects at week 0."""
    arrivals_per_week: Annotated[float, Field(ge=0.0, le=1_000_000.0)] = 0.0
    """Mean new prospects entering the category each week (Poisson)."""


class ChoiceModel(_Strict):
    """The multinomial logit people choose firms by, and what moves it (docs/ODD.md, 7)."""

    beta_reputation: NonNegative = 4.0
    """Utility per unit perceived reputation above 0.5."""
    beta_experience: NonNegative = 3.0
    """Utility per unit own past satisfaction with the firm above 0.5 (former customers)."""
    beta_price: NonNegative = 1.5
    """Utility lost per unit log price relative to the segment's mean price across firms."""
    beta_referral: NonNegative = 1.0
    """Utility of promoting friends at the firm, at saturation (q / (1 + q))."""
    switching_cost: NonNegative = 1.0
    """Utility a customer loses by choosing a rival over its current firm (a churner has
    already left and a prospect has no firm: they pay none)."""
    outside_value: Annotated[float, Field(ge=-20.0, le=20.0)] = 0.0
    """Utility of choosing no firm (leaving the category, or staying a prospect)."""
    reputation_prior_weight: Positive = 5.0
    """Observations the firm's public reputation counts as, against friends and reviews."""
    review_reach: Fraction = 0.01
    """Chance a prospect considering a firm sees one given complaint about it on the social
    channel (neighbours always see it)."""
    cost_per_impression: Positive = 10.0
    """Marketing spend per person that gives one expected impression a week."""
    attention_floor: Fraction = 0.01
    """Weekly chance a person considers a firm with no marketing reaching them."""
    churner_search: Fraction = 1.0
    """Chance a churner considers each rival whatever its marketing (one who leaves is
    shopping: an assumption)."""
    contagion_uplift: NonNegative = CONTAGION_UPLIFT
    """Rise of the churn hazard per freshly defected neighbour (Nitzan and Libai 2011: 0.8)."""
    contagion_half_life_weeks: Annotated[float, Field(ge=0.5, le=520.0)] = CONTAGION_HALF_LIFE_WEEKS
    """Weeks over which a neighbour's defection loses half its effect."""


class MarketSpec(_Strict):
    """The people of the market and how they choose."""

    customers: Annotated[int, Field(ge=1, le=50_000_000)] = 10_000
    """Customers at week 0, split between the firms by their shares."""
    shares: dict[str, Fraction]
    """Each firm's share of the customers at week 0 (sums to 1; every firm is named)."""
    prospects: Prospects = Field(default_factory=Prospects)
    """The pool of prospects and its growth."""
    choice: ChoiceModel = Field(default_factory=ChoiceModel)
    """The choice model."""
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    """The network of customers and prospects."""

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> MarketSpec:
        total = sum(self.shares.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"shares must sum to 1, got {total:g}")
        return self


class Market(_Strict):
    """Rival firms and the people who choose between them: everything a run needs but the seed."""

    name: str = "market"
    """Market name (defaults to the file name)."""
    description: str = ""
    """One line saying what the market is."""
    weeks: Annotated[int, Field(ge=1, le=5200)] = 156
    """Weeks to simulate; every firm runs these weeks."""
    firms: dict[str, Scenario]
    """The firms by name, each a scenario (inline, or `extends:` a file, with overrides)."""
    market: MarketSpec
    """The people, the choice model and the network."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data, the form YAML and overrides work on."""
        return self.model_dump(mode="json")

    def with_overrides(self, overrides: dict[str, Any], source: str = "overrides") -> Market:
        """A new market with dotted-key overrides applied and validated, as
        :func:`load_market` applies them (``firms.NAME.strategy.process``,
        ``market.network.average_degree``); errors name ``source``."""
        try:
            return load_resolved_market(self.to_dict(), overrides)
        except ScenarioError as exc:
            raise ScenarioError(source, exc.key, exc.problem) from None

    def people(self) -> int:
        """Everyone with an id at week 0: customers and prospects (the network's nodes)."""
        return self.market.customers + self.market.prospects.initial

    def initial_customers(self) -> dict[str, int]:
        """Each firm's customers at week 0 (largest remainders, so they add up)."""
        return _split(self.market.customers, self.market.shares)


def _split(total: int, shares: dict[str, float]) -> dict[str, int]:
    exact = {name: total * share for name, share in shares.items()}
    counts = {name: math.floor(x) for name, x in exact.items()}
    left = total - sum(counts.values())
    for name in sorted(exact, key=lambda n: counts[n] - exact[n])[:left]:
        counts[name] += 1
    return counts


# ---------------------------------------------------------------------------
# Loading


def _describe_market(error: dict[str, Any], root: type[_Strict] = Market) -> tuple[str, str]:
    """A market-level problem; an unknown key gets a 'did you mean' and the keys allowed
    where it sits (``root`` is the model validated: the market or its section)."""
    if error["type"] != "extra_forbidden":
        return _describe(error)
    loc = tuple(error["loc"])
    key = ".".join(str(p) for p in loc)
    model: Any = root
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, _Strict)):
            return key, "unknown key"
        model = annotation
    allowed = sorted(model.model_fields)
    problem = "unknown key" + nearest(str(loc[-1]), allowed)
    return key, f"{problem} Allowed keys: {', '.join(allowed)}"


def _firm_data(
    name: str, raw: Any, folder: Path | None, source: str, weeks: Any, customers: int
) -> dict[str, Any]:
    """One firm's scenario data: its ``extends:`` file merged under its own keys, with the
    market's weeks and the firm's customers at week 0."""
    if not isinstance(raw, dict):
        raise ScenarioError(source, f"firms.{name}", "must be a mapping of scenario keys")
    data = dict(raw)
    for fixed in ("weeks",):
        if fixed in data:
            raise ScenarioError(source, f"firms.{name}.{fixed}", "is set by the market")
    if isinstance(data.get("population"), dict) and "customers" in data["population"]:
        raise ScenarioError(
            source,
            f"firms.{name}.population.customers",
            "is set by market.customers and market.shares",
        )
    parent = data.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str) or folder is None:
            raise ScenarioError(source, f"firms.{name}.extends", "must be a scenario file name")
        path = locate(parent, "scenarios", folder)  # beside the market, else shipped
        if problem := not_found(path, "scenarios"):
            raise ScenarioError(source, f"firms.{name}.extends", problem)
        base = _read_yaml(path.resolve())
        base.pop("name", None)
        merged = _deep_merge(base, data)
        _organisation_since(base, data, merged)  # as a scenario's extends: does
        data = merged
    data.setdefault("name", name)
    data["weeks"] = weeks
    population = data.get("population")
    data["population"] = {
        **(population if isinstance(population, dict) else {}),
        "customers": customers,
    }
    return data


def _validate_market(data: dict[str, Any], source: str, folder: Path | None) -> Market:
    """Validate the market section first (it fixes each firm's customers), then each firm
    as a scenario, then the whole and what firms must share."""
    if not isinstance(data, dict):
        raise ScenarioError(source, "", "a market must be a mapping of keys to values")
    for required in ("firms", "market"):
        if required not in data:
            raise ScenarioError(source, required, "is required in a market file")
    firms = data["firms"]
    if not isinstance(firms, dict) or not 2 <= len(firms) <= MAX_FIRMS:
        raise ScenarioError(
            source, "firms", f"name between 2 and {MAX_FIRMS} firms, each a mapping"
        )
    for name in firms:
        if not (isinstance(name, str) and _FIRM_NAME.fullmatch(name)):
            raise ScenarioError(
                source, f"firms.{_shown(name)}", "a firm name is 1-40 letters, digits, _ or -"
            )
    try:
        spec = MarketSpec.model_validate(data["market"])
    except ValidationError as exc:
        key, problem = first_problem(exc, partial(_describe_market, root=MarketSpec))
        raise ScenarioError(source, f"market.{key}" if key else "market", problem) from None
    if set(spec.shares) != set(firms):
        raise ScenarioError(
            source,
            "market.shares",
            f"give one share for each firm, exactly: {', '.join(sorted(firms))}",
        )
    try:  # the market's own keys (weeks, name, unknown keys) before the firms that use them
        top = Market.model_validate({**data, "firms": {}, "market": spec})
    except ValidationError as exc:
        raise ScenarioError(source, *first_problem(exc, _describe_market)) from None
    counts = _split(spec.customers, spec.shares)
    weeks = top.weeks
    scenarios = {}
    for name, raw in firms.items():
        if counts[name] < 1:
            raise ScenarioError(
                source, f"market.shares.{name}", "gives the firm no customer at week 0; raise it"
            )
        firm = _firm_data(str(name), raw, folder, source, weeks, counts[name])
        try:
            scenarios[name] = _validate(firm, source)
        except ScenarioError as exc:
            raise ScenarioError(source, f"firms.{name}.{exc.key}", exc.problem) from None
    try:
        market = Market.model_validate({**data, "firms": scenarios, "market": spec})
    except ValidationError as exc:
        raise ScenarioError(source, *first_problem(exc, _describe_market)) from None
    _same_people(market, source)
    return market


def _same_people(market: Market, source: str) -> None:
    """Segments are people: every firm names the same ones, in the same shares, with the
    same expectations (prices may differ)."""
    names = list(market.firms)
    first = market.firms[names[0]].segments
    for name in names[1:]:
        other = market.firms[name].segments
        same = len(other) == len(first) and all(
            a.name == b.name and a.share == b.share and a.expectation == b.expectation
            for a, b in zip(first, other, strict=True)
        )
        if not same:
            raise ScenarioError(
                source,
                f"firms.{name}.segments",
                f"must match firms.{names[0]}.segments in names, shares and expectations"
                " (people are common to the market; only weekly_spend may differ)",
            )


def load_market(
    path: str | Path | dict[str, Any], overrides: dict[str, Any] | None = None
) -> Market:
    """Read, merge (``extends:``), override and validate a market.

    ``path`` may be plain data (a dict); a firm's ``extends:`` is then not allowed, as
    there is no folder to find it in. Overrides are dotted keys on the resolved market:
    ``firms.NAME.strategy.process``, ``market.network.kind``. Raises
    :class:`~serviceprofit.model.scenario.ScenarioError` naming the file, the key and what is
    allowed.
    """
    if isinstance(path, dict):
        data, source, folder = dict(path), "<dict>", None
    else:
        path = locate(path, "markets")  # a bare name may be a shipped market
        source = str(path)
        if problem := not_found(path, "markets"):
            raise ScenarioError(source, "", problem)
        data = read_mapping(path.resolve(), "market")
        data.setdefault("name", path.stem)
        folder = path.resolve().parent
    market = _validate_market(data, source, folder)
    if not overrides:
        return market
    described = ", ".join(f"{k}={_shown(v)}" for k, v in overrides.items())
    where = f"{source} (with --set {described})"
    for dotted in overrides:
        parts = dotted.split(".")
        if parts[0] == "firms" and len(parts) > 1 and parts[1] not in market.firms:
            firm = parts[1]
            raise ScenarioError(
                where,
                ".".join(parts[:2]),
                f"unknown key: no firm {firm!r}{nearest(firm, market.firms)}"
                f" (firms: {', '.join(market.firms)})",
            )
        if dotted.split(".")[0] == "firms" and dotted.split(".")[2:] in (
            ["weeks"],
            ["population", "customers"],
            ["population"],
        ):
            raise ScenarioError(where, dotted, "is set by the market (weeks, customers, shares)")
    resolved = market.to_dict()
    for firm in resolved["firms"].values():
        firm.pop("weeks")
        firm["population"].pop("customers")
    try:
        changed = apply_overrides(resolved, overrides)
    except ScenarioError as exc:
        raise ScenarioError(where, exc.key, exc.problem) from None
    return _validate_market(changed, where, None)


def load_resolved_market(data: dict[str, Any], overrides: dict[str, Any] | None = None) -> Market:
    """A market again from its resolved form (:meth:`Market.to_dict`, as provenance and a
    sweep's manifest store it), overrides applied: each firm's ``weeks`` and customers are
    the market's, so they are left for :func:`load_market` to set."""
    data = {**data, "firms": {name: dict(firm) for name, firm in data["firms"].items()}}
    for firm in data["firms"].values():
        firm.pop("weeks", None)
        if isinstance(firm.get("population"), dict):
            firm["population"] = {k: v for k, v in firm["population"].items() if k != "customers"}
    return load_market(data, overrides)
