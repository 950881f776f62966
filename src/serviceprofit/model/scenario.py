"""Scenarios: the typed, validated description of one firm and its strategy.

A scenario is read from YAML (``yaml.safe_load`` only), may ``extends:`` another file
and state only what differs, and may be changed by dotted-key overrides
(``strategy.process=cost_minimised``) from Python, the CLI, events and sweeps. Every
key is checked when the scenario is loaded: unknown keys, wrong types and values out of
range raise :class:`ScenarioError`, whose message names the file, the key path and what
is allowed. The key names here are the model's vocabulary everywhere: YAML, the CLI's
``--set``, the demo's controls and the sweep's factors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from serviceprofit.model.keys import (
    ScenarioError,
    apply_overrides,
    check_key,
    nearest,
    parse_override,
)
from serviceprofit.model.safe_yaml import MAX_FILE_BYTES, YAMLInputError, clip, read_yaml
from serviceprofit.model.shipped import locate, not_found

__all__ = [
    "CHANNELS",
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "load_scenario",
    "parse_override",
    "presets",
]

CHANNELS: tuple[str, ...] = ("phone", "email", "chat", "social")

#: Largest amount of money (or other unbounded magnitude) a field takes: finite and far
#: above any firm, so arithmetic on it cannot overflow a float.
HUGE = 1e9
#: Longest name, label or description, in characters.
MAX_TEXT = 200

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0, le=HUGE)]
Positive = Annotated[float, Field(gt=0.0, le=HUGE)]
Weeks = Annotated[float, Field(ge=1.0, le=10_000.0)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]

#: Keys read once, when a run starts: an event cannot change them during a run.
FIXED_AT_START: tuple[str, ...] = (
    "name",
    "description",
    "weeks",
    "population",
    "events",
    "owner.initial_cash",
    "behaviour.initial_skill",
)
#: Most events in one scenario, and most keys one event sets.
MAX_EVENTS = 200


@cache
def presets() -> dict[str, dict[str, dict[str, Any]]]:
    """The strategy presets shipped as data (``serviceprofit/data/presets.yaml``)."""
    text = resources.files("serviceprofit").joinpath("data/presets.yaml").read_text()
    return yaml.safe_load(text)


class _Strict(BaseModel):
    """Schema base: unknown keys, non-finite numbers and loose types refused.

    Pydantic's lax mode reads ``true`` as 1 and ``"5"`` as 5, so ``weeks: true`` ran one
    week. Strict mode takes YAML's types as they are (an integer where a float is asked
    is still fine); callers pass plain Python numbers, not numpy scalars.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_default=True,
        use_attribute_docstrings=True,
        allow_inf_nan=False,
        strict=True,
    )


# The preset a section starts from when a scenario names none: the schema's defaults.
DEFAULT_PRESETS: dict[str, str] = {"process": "customer_value", "organisation": "silo"}


def _expand_preset(kind: str, value: Any) -> Any:
    """Turn ``"silo"`` or ``{preset: silo, x: 1}`` into the preset's values plus overrides.

    A mapping without ``preset:`` overrides fields of the preset it inherits: under
    ``extends:`` the parent's (the merge in :func:`_deep_merge` keeps it), otherwise the
    schema's default (:data:`DEFAULT_PRESETS`).
    """
    if isinstance(value, str):
        value = {"preset": value}
    if not isinstance(value, dict):
        return value
    table = presets()[kind]
    name = value.get("preset", DEFAULT_PRESETS[kind])
    if not isinstance(name, str):
        raise ValueError(f"a preset name must be text, one of {sorted(table)}")
    if name not in table:
        raise ValueError(f"unknown {kind} preset {name!r}; allowed: {sorted(table)}")
    return {**table[name], **value, "preset": name}


