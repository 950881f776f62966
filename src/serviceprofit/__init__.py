"""serviceprofit: an agent-based simulation of the service-profit chain.

Importing the package is cheap: backends, plotting and the demo load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .scenario import Scenario, ScenarioError, load_scenario

# Eager: a lazy ``simulate`` would be shadowed by the submodule of that name once imported.
from .simulate import simulate, simulate_many, simulate_market

if TYPE_CHECKING:
    from .comparison import Comparison, compare
    from .result import RunResult
    from .sweeps import sweep

__all__ = [
    "Comparison",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "compare",
    "load_scenario",
    "simulate",
    "simulate_many",
    "simulate_market",
    "sweep",
]
__version__ = "0.1.0"

# Names imported on first use: (module, attribute). Keeps ``import serviceprofit`` cheap:
# results and runs need pandas, which a bad-input answer from the CLI should not load.
_LAZY: dict[str, tuple[str, str]] = {
    "RunResult": (".result", "RunResult"),
    "compare": (".comparison", "compare"),
    "Comparison": (".comparison", "Comparison"),
    "sweep": (".sweeps", "sweep"),
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        value = getattr(import_module(module, __name__), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
