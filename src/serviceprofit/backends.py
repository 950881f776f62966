"""The backends, registered in one explicit dict: each has the same ``run`` signature
and returns the same :class:`~serviceprofit.result.RunResult`."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

__all__ = ["BACKENDS", "get_backend"]

# name -> module holding ``run(scenario, seed, keep_agents, progress) -> RunResult``.
BACKENDS: dict[str, str] = {
    "mesa": "serviceprofit.mesa_backend",
    "numba": "serviceprofit.numba_backend",
}


def get_backend(name: str) -> Callable[..., Any]:
    """The ``run`` function of a backend, imported on first use (imports stay cheap)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; allowed: {', '.join(sorted(BACKENDS))}")
    return import_module(BACKENDS[name]).run