class Process(_Strict):
    """How the service process is designed (a preset plus any overrides)."""

    preset: str
    """Name of the preset the other fields start from: `customer_value` or `cost_minimised`
    (data/presets.yaml).
    """
    handle_time: Positive = Field(description="hours allowed per contact")
    """Hours allowed per contact, including after-contact work; the staff's initial time standard.
    """
    empowerment: Fraction
    """Authority to fix and to compensate (0-1): raises resolution and the chance an empowered
    recovery restores a complainant.
    """
    scripts: Fraction
    """How tightly contacts follow a script (0-1): lowers resolution of moments of truth."""
    training_per_head: NonNegative
    """Training spend per staff member per week (scaled by the owner's training multiplier)."""
    wage_per_week: Positive
    """Wage per staff member per week; also the basis of turnover cost."""
    target_utilisation: Annotated[float, Field(gt=0.0, le=1.0)]
    """Share of contact hours the owner plans to fill when it staffs to plan."""
    self_service: Fraction
    """Share of new routine issues first sent to self-service."""

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, value: Any) -> Any:
        return _expand_preset("process", value)


class Organisation(_Strict):
    """How the firm is organised around the customer (a preset plus any overrides)."""

    preset: str
    """Name of the preset the other fields start from: `silo` or `merged`."""
    departments: Annotated[int, Field(ge=1, le=4)]
    """Number of departments staff are split into (contacts are routed within one)."""
    misroute_probability: Fraction
    """Chance a contact first reaches the wrong department (or needs escalation) and is handed off.
    """
    handoff_satisfaction_penalty: Fraction
    """Perceived quality lost per handoff."""
    handoff_resolution_penalty: NonNegative
    """Resolution log-odds lost per handoff."""
    handoff_time_share: Fraction
    """Share of a contact's handle time each handoff consumes again."""
    one_view: Fraction
    """How far staff share one view of the customer (0-1): raises resolution, stops channel hops
    costing a handoff.
    """
    feedback_share: Fraction
    """Share of recurring issues fed back to product, which fixes them over time."""
    merge_weeks: Annotated[int, Field(ge=0, le=104)]
    """Weeks of cross-training (80% contact capacity, double training cost) after the organisation
    changes.
    """
    coordination_time_share: Annotated[float, Field(ge=0.0, lt=1.0)]
    """Share of contact hours lost to coordination."""
    since: Literal["start_of_run", "always"] = "always"
    """`start_of_run`: the firm adopts this organisation at week 0 and pays its transition
    (`merge_weeks` of cross-training) from week 0; `always`: it has always been organised this
    way. Default: `start_of_run` when the number of departments differs from the scenario named
    in `extends:` (or from the file a `--set` changes), otherwise the inherited value (`always`
    for a scenario that extends none).
    """

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, value: Any) -> Any:
        return _expand_preset("organisation", value)


class Technology(_Strict):
    focus: Literal["operations", "customers"] = "operations"
    """`operations` (productivity) or `customers` (one view and better self-service)."""
    spend_per_head: NonNegative = 40.0
    """Technology spend per staff member per week; also the tools part of internal quality."""
    productivity_gain: Fraction = 0.15
    """Extra contact capacity when the focus is operations."""
    one_view_gain: Fraction = 0.5
    """Share of the missing one view that customer-focused technology supplies."""
    self_service_gain: Fraction = 0.2
    """Added self-service success when the focus is customers."""


class Marketing(_Strict):
    spend_per_week: NonNegative = 1000.0
    """Acquisition spend per week."""
    cost_per_acquisition: Positive = 60.0
    """Spend per customer acquired at a neutral reputation."""


class Product(_Strict):
    complexity: Annotated[float, Field(ge=0.0, le=10.0)] = 1.0
    """Multiplier on the issue rate."""
    upgrade_every_weeks: Annotated[int, Field(ge=0, le=5200)] = 26
    """Weeks between product upgrades (0: never)."""
    upgrade_issue_surge: NonNegative = 0.5
    """Extra issue rate in an upgrade week, fading with a two-week time constant."""
    upgrade_unfixes: Fraction = 0.3
    """Share of fixed recurring issues an upgrade brings back."""


class Measurement(_Strict):
    survey_lag_weeks: Annotated[int, Field(ge=0, le=52)] = 8
    """Weeks between the experience and the owner reading it in a survey."""
    survey_noise: Annotated[float, Field(ge=0.0, le=0.5)] = 0.05
    """Standard deviation of survey noise on the satisfaction KPIs."""
    real_time: bool = False
    """Real-time voice of the customer: no lag and no noise."""


