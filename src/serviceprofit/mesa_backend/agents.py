"""Customers, staff and the owner as Mesa agents.

Every decision is a rule from :mod:`serviceprofit.rules`; every random draw comes from
the model's dice, keyed on (run, purpose, week, agent) so that the agent meets the same
luck in every scenario with the same seed. The order of a week lives in ``model.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from .. import rules
from ..rng import Stream

if TYPE_CHECKING:
    from ..firm import Tally
    from ..params import Params
    from .model import ServiceProfitModel

from ..rules import (  # outcome of a customer's last issue, for the defection diagnostics
    DEFECTION_WINDOW_WEEKS,
    NO_OUTCOME,
    RESOLVED_FIRST,
    RESOLVED_LATER,
    UNRESOLVED,
)


class Customer(mesa.Agent):
    """A customer: satisfaction against expectation, an open issue or none, a channel."""

    model: ServiceProfitModel

    def __init__(
        self,
        model: ServiceProfitModel,
        uid: int,
        segment: int,
        channel: int,
        satisfaction: float,
        tenure: float,
    ) -> None:
        super().__init__(model)
        p = model.params
        self.uid = uid
        self.segment = segment
        self.expectation = float(p.segment_expectation[segment])
        self.channel = channel
        self.satisfaction = satisfaction
        self.tenure = tenure
        self.lifetime_revenue = 0.0
        self.ever_complained = False
        self.issue_open = False
        self.issue_age = 0
        self.handoffs = 0
        self.moment_of_truth = False
        self.fresh = False  # the issue has not yet had its first contact with staff
        self.complained = False  # about the open issue (one complaint per issue)
        self.hopped = False
        self.department = 0
        self.contacted = False
        self.outcome = NO_OUTCOME
        self.outcome_week = 0
        self.new_handoffs = 0

    # 3. issues ---------------------------------------------------------------
    def develop_issue(self, p: Params, surge: float, fixed_share: float, t: Tally) -> None:
        """Maybe a new issue; routine ones may first be tried in self-service."""
        self.contacted = False
        if self.issue_open:
            return
        dice, b = self.model.dice, p.b
        chance = rules.issue_probability(
            b.issue_rate,
            p.complexity,
            p.segment_issue_multiplier[self.segment],
            fixed_share,
            surge,
        )
        if dice(Stream.ISSUE, self.uid) >= chance:
            return
        self.issue_open, self.issue_age, self.handoffs = True, 0, 0
        self.fresh, self.hopped, self.complained = True, False, False
        self.moment_of_truth = dice(Stream.CRITICALITY, self.uid) < b.moment_of_truth_share
        self.department = int(dice(Stream.DEPARTMENT, self.uid) * p.departments)
        if not self.moment_of_truth and dice(Stream.SELF_SERVICE, self.uid) < p.self_service:
            t.self_service_uses += 1
            if dice(Stream.SELF_SERVICE_OK, self.uid) < p.self_service_success:
                self.issue_open = False
            else:
                self.issue_age = 1  # a failed self-service attempt costs a week

    # 4. routing --------------------------------------------------------------
    def seek_service(self, p: Params) -> int:
        """Route the open issue to a department; count handoffs on the way."""
        dice = self.model.dice
        self.new_handoffs = 0
        if dice(Stream.MISROUTE, self.uid) < p.misroute_probability:
            self.new_handoffs += 1  # wrong department, or escalation to a specialist
        if self.hopped and dice(Stream.HOP, self.uid) >= p.one_view:
            self.new_handoffs += 1  # a new channel without one view: the story again
        self.hopped = False
        self.department = min(self.department, p.departments - 1)
        return self.department

    # 5-6. service, outcome, complaint ----------------------------------------
    def be_served(self, p: Params, served_share: float, t: Tally) -> None:
        dice, b, week = self.model.dice, p.b, self.model.week
        weight = rules.criticality_weight(self.moment_of_truth, b.moment_of_truth_weight)
        load = 1.0 + p.handoff_time_share * self.new_handoffs
        t.demand_hours += p.handle_time * load
        if dice(Stream.SERVED, self.uid) >= served_share:
            self.satisfaction = rules.wait_satisfaction(self.satisfaction, weight, b.wait_penalty)
            self._age_issue(p)
            t.backlog += 1
            return
        self.contacted = True
        self.handoffs += self.new_handoffs
        server = self.model.pick_server(self.department, dice(Stream.STAFF_PICK, self.uid))
        taken = server.time_taken
        chance = rules.resolution_probability(
            server.skill,
            server.satisfaction,
            taken / b.reference_handle_time,
            p.empowerment,
            p.one_view,
            self.handoffs,
            self.moment_of_truth,
            p.scripts,
            b.resolution_base,
            b.resolution_skill,
            b.resolution_staff_satisfaction,
            b.resolution_time,
            b.resolution_empowerment,
            b.resolution_one_view,
            p.handoff_resolution_penalty,
            b.resolution_moment_of_truth,
            b.resolution_scripts,
        )
        resolved = dice(Stream.RESOLVE, self.uid) < chance
        quality = rules.perceived_quality(
            resolved,
            self.handoffs,
            self.issue_age,
            b.quality_resolved,
            b.quality_unresolved,
            p.handoff_satisfaction_penalty,
            b.wait_penalty,
        )
        self.satisfaction = rules.update_satisfaction(
            self.satisfaction, self.expectation, quality, weight, b.satisfaction_rate
        )
        server.record_contact(self.satisfaction)
        t.contacts += 1
        t.handoffs += self.new_handoffs
        t.time_taken_sum += taken
        t.contact_cost += p.contact_cost[self.channel] * load
        if self.fresh:
            t.first_contacts += 1
            t.first_contact_resolved += resolved
        if resolved:
            experience = rules.contact_experience(quality, self.expectation)
            if self.handoffs == 0 and self.fresh:
                t.experience_first_sum += experience
                t.experience_first_n += 1
            elif self.handoffs > 0:
                t.experience_handoff_sum += experience
                t.experience_handoff_n += 1
            self._close(RESOLVED_FIRST if self.fresh else RESOLVED_LATER, week)
        else:
            if dice(Stream.HOP_CHANNEL, self.uid) < p.hop_probability:
                self.hopped = True
                self.channel = self.model.draw_channel(dice(Stream.CHANNEL, self.uid))
            self._age_issue(p)
        self.fresh = False
        if not self.complained and (not resolved or self.satisfaction < self.expectation):
            self._maybe_complain(p, t)

    def _maybe_complain(self, p: Params, t: Tally) -> None:
        dice, b = self.model.dice, p.b
        chance = rules.complaint_probability(
            p.segment_complaint[self.segment],
            self.moment_of_truth,
            b.complaint_severity_multiplier,
        )
        self.complained = True  # the chance to complain about this issue is spent
        if dice(Stream.COMPLAINT, self.uid) >= chance:
            return
        self.ever_complained = True
        t.complaints += 1
        if dice(Stream.RECOVERY, self.uid) < p.empowerment * b.recovery_success:
            self.satisfaction = rules.recover_satisfaction(
                self.satisfaction, self.expectation, b.recovery_boost
            )

    def _age_issue(self, p: Params) -> None:
        self.issue_age += 1
        if self.issue_age > p.b.issue_max_age_weeks:
            self._close(UNRESOLVED, self.model.week)  # the customer gives up

    def _close(self, outcome: int, week: int) -> None:
        self.issue_open = False
        self.outcome, self.outcome_week = outcome, week

    # 7-8. churn and revenue --------------------------------------------------
    def settle(self, p: Params, t: Tally) -> None:
        """Leave, or pay this week's spend and grow in tenure."""
        b, week = p.b, self.model.week
        tracked = self.outcome != NO_OUTCOME and week - self.outcome_week < DEFECTION_WINDOW_WEEKS
        if tracked:
            self.model.defection_at_risk[self.outcome] += 1
        hazard = rules.churn_hazard(
            self.satisfaction,
            self.expectation,
            self.tenure,
            b.churn_base,
            b.churn_steepness,
            b.competitor_pull,
            b.newcomer_boost,
            b.newcomer_weeks,
            b.churn_cap,
        )
        if self.model.dice(Stream.CHURN, self.uid) < hazard:
            t.churned += 1
            t.churned_complained += self.ever_complained
            t.churned_revenue += self.lifetime_revenue
            if tracked:
                self.model.defection_churned[self.outcome] += 1
            self.model.retire(self)
            return
        if not self.contacted:
            self.satisfaction = rules.drift_satisfaction(
                self.satisfaction, self.expectation, b.satisfaction_rate
            )
        spend = rules.weekly_spend(
            p.segment_spend[self.segment],
            self.tenure,
            self.satisfaction,
            self.expectation,
            b.tenure_growth,
            b.tenure_cap_years,
            b.upsell,
        )
        self.lifetime_revenue += spend
        self.tenure += 1
        t.revenue += spend


