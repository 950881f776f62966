"""The numbers a week of the model reads, flattened from the scenario in force.

Both backends read the same :class:`Params`, so a lever means the same thing in each.
Events change the scenario in force; :func:`params_for_week` resolves it once per
distinct set of events and caches the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rules import POLICY_CODES
from .scenario import CHANNELS, Behaviour, Scenario

__all__ = ["ParamSchedule", "Params"]


@dataclass(frozen=True, slots=True)
class Params:
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
    reorganising_at_start: bool  # the organisation is adopted at week 0 (pays merge_weeks)
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
    # channels and segments as arrays (read-only)
    hop_probability: float
    channel_cumulative: np.ndarray
    contact_cost: np.ndarray
    segment_cumulative: np.ndarray
    segment_spend: np.ndarray
    segment_expectation: np.ndarray
    segment_issue_multiplier: np.ndarray
    segment_complaint: np.ndarray
    # the calibration constants of the behaviour rules
    b: Behaviour

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Params:
        s = scenario.strategy
        proc, org, tech = s.process, s.organisation, s.technology
        b = scenario.behaviour
        one_view = org.one_view
        self_service_success = b.self_service_success
        productivity = 1.0
        if tech.focus == "operations":
            productivity += tech.productivity_gain
        else:
            one_view = min(1.0, one_view + tech.one_view_gain * (1.0 - one_view))
            self_service_success = min(1.0, self_service_success + tech.self_service_gain)
        mix = scenario.channels.mix
        channel_share = np.array([mix.get(c, 0.0) for c in CHANNELS])
        seg = scenario.segments
        measurement = s.measurement
        return cls(
            handle_time=proc.handle_time,
            empowerment=proc.empowerment,
            scripts=proc.scripts,
            training_per_head=proc.training_per_head,
            wage_per_week=proc.wage_per_week,
            target_utilisation=proc.target_utilisation,
            self_service=proc.self_service,
            departments=org.departments,
            misroute_probability=org.misroute_probability,
            handoff_satisfaction_penalty=org.handoff_satisfaction_penalty,
            handoff_resolution_penalty=org.handoff_resolution_penalty,
            handoff_time_share=org.handoff_time_share,
            one_view=one_view,
            feedback_share=org.feedback_share,
            merge_weeks=org.merge_weeks,
            coordination_time_share=org.coordination_time_share,
            reorganising_at_start=org.since == "start_of_run",
            technology_per_head=tech.spend_per_head,
            productivity=productivity,
            self_service_success=self_service_success,
            marketing_spend=s.marketing.spend_per_week,
            cost_per_acquisition=s.marketing.cost_per_acquisition,
            complexity=s.product.complexity,
            upgrade_every_weeks=s.product.upgrade_every_weeks,
            upgrade_issue_surge=s.product.upgrade_issue_surge,
            upgrade_unfixes=s.product.upgrade_unfixes,
            survey_lag_weeks=0 if measurement.real_time else measurement.survey_lag_weeks,
            survey_noise=0.0 if measurement.real_time else measurement.survey_noise,
            policy=POLICY_CODES[scenario.owner.policy],
            review_every=scenario.owner.review_every,
            required_margin=scenario.owner.required_margin,
            satisfaction_target=scenario.owner.satisfaction_target,
            staff_satisfaction_target=scenario.owner.staff_satisfaction_target,
            headcount_step=scenario.owner.headcount_step,
            training_step=scenario.owner.training_step,
            contact_hours=scenario.economics.contact_hours_per_week,
            paid_hours=scenario.economics.paid_hours_per_week,
            turnover_cost_share=scenario.economics.turnover_cost_share,
            hiring_lag_weeks=scenario.economics.hiring_lag_weeks,
            self_service_cost=scenario.economics.self_service_cost,
            recovery_cost=scenario.economics.recovery_cost,
            hop_probability=scenario.channels.hop_probability,
            channel_cumulative=np.cumsum(channel_share) / channel_share.sum(),
            contact_cost=np.array([scenario.economics.contact_cost[c] for c in CHANNELS]),
            segment_cumulative=np.cumsum([x.share for x in seg]) / sum(x.share for x in seg),
            segment_spend=np.array([x.weekly_spend for x in seg]),
            segment_expectation=np.array([x.expectation for x in seg]),
            segment_issue_multiplier=np.array([x.issue_rate_multiplier for x in seg]),
            segment_complaint=np.array([x.complaint_propensity for x in seg]),
            b=b,
        )


class ParamSchedule:
    """Params in force each week, resolved once per distinct set of active events."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._cache: dict[tuple[int, ...], Params] = {}

    def __call__(self, week: int) -> Params:
        active = tuple(
            i
            for i, e in enumerate(self.scenario.events)
            if e.week <= week and (e.until is None or week < e.until)
        )
        if active not in self._cache:
            self._cache[active] = Params.from_scenario(self.scenario.at_week(week))
        return self._cache[active]