class Strategy(_Strict):
    process: Process = Field(default_factory=lambda: Process.model_validate("customer_value"))
    """The service process (a preset name, or a mapping with `preset:` and overrides)."""
    organisation: Organisation = Field(default_factory=lambda: Organisation.model_validate("silo"))
    """How departments are organised (a preset name, or a mapping with `preset:` and overrides)."""
    technology: Technology = Field(default_factory=Technology)
    """Technology focus and spend."""
    marketing: Marketing = Field(default_factory=Marketing)
    """Acquisition spend."""
    product: Product = Field(default_factory=Product)
    """Product complexity and upgrades."""
    measurement: Measurement = Field(default_factory=Measurement)
    """How the owner measures customers."""


class Population(_Strict):
    customers: Annotated[int, Field(ge=1, le=50_000_000)] = 5000
    """Customers at week 0."""
    staff: Annotated[int, Field(ge=1, le=100_000)] = 50
    """Staff at week 0 (and the fixed headcount under the `fixed` policy)."""


class Segment(_Strict):
    name: Text
    """Segment name."""
    share: Fraction
    """Share of new customers in this segment (shares sum to 1)."""
    weekly_spend: NonNegative
    """Weekly spend of a new, neutral customer."""
    expectation: Fraction
    """Service expectation (0-1) that satisfaction is judged against."""
    issue_rate_multiplier: NonNegative = 1.0
    """Multiplier on the issue rate."""
    complaint_propensity: Fraction
    """Chance a dissatisfied customer complains about a routine issue."""


def _default_segments() -> list[Segment]:
    return [
        Segment(
            name="mass",
            share=0.6,
            weekly_spend=6.0,
            expectation=0.65,
            issue_rate_multiplier=1.0,
            complaint_propensity=0.04,
        ),
        Segment(
            name="premium",
            share=0.3,
            weekly_spend=12.0,
            expectation=0.72,
            issue_rate_multiplier=0.8,
            complaint_propensity=0.08,
        ),
        Segment(
            name="business",
            share=0.1,
            weekly_spend=28.0,
            expectation=0.78,
            issue_rate_multiplier=1.3,
            complaint_propensity=0.15,
        ),
    ]


class Channels(_Strict):
    mix: dict[Literal["phone", "email", "chat", "social"], NonNegative] = Field(
        default_factory=lambda: {"phone": 0.4, "email": 0.25, "chat": 0.25, "social": 0.1}
    )
    """Share of customers on each channel (phone, email, chat, social); sums to 1."""
    hop_probability: Fraction = 0.15
    """Chance a customer with an unresolved issue tries another channel next time."""

    @field_validator("mix")
    @classmethod
    def _sums_to_one(cls, mix: dict[str, float]) -> dict[str, float]:
        total = sum(mix.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"channel shares must sum to 1, got {total:g}")
        return mix


class Owner(_Strict):
    policy: Literal["fixed", "profit_first", "balanced"] = "balanced"
    """`fixed` (no changes), `profit_first` or `balanced`."""
    review_every: Annotated[int, Field(ge=1, le=52)] = 4
    """Weeks between the owner's reviews."""
    required_margin: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.20
    """Profit over revenue the owner requires."""
    initial_cash: Annotated[float, Field(ge=-HUGE * 1000, le=HUGE * 1000)] = 1_000_000.0
    """Cash at week 0."""
    satisfaction_target: Fraction = 0.68
    """Customer-satisfaction KPI below which a balanced owner invests."""
    staff_satisfaction_target: Fraction = 0.55
    """Staff-satisfaction KPI below which a balanced owner invests."""
    headcount_step: Fraction = 0.05
    """Largest change of headcount target per review, as a share of headcount."""
    training_step: Fraction = 0.2
    """Change of the training multiplier per review."""


