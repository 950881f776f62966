"""The week's parameters in a form compiled code can read.

:class:`~serviceprofit.params.Params` holds the behaviour constants on a pydantic object,
which numba cannot read. :func:`week_params` copies, by name, every number the kernels
pass to the rules into one flat named tuple of floats, ints and float64 arrays, so that
the kernels read exactly what the Mesa agents read from ``Params`` and calibration
changes reach both backends without touching this package.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..params import Params

__all__ = ["WeekParams", "week_params"]


class WeekParams(NamedTuple):
    """Everything the kernels read from one week's :class:`Params`."""

    # issues and routing
    issue_rate: float
    complexity: float
    moment_of_truth_share: float
    departments: int
    self_service: float
    self_service_success: float
    misroute_probability: float
    one_view: float
    # service and outcome
    moment_of_truth_weight: float
    handle_time: float
    handoff_time_share: float
    wait_penalty: float
    issue_max_age_weeks: int
    reference_handle_time: float
    empowerment: float
    scripts: float
    resolution_base: float
    resolution_skill: float
    resolution_staff_satisfaction: float
    resolution_time: float
    resolution_empowerment: float
    resolution_one_view: float
    handoff_resolution_penalty: float
    resolution_moment_of_truth: float
    resolution_scripts: float
    quality_resolved: float
    quality_unresolved: float
    handoff_satisfaction_penalty: float
    satisfaction_rate: float
    hop_probability: float
    # complaint and recovery
    complaint_severity_multiplier: float
    recovery_success: float
    recovery_boost: float
    # churn, spend, word of mouth
    churn_base: float
    churn_steepness: float
    competitor_pull: float
    newcomer_boost: float
    newcomer_weeks: float
    churn_cap: float
    tenure_growth: float
    tenure_cap_years: float
    upsell: float
    promoter_threshold: float
    detractor_threshold: float
    # staff
    training_per_head: float
    training_half: float
    technology_per_head: float
    tools_half: float
    wage_per_week: float
    market_wage: float
    quality_training: float
    quality_tools: float
    quality_empowerment: float
    quality_pay: float
    pressure_penalty: float
    mirror_weight: float
    staff_satisfaction_rate: float
    learning_rate: float
    training_learning_boost: float
    erosion_time_constant: float
    recovery_time_constant: float
    quit_base: float
    quit_reference: float
    quit_steepness: float
    pressure_exponent: float
    # tables (float64 arrays)
    channel_cumulative: np.ndarray
    contact_cost: np.ndarray
    segment_cumulative: np.ndarray
    segment_spend: np.ndarray
    segment_expectation: np.ndarray
    segment_issue_multiplier: np.ndarray
    segment_complaint: np.ndarray


_INTS = frozenset({"departments", "issue_max_age_weeks"})
_ARRAYS = frozenset(
    {
        "channel_cumulative",
        "contact_cost",
        "segment_cumulative",
        "segment_spend",
        "segment_expectation",
        "segment_issue_multiplier",
        "segment_complaint",
    }
)


def week_params(p: Params) -> WeekParams:
    """Flatten ``p`` (and its behaviour constants ``p.b``) into a :class:`WeekParams`.

    Each field is looked up by its name on ``p`` first, then on ``p.b``; types are fixed
    (float, int, contiguous float64 array) so the kernels compile once.
    """
    values = {}
    for name in WeekParams._fields:
        value = getattr(p, name) if hasattr(p, name) else getattr(p.b, name)
        if name in _ARRAYS:
            values[name] = np.ascontiguousarray(value, dtype=np.float64)
        elif name in _INTS:
            values[name] = int(value)
        else:
            values[name] = float(value)
    return WeekParams(**values)
