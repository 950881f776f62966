"""The backends, registered in one explicit dict: each has the same ``run`` signature
and returns the same :class:`~serviceprofit.model.result.RunResult`."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

__all__ = ["AUTO", "BACKENDS", "BACKEND_RULE", "get_backend", "resolve_backend"]

# name -> module holding ``run(scenario, seed, keep_agents, progress) -> RunResult``.
BACKENDS: dict[str, str] = {
    "mesa": "serviceprofit.backends.mesa",
    "numba": "serviceprofit.backends.numba",
}


def get_backend(name: str) -> Callable[..., Any]:
    """The ``run`` function of a backend, imported on first use (imports stay cheap)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; allowed: {', '.join(sorted(BACKENDS))}")
    return import_module(BACKENDS[name]).run


# The backend that ``compare`` and ``sweep`` use unless told: the numba backend runs the
# same model from the same rules and draws many times faster (docs/performance.md): a
# 40,000-customer comparison that takes Mesa most of an hour takes numba seconds.
# Mesa only when asked.
AUTO = "auto"
BACKEND_RULE = "auto (the default) is numba, the fast backend; mesa only when asked for"


def resolve_backend(name: str) -> str:
    """The backend a name stands for: ``auto`` is numba; any other name is itself."""
    return "numba" if name == AUTO else name
