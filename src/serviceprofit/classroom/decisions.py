"""The owner's levers a team sets each quarter, their bounds, and the quarter's budget.

Each lever is one scenario key of the team's firm (the model's one vocabulary), so a
decision becomes an event at the quarter's first week (:func:`to_keys`). Two levers are
not keys of their own:

* **Headcount.** The model holds the headcount target as the owner's state, moved by its
  reviews toward the staff its workload needs at a planned utilisation; it is not a
  scenario key. A team sets that plan, ``utilisation_target``
  (``strategy.process.target_utilisation``): lower means more staff for the same work.
* **Real-time voice of the customer** (``strategy.measurement.real_time``) removes the
  survey lag and noise in the model, which charges nothing for it; the game charges
  :data:`VOC_COST_PER_WEEK` to the team's accounts (:mod:`.game`) and counts it in the
  budget.

The budget is weekly discretionary spend (training and technology per head of the
firm's starting staff, marketing, voice of the customer); by default one and a half
times what the firm spends at the start, so a team can invest but not everything at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from serviceprofit.model.scenario import Scenario

__all__ = [
    "BUDGET_MULTIPLE",
    "VOC_COST_PER_WEEK",
    "DecisionError",
    "Decisions",
    "budget_for",
    "check",
    "from_scenario",
    "to_keys",
    "weekly_spend",
]

#: What real-time voice of the customer costs a firm per week.
VOC_COST_PER_WEEK = 1500.0
#: Default budget: this many times the firm's discretionary spend at the start.
BUDGET_MULTIPLE = 1.5


class DecisionError(ValueError):
    """A decision out of bounds or over budget: one line for the team's page."""


class Decisions(BaseModel):
    """One quarter's levers for one firm (the bounds are the schema's and a teacher's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    utilisation_target: Annotated[float, Field(ge=0.5, le=0.95)]
    """Share of contact hours the staffing plan fills (lower: more staff for the work)."""
    training_per_head: Annotated[float, Field(ge=0.0, le=300.0)]
    """Training spend per staff member per week."""
    handle_time: Annotated[float, Field(ge=0.25, le=2.0)]
    """Hours allowed per contact."""
    empowerment: Annotated[float, Field(ge=0.0, le=1.0)]
    """Authority to fix and to compensate."""
    marketing_spend: Annotated[float, Field(ge=0.0, le=50_000.0)]
    """Acquisition spend per week."""
    technology_spend: Annotated[float, Field(ge=0.0, le=300.0)]
    """Technology spend per staff member per week."""
    organisation: Literal["silo", "merged"]
    """Departments in silos, or one merged department (a change pays its transition)."""
    real_time_voc: bool
    """Real-time voice of the customer (no survey lag or noise) at a weekly cost."""


#: Each lever's scenario key (relative to the firm).
KEYS: dict[str, str] = {
    "utilisation_target": "strategy.process.target_utilisation",
    "training_per_head": "strategy.process.training_per_head",
    "handle_time": "strategy.process.handle_time",
    "empowerment": "strategy.process.empowerment",
    "marketing_spend": "strategy.marketing.spend_per_week",
    "technology_spend": "strategy.technology.spend_per_head",
    "organisation": "strategy.organisation",
    "real_time_voc": "strategy.measurement.real_time",
}


def from_scenario(scenario: Scenario) -> Decisions:
    """The levers as the firm's scenario sets them: where a game starts."""
    s = scenario.strategy
    organisation = "merged" if s.organisation.departments == 1 else "silo"
    return Decisions(
        utilisation_target=min(0.95, max(0.5, s.process.target_utilisation)),
        training_per_head=min(300.0, s.process.training_per_head),
        handle_time=min(2.0, max(0.25, s.process.handle_time)),
        empowerment=s.process.empowerment,
        marketing_spend=min(50_000.0, s.marketing.spend_per_week),
        technology_spend=min(300.0, s.technology.spend_per_head),
        organisation=organisation,
        real_time_voc=s.measurement.real_time,
    )


def to_keys(decisions: Decisions, start: Decisions | None = None) -> dict[str, Any]:
    """The firm's scenario keys for these levers (only those that differ from ``start``,
    so an unchanged organisation is not set again and pays no second transition)."""
    out: dict[str, Any] = {}
    for name, key in KEYS.items():
        value = getattr(decisions, name)
        if start is None or getattr(start, name) != value:
            out[key] = value
    return out


def weekly_spend(decisions: Decisions, staff: int) -> float:
    """Discretionary spend per week: what the budget limits."""
    return (
        (decisions.training_per_head + decisions.technology_spend) * staff
        + decisions.marketing_spend
        + (VOC_COST_PER_WEEK if decisions.real_time_voc else 0.0)
    )


def budget_for(scenario: Scenario, multiple: float = BUDGET_MULTIPLE) -> float:
    """The default weekly budget of a firm: ``multiple`` times its spend at the start."""
    return multiple * weekly_spend(from_scenario(scenario), scenario.population.staff)


def check(raw: Any, staff: int, budget: float) -> Decisions:
    """Validated decisions, or :class:`DecisionError` naming the lever and what is allowed."""
    if not isinstance(raw, dict):
        raise DecisionError("decisions must be a mapping of lever names to values")
    try:
        decisions = Decisions.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "decisions"
        allowed = ", ".join(KEYS) if error["type"] == "extra_forbidden" else error["msg"]
        if error["type"] == "extra_forbidden":
            raise DecisionError(f"{where[:40]}: unknown lever; levers are {allowed}") from None
        raise DecisionError(f"{where}: {allowed}") from None
    spend = weekly_spend(decisions, staff)
    if spend > budget + 1e-6:
        raise DecisionError(
            f"weekly spend {spend:,.0f} is over the budget of {budget:,.0f} "
            f"(training and technology per head x {staff} staff, marketing, voice of the customer)"
        )
    return decisions
