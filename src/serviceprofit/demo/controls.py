"""The levers a class can pull, named in the scenario's dotted vocabulary.

A control's key is the key a scenario file, ``--set`` and the sweeps use
(``strategy.marketing.spend_per_week``), so what a student changes on the page is
what they would write in a scenario to run it again at home. The choices come from
the shipped presets and the schema, never from a second list kept here.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from functools import cache
from typing import Any

from serviceprofit.model import keys
from serviceprofit.model.scenario import Owner, Scenario, presets

__all__ = ["PRESET_NODES", "Control", "controls", "node_of", "read"]

# Keys that name a preset: choosing one replaces every field of the preset at once.
PRESET_NODES: tuple[str, ...] = ("strategy.process", "strategy.organisation")


@dataclass(frozen=True)
class Control:
    """One lever: a choice among names, or a number on a slider."""

    key: str
    label: str
    help: str
    choices: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 1.0
    step: float = 0.01


@cache
def controls() -> tuple[Control, ...]:
    """The levers each firm gets on the page, in the order the page shows them."""
    table = presets()
    policies = typing.get_args(Owner.model_fields["policy"].annotation)
    return (
        Control(
            "strategy.process",
            "Service process",
            "a preset: designed for customer value, or to minimise cost per contact",
            choices=tuple(table["process"]),
        ),
        Control(
            "strategy.organisation",
            "Organisation",
            "a preset: separate departments (silo), or one customer-engagement team",
            choices=tuple(table["organisation"]),
        ),
        Control(
            "strategy.marketing.spend_per_week",
            "Marketing spend a week",
            "money spent each week to buy new customers",
            low=0.0,
            high=8000.0,
            step=250.0,
        ),
        Control(
            "owner.policy",
            "Owner policy",
            "fixed: no changes; profit_first: cuts staff and training when profit "
            "misses target; balanced: also weighs customer and staff scores",
            choices=tuple(policies),
        ),
        Control(
            "strategy.process.empowerment",
            "Empowerment",
            "staff authority to fix problems and compensate customers (0 to 1)",
            low=0.0,
            high=1.0,
            step=0.05,
        ),
        Control(
            "strategy.process.training_per_head",
            "Training per head a week",
            "training spend per staff member per week",
            low=0.0,
            high=150.0,
            step=5.0,
        ),
        Control(
            "strategy.process.handle_time",
            "Handle time per contact (hours)",
            "time staff may take per contact",
            low=0.2,
            high=1.2,
            step=0.05,
        ),
    )


def node_of(key: str) -> str:
    """The key a change is recorded under: a preset's whole node, or the key itself.

    Recording a process lever as the whole ``strategy.process`` node keeps later
    changes from being undone by earlier ones when the scenario merges its events.
    """
    for node in PRESET_NODES:
        if key == node or key.startswith(node + "."):
            return node
    return key


def read(scenario: Scenario | dict[str, Any], key: str) -> Any:
    """The value at a dotted key; a preset node reads as its preset's name."""
    node = keys.get(scenario.to_dict() if isinstance(scenario, Scenario) else scenario, key)
    if isinstance(node, dict) and "preset" in node:
        return node["preset"]
    return node