class Staff(mesa.Agent):
    """A member of staff: skill, satisfaction, a time standard, a department."""

    model: ServiceProfitModel

    def __init__(
        self,
        model: ServiceProfitModel,
        uid: int,
        department: int,
        skill: float,
        satisfaction: float,
        standard: float,
        tenure: float,
    ) -> None:
        super().__init__(model)
        self.uid = uid
        self.department = department
        self.skill = skill
        self.satisfaction = satisfaction
        self.standard = standard  # time per contact taken as normal (hours)
        self.time_taken = standard
        self.tenure = tenure
        self.mirror = satisfaction
        self.served_sum = 0.0
        self.served = 0

    def record_contact(self, customer_satisfaction: float) -> None:
        self.served_sum += customer_satisfaction
        self.served += 1

    def step(self) -> None:
        """Satisfaction, skill and time standard move; then perhaps quit."""
        model = self.model
        p, b = model.params, model.params.b
        training_level = rules.saturation(
            p.training_per_head * model.firm.training, b.training_half
        )
        quality = rules.internal_quality(
            training_level,
            rules.saturation(p.technology_per_head, b.tools_half),
            p.empowerment,
            p.wage_per_week / b.market_wage,
            model.pressure[min(self.department, len(model.pressure) - 1)],
            b.quality_training,
            b.quality_tools,
            b.quality_empowerment,
            b.quality_pay,
            b.pressure_penalty,
        )
        if self.served:
            self.mirror = self.served_sum / self.served
        self.served_sum, self.served = 0.0, 0
        self.satisfaction = rules.update_staff_satisfaction(
            self.satisfaction, quality, self.mirror, b.mirror_weight, b.staff_satisfaction_rate
        )
        self.skill = rules.update_skill(
            self.skill, training_level, b.learning_rate, b.training_learning_boost
        )
        self.standard = rules.update_time_standard(
            self.standard,
            self.time_taken,
            p.handle_time,
            b.erosion_time_constant,
            b.recovery_time_constant,
        )
        self.tenure += 1
        hazard = rules.quit_hazard(
            self.satisfaction, b.quit_base, b.quit_reference, b.quit_steepness
        )
        if model.dice(Stream.QUIT, self.uid) < hazard:
            model.tally.staff_quits += 1
            self.remove()


class Owner(mesa.Agent):
    """The owner: reviews lagged KPIs on its policy and holds the books (``model.firm``)."""

    model: ServiceProfitModel

    def step(self) -> None:
        self.model.params = self.model.firm.begin_week(self.model.week)

    @property
    def cash(self) -> float:
        return self.model.firm.cash

    @property
    def satisfaction(self) -> float:
        """The owner's own satisfaction: its return against the required return."""
        return self.model.firm.owner_satisfaction
