"""The one parameter record: every number a week of the model reads, flat and typed.

:class:`Params` is a named tuple of floats, ints and fixed-size tables, built from the
scenario in force (:meth:`Params.from_scenario`), the behaviour constants included. Both
backends read the very same record: the Mesa agents as a Python named tuple, the numba
backend as one row of a structured array (:func:`stack_records`), turned back into the
named tuple inside compiled code by :func:`params_of`. A new lever touches the schema,
this record, the rule that reads it and docs/ODD.md, nothing else.

Events change the scenario in force; :class:`ParamSchedule` resolves one record per
distinct set of events in force and says which record each week reads.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from numba.extending import register_jitable

from serviceprofit.model.rules import POLICY_CODES
from serviceprofit.model.scenario import CHANNELS, Scenario, ScenarioError, events_in_force

__all__ = ["MAX_SEGMENTS", "RECORD_DTYPE", "ParamSchedule", "Params", "params_of", "stack_records"]

MAX_SEGMENTS = 16  # tables of segments are padded to this many rows in compiled code
N_CHANNELS = len(CHANNELS)


class Params(NamedTuple):
    """The numbers of one week (see docs/ODD.md for each); tables are tuples of floats."""

    # run set-up (read from the record of week 0)
    initial_customers: int
    initial_staff: int
    initial_cash: float
    # process
    handle_time: float
    empowerment: float
    scripts: float
    training_per_head: float
    wage_per_week: float
    target_utilisation: float
    self_service: float
    # organisation
    departments: int
    misroute_probability: float
    handoff_satisfaction_penalty: float
    handoff_resolution_penalty: float
    handoff_time_share: float
    one_view: float
    feedback_share: float
    merge_weeks: int
    coordination_time_share: float
    reorganising_at_start: int  # 1: the organisation is adopted at week 0 (pays merge_weeks)
    # technology (already turned into its effects)
    technology_per_head: float
    productivity: float
    self_service_success: float
    # marketing, product, measurement
    marketing_spend: float
    cost_per_acquisition: float
    complexity: float
    upgrade_every_weeks: int
    upgrade_issue_surge: float
    upgrade_unfixes: float
    survey_lag_weeks: int
    survey_noise: float
    # owner
    policy: int
    review_every: int
    required_margin: float
    satisfaction_target: float
    staff_satisfaction_target: float
    headcount_step: float
    training_step: float
    # economics
    contact_hours: float
    paid_hours: float
    turnover_cost_share: float
    hiring_lag_weeks: int
    self_service_cost: float
    recovery_cost: float
    hop_probability: float
    # behaviour: the calibration constants of the rules (scenario.behaviour, by name)
    issue_rate: float
    moment_of_truth_share: float
    moment_of_truth_weight: float
    issue_max_age_weeks: int
    satisfaction_rate: float
    quality_resolved: float
    quality_unresolved: float
    wait_penalty: float
    churn_base: float
    churn_steepness: float
    competitor_pull: float
    newcomer_boost: float
    newcomer_weeks: float
    churn_cap: float
    complaint_severity_multiplier: float
    recovery_success: float
    recovery_boost: float
    tenure_growth: float
    tenure_cap_years: float
    upsell: float
    promoter_threshold: float
    detractor_threshold: float
    referral_rate: float
    reputation_time_constant: float
    reputation_elasticity: float
    resolution_base: float
    resolution_skill: float
    resolution_staff_satisfaction: float
    resolution_time: float
    resolution_empowerment: float
    resolution_one_view: float
    resolution_moment_of_truth: float
    resolution_scripts: float
    reference_handle_time: float
    staff_satisfaction_rate: float
    mirror_weight: float
    quality_training: float
    quality_tools: float
    quality_empowerment: float
    quality_pay: float
    pressure_penalty: float
    training_half: float
    tools_half: float
    market_wage: float
    learning_rate: float
    training_learning_boost: float
    hire_skill: float
    initial_skill: float
    quit_base: float
    quit_reference: float
    quit_steepness: float
    erosion_time_constant: float
    recovery_time_constant: float
    pressure_exponent: float
    feedback_learning_rate: float
    max_fixable_share: float
    # tables: channels (phone, email, chat, social) and segments
    n_segments: int
    channel_cumulative: tuple[float, ...]
    contact_cost: tuple[float, ...]
    segment_cumulative: tuple[float, ...]
    segment_spend: tuple[float, ...]
    segment_expectation: tuple[float, ...]
    segment_issue_multiplier: tuple[float, ...]
    segment_complaint: tuple[float, ...]

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Params:
        """The record of ``scenario`` (already resolved for the events in force)."""
        s = scenario.strategy
        proc, org, tech = s.process, s.organisation, s.technology
        one_view = org.one_view
        self_service_success = scenario.behaviour.self_service_success
        productivity = 1.0
        if tech.focus == "operations":
            productivity += tech.productivity_gain
        else:
            one_view = min(1.0, one_view + tech.one_view_gain * (1.0 - one_view))
            self_service_success = min(1.0, self_service_success + tech.self_service_gain)
        seg = scenario.segments
        if len(seg) > MAX_SEGMENTS:
            raise ScenarioError("", "segments", f"at most {MAX_SEGMENTS} segments, got {len(seg)}")
        mix = [scenario.channels.mix.get(c, 0.0) for c in CHANNELS]
        shares = [x.share for x in seg]
        measurement = s.measurement
        values = {
            "initial_customers": scenario.population.customers,
            "initial_staff": scenario.population.staff,
            "initial_cash": scenario.owner.initial_cash,
            "handle_time": proc.handle_time,
            "empowerment": proc.empowerment,
            "scripts": proc.scripts,
            "training_per_head": proc.training_per_head,
            "wage_per_week": proc.wage_per_week,
            "target_utilisation": proc.target_utilisation,
            "self_service": proc.self_service,
            "departments": org.departments,
            "misroute_probability": org.misroute_probability,
            "handoff_satisfaction_penalty": org.handoff_satisfaction_penalty,
            "handoff_resolution_penalty": org.handoff_resolution_penalty,
            "handoff_time_share": org.handoff_time_share,
            "one_view": one_view,
            "feedback_share": org.feedback_share,
            "merge_weeks": org.merge_weeks,
            "coordination_time_share": org.coordination_time_share,
            "reorganising_at_start": int(org.since == "start_of_run"),
            "technology_per_head": tech.spend_per_head,
            "productivity": productivity,
            "self_service_success": self_service_success,
            "marketing_spend": s.marketing.spend_per_week,
            "cost_per_acquisition": s.marketing.cost_per_acquisition,
            "complexity": s.product.complexity,
            "upgrade_every_weeks": s.product.upgrade_every_weeks,
            "upgrade_issue_surge": s.product.upgrade_issue_surge,
            "upgrade_unfixes": s.product.upgrade_unfixes,
            "survey_lag_weeks": 0 if measurement.real_time else measurement.survey_lag_weeks,
            "survey_noise": 0.0 if measurement.real_time else measurement.survey_noise,
            "policy": POLICY_CODES[scenario.owner.policy],
            "review_every": scenario.owner.review_every,
            "required_margin": scenario.owner.required_margin,
            "satisfaction_target": scenario.owner.satisfaction_target,
            "staff_satisfaction_target": scenario.owner.staff_satisfaction_target,
            "headcount_step": scenario.owner.headcount_step,
            "training_step": scenario.owner.training_step,
            "contact_hours": scenario.economics.contact_hours_per_week,
            "paid_hours": scenario.economics.paid_hours_per_week,
            "turnover_cost_share": scenario.economics.turnover_cost_share,
            "hiring_lag_weeks": scenario.economics.hiring_lag_weeks,
            "self_service_cost": scenario.economics.self_service_cost,
            "recovery_cost": scenario.economics.recovery_cost,
            "hop_probability": scenario.channels.hop_probability,
            "n_segments": len(seg),
            "channel_cumulative": _cumulative(mix),
            "contact_cost": tuple(float(scenario.economics.contact_cost[c]) for c in CHANNELS),
            "segment_cumulative": _cumulative(shares),
            "segment_spend": tuple(float(x.weekly_spend) for x in seg),
            "segment_expectation": tuple(float(x.expectation) for x in seg),
            "segment_issue_multiplier": tuple(float(x.issue_rate_multiplier) for x in seg),
            "segment_complaint": tuple(float(x.complaint_propensity) for x in seg),
        }
        behaviour = scenario.behaviour
        for name in cls._fields:
            if name not in values:
                values[name] = getattr(behaviour, name)
        return cls(**{name: _typed(name, values[name]) for name in cls._fields})


def _cumulative(shares: list[float]) -> tuple[float, ...]:
    """Cumulative shares, normalised to end at 1 (as ``np.cumsum(x) / sum(x)``)."""
    array = np.asarray(shares, dtype=np.float64)
    return tuple(float(x) for x in np.cumsum(array) / array.sum())


@functools.cache
def _kind(name: str) -> str:
    """'int', 'float' or 'table': the type a field of :class:`Params` is declared with."""
    declared = Params.__annotations__[name]
    text = getattr(declared, "__forward_arg__", declared)
    return text if text in ("int", "float") else "table"


def _typed(name: str, value: object) -> object:
    kind = _kind(name)
    if kind == "int":
        return int(value)  # type: ignore[call-overload]
    if kind == "float":
        return float(value)  # type: ignore[arg-type]
    return tuple(float(x) for x in value)  # type: ignore[union-attr]


def _table_size(name: str) -> int:
    return N_CHANNELS if name in ("channel_cumulative", "contact_cost") else MAX_SEGMENTS


RECORD_DTYPE = np.dtype(
    [
        (
            (name, np.int64)
            if kind == "int"
            else (name, np.float64)
            if kind == "float"
            else (name, np.float64, (_table_size(name),))
        )
        for name, kind in ((name, _kind(name)) for name in Params._fields)
    ],
    align=True,
)
"""The record as one row of a structured array, which compiled code reads field by field."""


def stack_records(records: list[Params]) -> np.ndarray:
    """Records as rows of a structured array of :data:`RECORD_DTYPE` (tables padded)."""
    rows = [
        tuple(
            value + (0.0,) * (_table_size(name) - len(value)) if isinstance(value, tuple) else value
            for name, value in zip(Params._fields, record, strict=True)
        )
        for record in records
    ]
    return np.array(rows, dtype=RECORD_DTYPE)


def _make_params_of():
    """``params_of(row)``: the :class:`Params` of one structured row, in compiled code.

    Written out from the field list, so that a field added to :class:`Params` reaches
    compiled code with nothing else to edit; compiled code then reads the record's
    numbers as values (registers), its tables as views into the row.
    """
    body = ", ".join(f"row.{name}" for name in Params._fields)
    namespace: dict[str, object] = {"Params": Params}
    exec(f"def params_of(row):\n    return Params({body})\n", namespace)
    function = namespace["params_of"]
    function.__doc__ = _make_params_of.__doc__
    return register_jitable(function)


params_of = _make_params_of()


class ParamSchedule:
    """The records a run reads: one per distinct set of events in force, and which one
    each week reads (``index[week]``)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.records: list[Params] = []
        seen: dict[tuple[int, ...], int] = {}
        weeks = scenario.weeks
        index = np.empty(weeks, np.int64)
        # the events in force change only where an event starts or is undone
        starts = sorted(
            {0}
            | {e.week for e in scenario.events if e.week < weeks}
            | {e.until for e in scenario.events if e.until is not None and e.until < weeks}
        )
        for start, stop in zip(starts, [*starts[1:], weeks], strict=True):
            active = tuple(events_in_force(scenario.events, start))
            if active not in seen:
                seen[active] = len(self.records)
                self.records.append(Params.from_scenario(scenario.at_week(start)))
            index[start:stop] = seen[active]
        self.index = index

    def __call__(self, week: int) -> Params:
        return self.records[int(self.index[min(week, len(self.index) - 1)])]
