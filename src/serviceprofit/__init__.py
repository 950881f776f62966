"""serviceprofit: an agent-based simulation of the service-profit chain.

Importing the package is cheap: backends, plotting and the demo load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from serviceprofit.backends.simulate import simulate, simulate_many, simulate_market
from serviceprofit.model.scenario import Scenario, ScenarioError, load_scenario

if TYPE_CHECKING:
    from serviceprofit.comparison.compare import Comparison, compare
    from serviceprofit.model.result import RunResult
    from serviceprofit.sweeps.sweep import sweep

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
    "RunResult": (".model.result", "RunResult"),
    "compare": (".comparison.compare", "compare"),
    "Comparison": (".comparison.compare", "Comparison"),
    "sweep": (".sweeps.sweep", "sweep"),
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        value = getattr(import_module(module, __name__), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
