"""Running one scenario: the library's front door for a single run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backends import get_backend
from .scenario import Scenario, load_scenario

if TYPE_CHECKING:  # pandas: imported by the backends when a run is made, not before
    from .result import RunResult

__all__ = ["simulate"]


def simulate(
    scenario: Scenario | str | Path,
    backend: str = "mesa",
    seed: int = 0,
    *,
    keep_agents: bool = False,
    overrides: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run one scenario once; reproducible from (scenario, seed, backend).

    ``scenario`` is a :class:`Scenario` or a path to a YAML file; ``overrides`` are
    dotted keys applied on top. ``keep_agents`` adds the final customer and staff
    tables. ``progress(week, weeks)`` is called after every week.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, overrides)
    elif overrides:
        scenario = scenario.with_overrides(overrides)
    run = get_backend(backend)
    return run(scenario, seed=seed, keep_agents=keep_agents, progress=progress)