class Economics(_Strict):
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    """Currency all money is stated in, as a three-letter code (`EUR`, `USD`, `GBP`): a label
    for reports, plots and the summary; it converts nothing.
    """
    contact_hours_per_week: Positive = 12.0
    """Hours per staff member per week available for customer contacts."""
    paid_hours_per_week: Positive = 37.5
    """Paid hours per staff member per week."""
    turnover_cost_share: Fraction = 0.21
    """Cost of a departure as a share of annual wage (Boushey and Glynn 2012: median 21%)."""
    hiring_lag_weeks: Annotated[int, Field(ge=0, le=52)] = 6
    """Weeks from vacancy to a new hire starting."""
    contact_cost: dict[Literal["phone", "email", "chat", "social"], NonNegative] = Field(
        default_factory=lambda: {"phone": 5.0, "email": 3.0, "chat": 2.5, "social": 2.5}
    )
    """Direct cost per contact on each channel."""
    self_service_cost: NonNegative = 0.5
    """Cost per self-service attempt."""
    recovery_cost: NonNegative = 25.0
    """Compensation per complaint at full empowerment."""

    @field_validator("contact_cost")
    @classmethod
    def _every_channel(cls, cost: dict[str, float]) -> dict[str, float]:
        missing = set(CHANNELS) - set(cost)
        if missing:
            raise ValueError(f"give a cost for every channel; missing {sorted(missing)}")
        return cost


class Behaviour(_Strict):
    """Calibration constants of the behaviour rules (docs/ODD.md gives each source)."""

    issue_rate: Fraction = 0.10
    """Weekly chance of a new issue for a customer with none open, before multipliers."""
    moment_of_truth_share: Fraction = 0.05
    """Share of issues that are moments of truth."""
    moment_of_truth_weight: Annotated[float, Field(ge=1.0, le=50.0)] = 4.0
    """How much more a moment of truth moves satisfaction than a routine issue."""
    issue_max_age_weeks: Annotated[int, Field(ge=1, le=52)] = 8
    """Weeks after which an unresolved issue is abandoned."""
    self_service_success: Fraction = 0.5
    """Chance self-service resolves a routine issue."""
    satisfaction_rate: Fraction = 0.25
    """Step of satisfaction toward a contact's experience (routine issue)."""
    quality_resolved: Fraction = 0.9
    """Perceived quality of a resolution with no handoffs or waiting."""
    quality_unresolved: Fraction = 0.35
    """Perceived quality of a contact that resolves nothing."""
    wait_penalty: Fraction = 0.05
    """Satisfaction lost per week waiting (and quality lost per week of age)."""
    churn_base: Fraction = 0.0025
    """Weekly churn hazard at satisfaction equal to expectation."""
    churn_steepness: Annotated[float, Field(ge=0.0, le=50.0)] = 4.5
    """Exponential rise of the churn hazard per unit satisfaction below expectation."""
    competitor_pull: Fraction = 0.001
    """Weekly churn hazard no service removes."""
    newcomer_boost: NonNegative = 1.5
    """Extra churn hazard of a brand-new customer, as a multiple of the base."""
    newcomer_weeks: Positive = 26.0
    """Time constant over which the newcomer boost fades."""
    churn_cap: Fraction = 0.5
    """Largest weekly churn hazard."""
    complaint_severity_multiplier: Annotated[float, Field(ge=1.0, le=100.0)] = 10.0
    """How much likelier a complaint is about a moment of truth."""
    recovery_success: Fraction = 0.6
    """Chance an empowered recovery works, at full empowerment."""
    recovery_boost: Fraction = 0.5
    """Share of the gap to expectation + 0.1 a successful recovery closes."""
    tenure_growth: NonNegative = 0.15
    """Spend growth per year of tenure."""
    tenure_cap_years: NonNegative = 5.0
    """Years after which tenure adds no more spend."""
    upsell: NonNegative = 0.5
    """Spend change per unit satisfaction above expectation."""
    promoter_threshold: Fraction = 0.85
    """Satisfaction from which a customer is a promoter (9-10 of 10)."""
    detractor_threshold: Fraction = 0.65
    """Satisfaction below which a customer is a detractor (0-6 of 10)."""
    referral_rate: Fraction = 0.001
    """Weekly chance a promoter brings a new customer."""
    reputation_time_constant: Weeks = 8.0
    """Weeks over which reputation follows NPS."""
    reputation_elasticity: NonNegative = 1.5
    """Log change of marketing conversion per unit reputation above 0.5."""
    resolution_base: Annotated[float, Field(ge=-20.0, le=20.0)] = -1.5
    """Resolution log-odds intercept."""
    resolution_skill: NonNegative = 2.0
    """Resolution log-odds per unit staff skill."""
    resolution_staff_satisfaction: NonNegative = 0.8
    """Resolution log-odds per unit staff satisfaction."""
    resolution_time: NonNegative = 0.8
    """Resolution log-odds per unit log(time taken / reference handle time)."""
    resolution_empowerment: NonNegative = 1.0
    """Resolution log-odds per unit empowerment."""
    resolution_one_view: NonNegative = 0.4
    """Resolution log-odds per unit one view."""
    resolution_moment_of_truth: NonNegative = 1.0
    """Resolution log-odds lost on a moment of truth."""
    resolution_scripts: NonNegative = 1.5
    """Resolution log-odds lost on a moment of truth per unit scripts."""
    reference_handle_time: Positive = 0.75
    """Handle time (hours) at which time taken neither helps nor hurts resolution."""
    staff_satisfaction_rate: Fraction = 0.1
    """Weekly step of staff satisfaction toward its target."""
    mirror_weight: Fraction = 0.3
    """Weight of served customers' satisfaction in staff satisfaction's target."""
    quality_training: NonNegative = 0.3
    """Weight of training in internal quality."""
    quality_tools: NonNegative = 0.2
    """Weight of tools (technology) in internal quality."""
    quality_empowerment: NonNegative = 0.3
    """Weight of empowerment in internal quality."""
    quality_pay: NonNegative = 0.2
    """Weight of pay relative to the market wage in internal quality."""
    pressure_penalty: NonNegative = 0.5
    """Internal quality lost per unit work pressure above 1."""
    training_half: Positive = 40.0
    """Training spend per head per week that gives half the training effect."""
    tools_half: Positive = 40.0
    """Technology spend per head per week that gives half the tools effect."""
    market_wage: Positive = 900.0
    """Market wage per week that pay is judged against."""
    learning_rate: Fraction = 0.02
    """Weekly share of the skill gap closed by experience."""
    training_learning_boost: NonNegative = 1.0
    """Extra learning at full training."""
    hire_skill: Fraction = 0.3
    """Skill of a new hire."""
    initial_skill: Fraction = 0.6
    """Mean skill of the staff at week 0."""
    quit_base: Fraction = 0.005
    """Weekly quit hazard at the reference staff satisfaction."""
    quit_reference: Fraction = 0.70
    """Staff satisfaction at which the quit hazard equals its base."""
    quit_steepness: Annotated[float, Field(ge=0.0, le=50.0)] = 4.0
    """Exponential rise of the quit hazard per unit satisfaction below the reference."""
    erosion_time_constant: Weeks = 19.0
    """Weeks over which the time standard erodes toward time taken under pressure (Oliva and
    Sterman 2001: about 19).
    """
    recovery_time_constant: Weeks = 300.0
    """Weeks over which the time standard recovers toward the allowed handle time."""
    pressure_exponent: NonNegative = 0.64
    """Elasticity of time per contact to work pressure (Oliva and Sterman 2001: 0.64)."""
    feedback_learning_rate: Fraction = 0.02
    """Weekly rate at which fed-back issues are fixed."""
    max_fixable_share: Fraction = 0.5
    """Largest share of issues product can fix."""


