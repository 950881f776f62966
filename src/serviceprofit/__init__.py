"""serviceprofit: an agent-based simulation of the service-profit chain.

Importing the package is cheap: backends, plotting and the demo load on first use.
"""

from __future__ import annotations

from .result import RunResult
from .scenario import Scenario, ScenarioError, load_scenario
from .simulate import simulate

__all__ = ["RunResult", "Scenario", "ScenarioError", "load_scenario", "simulate"]
__version__ = "0.1.0"