class Event(_Strict):
    """A change that takes effect at ``week`` (and is undone at ``until``, if given)."""

    week: Annotated[int, Field(ge=0)]
    """Week (0-based) the event takes effect; before the scenario's last week."""
    set: Annotated[dict[str, Any], Field(max_length=MAX_EVENTS)]
    """Dotted scenario keys and their new values, e.g. `strategy.organisation: merged`."""
    until: Annotated[int, Field(ge=1)] | None = None
    """Week the change is undone (optional; at most the scenario's weeks)."""
    label: Text = ""
    """A label for reports."""

    @model_validator(mode="after")
    def _until_after_week(self) -> Event:
        if self.until is not None and self.until <= self.week:
            raise ValueError(f"until ({self.until}) must be after week ({self.week})")
        if not self.set:
            raise ValueError("an event must set at least one key")
        return self


class Scenario(_Strict):
    """One firm, its strategy and its world: everything a run needs but the seed."""

    name: Text = "scenario"
    """Scenario name (defaults to the file name)."""
    description: Annotated[str, Field(max_length=10 * MAX_TEXT)] = ""
    """One line saying what the scenario is."""
    weeks: Annotated[int, Field(ge=1, le=5200)] = 156
    """Weeks to simulate (one step is one week)."""
    population: Population = Field(default_factory=Population)
    """Initial customers and staff."""
    strategy: Strategy = Field(default_factory=Strategy)
    """The strategy levers."""
    segments: list[Segment] = Field(default_factory=_default_segments, min_length=1, max_length=100)
    """Customer segments."""
    channels: Channels = Field(default_factory=Channels)
    """Contact channels."""
    owner: Owner = Field(default_factory=Owner)
    """The owner's policy and targets."""
    economics: Economics = Field(default_factory=Economics)
    """Costs and working time."""
    behaviour: Behaviour = Field(default_factory=Behaviour)
    """Calibration constants of the behaviour rules."""
    events: list[Event] = Field(default_factory=list, max_length=MAX_EVENTS)
    """Changes that take effect at given weeks."""

    @field_validator("segments")
    @classmethod
    def _shares_sum_to_one(cls, segments: list[Segment]) -> list[Segment]:
        total = sum(s.share for s in segments)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"segment shares must sum to 1, got {total:g}")
        names = [s.name for s in segments]
        if len(set(names)) != len(names):
            raise ValueError(f"segment names must be unique, got {names}")
        return segments

    def to_dict(self) -> dict[str, Any]:
        """Plain data, the form YAML and overrides work on."""
        return self.model_dump(mode="json")

    def with_overrides(self, overrides: dict[str, Any], source: str = "overrides") -> Scenario:
        """A new scenario with dotted-key overrides applied and validated."""
        try:
            data = apply_overrides(self.to_dict(), overrides)
        except ScenarioError as exc:
            raise ScenarioError(source, exc.key, exc.problem) from None
        return _validate(data, source)

    def at_week(self, week: int) -> Scenario:
        """The scenario in force in ``week``: events that have started and not ended."""
        active = [self.events[i] for i in events_in_force(self.events, week)]
        if not active:
            return self
        merged: dict[str, Any] = {}
        for event in sorted(active, key=lambda e: e.week):
            merged.update(event.set)
        data = apply_overrides({**self.to_dict(), "events": []}, merged)
        return _check(data, f"events in force at week {week}")


# ---------------------------------------------------------------------------
# Loading, overrides and error messages


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, mapping by mapping.

    A preset section (``process``, ``organisation``) given as a mapping without
    ``preset:`` keeps the parent's preset and settings and overrides the fields given;
    one that names a preset (``merged`` or ``{preset: merged, ...}``) starts afresh.
    """
    out = dict(base)
    for key, value in top.items():
        parent = out.get(key)
        if key in DEFAULT_PRESETS and isinstance(parent, str):
            parent = {"preset": parent}
        if isinstance(value, dict) and isinstance(parent, dict):
            fresh = key in DEFAULT_PRESETS and "preset" in value
            out[key] = value if fresh else _deep_merge(parent, value)
        else:  # a value, a list, or a preset name that replaces the parent's settings
            out[key] = value
    return out


def _departments(data: dict[str, Any]) -> Any:
    """The number of departments plain scenario data resolves to (None if it cannot tell)."""
    strategy = data.get("strategy")
    value = strategy.get("organisation") if isinstance(strategy, dict) else None
    try:
        return Organisation.model_validate(value or DEFAULT_PRESETS["organisation"]).departments
    except ValidationError:
        return None  # the full validation names the problem


def _organisation_since(base: dict[str, Any], top: dict[str, Any], out: dict[str, Any]) -> None:
    """Set ``strategy.organisation.since`` in ``out`` (``top`` over ``base``) unless ``top``
    states it: ``start_of_run`` when the organisation changes its number of departments (the
    change :class:`~serviceprofit.model.firm.Firm` makes pay ``merge_weeks`` during a run), else
    what ``base`` says. A firm that becomes another must pay for the change.
    """
    strategy = out.get("strategy")
    if not isinstance(strategy, dict):
        return
    stated = top.get("strategy", {}) if isinstance(top.get("strategy"), dict) else {}
    if isinstance(stated.get("organisation"), dict) and "since" in stated["organisation"]:
        return
    before, after = _departments(base), _departments(out)
    if before is None or after is None:
        return
    organisation = strategy.get("organisation") or DEFAULT_PRESETS["organisation"]
    if isinstance(organisation, str):
        organisation = {"preset": organisation}
    inherited = base.get("strategy", {}) if isinstance(base.get("strategy"), dict) else {}
    parent = inherited.get("organisation")
    parent_since = parent.get("since", "always") if isinstance(parent, dict) else "always"
    since = "start_of_run" if before != after else parent_since
    strategy["organisation"] = {**organisation, "since": since}


#: Longest chain of ``extends:`` (the shipped scenarios use one level).
MAX_EXTENDS = 8


def read_mapping(path: Path, what: str, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """One YAML file a user hands over, read within the bounds of :mod:`.safe_yaml`.

    ``what`` names the kind of file in messages ("scenario", "experiment"). An empty
    file is an error, not the defaults: an empty scenario once ran the default firm.
    """
    try:
        data = read_yaml(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        source = str(chain[-1]) if chain else str(path)
        key = "extends" if chain else ""
        raise ScenarioError(source, key, f"no such file: {path}") from None
    except IsADirectoryError:
        raise ScenarioError(str(path), "", "is a directory, not a YAML file") from None
    except OSError as exc:
        raise ScenarioError(str(path), "", f"cannot read the file ({exc.strerror})") from None
    except YAMLInputError as exc:
        raise ScenarioError(str(path), "", str(exc)) from None
    if data is None:
        raise ScenarioError(
            str(path), "", f"is empty; a {what} is a mapping of keys to values, e.g. name: x"
        )
    if not isinstance(data, dict):
        raise ScenarioError(
            str(path), "", f"a {what} must be a mapping of keys to values, not {clip(data)}"
        )
    for key in data:
        if not isinstance(key, str):
            raise ScenarioError(str(path), clip(key), "a key must be text")
    return data


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise ScenarioError(str(chain[0]), "extends", f"extends itself in a cycle: {cycle}")
    if len(chain) >= MAX_EXTENDS:
        raise ScenarioError(
            str(chain[0]), "extends", f"more than {MAX_EXTENDS} files extend one another"
        )
    data = read_mapping(path, "scenario", chain)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent.strip() or "\x00" in parent:
        raise ScenarioError(str(path), "extends", "must be a file name, e.g. baseline.yaml")
    base = _read_yaml(locate(parent, "scenarios", path.parent).resolve(), (*chain, path))
    merged = _deep_merge(base, data)
    _organisation_since(base, data, merged)
    return merged


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema class that owns the last key of ``loc`` (for 'did you mean')."""
    model: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return None
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        candidates = [ann, *args]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return None
    return model


def _describe(error: dict[str, Any]) -> tuple[str, str]:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function")))
    key = ".".join(clip(p, 40) if not isinstance(p, int | str) else str(p)[:40] for p in loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        owner = _model_at(loc)
        allowed = sorted(owner.model_fields) if owner else []
        problem = "unknown key" + nearest(str(loc[-1]), allowed)
        if allowed:
            problem += f" Allowed keys: {', '.join(allowed)}"
        return key, problem
    message = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    if kind == "literal_error":
        message = "must be " + message.removeprefix("Input should be ")
    elif kind == "missing":
        message = "is required"
    return key, f"{message} (got {clip(error.get('input'))})" if kind != "missing" else message


def first_problem(
    exc: ValidationError, describe: Callable[[dict[str, Any]], tuple[str, str]] = _describe
) -> tuple[str, str]:
    """(key path, problem) of a validation error's first problem, counting the rest."""
    key, problem = describe(exc.errors()[0])
    more = len(exc.errors()) - 1
    if more:
        problem += f" (and {more} more problem{'s' if more > 1 else ''})"
    return key, problem


def _check(data: dict[str, Any], source: str) -> Scenario:
    """Validate plain data against the schema; the first problem becomes a ScenarioError."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, *first_problem(exc)) from None


def _fixed_at_start(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in FIXED_AT_START)


def _check_events(scenario: Scenario, source: str) -> None:
    """Each event within the run and changing what may change; then every combination.

    An event after the last week, or one that sets a key read only at the start, would
    silently do nothing; two events valid alone may be invalid together (segment shares
    that no longer sum to 1), which once surfaced 20 simulated weeks in.
    """
    plain = {**scenario.to_dict(), "events": []}
    for i, event in enumerate(scenario.events):
        if event.week >= scenario.weeks:
            raise ScenarioError(
                source,
                f"events.{i}.week",
                f"week {event.week} is not in the run; weeks are 0..{scenario.weeks - 1}"
                f" (weeks: {scenario.weeks}): move or drop the event, or run longer",
            )
        if event.until is not None and event.until > scenario.weeks:
            raise ScenarioError(
                source,
                f"events.{i}.until",
                f"must be at most the run's weeks ({scenario.weeks}); leave it out to keep"
                " the change to the end",
            )
        for key in event.set:
            check_key(key, source)
            if _fixed_at_start(key):
                raise ScenarioError(
                    source,
                    f"events.{i}.set.{key}",
                    "is read once, when the run starts, so an event cannot change it;"
                    f" an event may set any key except {', '.join(FIXED_AT_START)}",
                )
        try:
            _check(apply_overrides(plain, event.set), source)
        except ScenarioError as exc:
            raise ScenarioError(source, f"events.{i}.set.{exc.key}", exc.problem) from None
    boundaries = {e.week for e in scenario.events} | {
        e.until for e in scenario.events if e.until is not None and e.until < scenario.weeks
    }
    for week in sorted(boundaries):
        active = events_in_force(scenario.events, week)
        if len(active) < 2:
            continue
        try:
            scenario.at_week(week)
        except ScenarioError as exc:
            which = ", ".join(str(i) for i in active)
            raise ScenarioError(
                source,
                f"events {which} (together in week {week})",
                f"{exc.key}: {exc.problem}",
            ) from None


def events_in_force(events: list[Event], week: int) -> list[int]:
    """Indices of the events in force in ``week``: started and not yet undone."""
    return [
        i for i, e in enumerate(events) if e.week <= week and (e.until is None or week < e.until)
    ]


def _validate(data: dict[str, Any], source: str) -> Scenario:
    """Validate a scenario and, at load time, its events alone and in combination."""
    scenario = _check(data, source)
    _check_events(scenario, source)
    return scenario


def _shown(value: Any) -> str:
    """A value as the user typed it when short, else a clipped repr."""
    text = str(value) if isinstance(value, str | int | float) else ""
    return text if text and len(text) <= 40 else clip(value, 40)


def load_scenario(
    path: str | Path | dict[str, Any], overrides: dict[str, Any] | None = None
) -> Scenario:
    """Read, merge (``extends:``), override and validate a scenario.

    ``path`` may also be plain data (a dict), which is validated the same way.
    Raises :class:`ScenarioError` naming the file, the key path and what is allowed.
    """
    if isinstance(path, dict):
        data, source = dict(path), "<dict>"
    else:
        path = locate(path, "scenarios")  # a bare name may be a shipped scenario
        source = str(path)
        if problem := not_found(path, "scenarios"):
            raise ScenarioError(source, "", problem)
        data = _read_yaml(path.resolve())
        data.setdefault("name", path.stem)
    scenario = _validate(data, source)
    if not overrides:
        return scenario
    described = ", ".join(f"{k}={_shown(v)}" for k, v in overrides.items())
    source = f"{source} (with --set {described})"
    changed = scenario.with_overrides(overrides, source=source)
    stated = any(
        k == "strategy.organisation.since"
        or (k == "strategy.organisation" and isinstance(v, dict) and "since" in v)
        for k, v in overrides.items()
    )
    if stated:
        return changed
    # --set changes the file's firm the way extends: changes its parent's (see Organisation.since)
    before, after = scenario.strategy.organisation, changed.strategy.organisation
    since = "start_of_run" if before.departments != after.departments else before.since
    if after.since == since:
        return changed
    return changed.with_overrides({"strategy.organisation.since": since}, source=source)


def is_market(path: str | Path) -> bool:
    """Whether ``path`` names a market (a file with ``firms:`` and ``market:``, or a shipped
    market's bare name) rather than a scenario. A file that cannot be read is not one:
    loading it as a scenario then says what is wrong with it."""
    located = locate(path, "markets")
    if not_found(located, "markets"):
        return False
    try:
        data = read_mapping(located.resolve(), "market")
    except (ScenarioError, OSError):
        return False
    return isinstance(data, dict) and "market" in data and "firms" in data
