"""The scenarios, experiments and markets shipped inside the package, found by name.

The shipped files live in ``serviceprofit/data/scenarios``,
``serviceprofit/data/experiments`` and ``serviceprofit/data/markets`` (package data,
so a wheel carries them; a source checkout also links the first two from its
top-level ``scenarios/`` and ``experiments/``). A
user may name one bare, ``baseline`` or ``baseline.yaml``, wherever a file is asked
for: a file of that name in the current directory wins, the shipped one is the
fallback. The same rule serves the CLI, :func:`~serviceprofit.model.scenario.load_scenario`,
``extends:`` and an experiment's ``scenario:``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

__all__ = ["locate", "not_found", "shipped_dir", "shipped_names"]

Kind = Literal["scenarios", "experiments", "markets"]
SUFFIXES = (".yaml", ".yml")


def shipped_dir(kind: Kind) -> Path:
    """The folder of shipped ``kind`` files inside the installed package."""
    return Path(str(resources.files("serviceprofit").joinpath("data", kind)))


def shipped_names(kind: Kind) -> list[str]:
    """The names a user may give bare, e.g. ``["baseline", "merged", ...]``."""
    return sorted(p.stem for p in shipped_dir(kind).glob("*.yaml"))


def locate(path: str | Path, kind: Kind, folder: Path | None = None) -> Path:
    """``path`` (relative to ``folder`` if given) when it exists; else the shipped file.

    ``merged`` finds ``merged.yaml`` beside the caller first, then the shipped one.
    Only a bare name (no folder part) falls back to the shipped files, so a mistyped
    path is reported as the missing file the user gave, not silently replaced.
    """
    given = Path(path)
    here = folder / given if folder is not None else given
    if here.exists() or given.parent != Path("."):
        return here
    name = given.name if given.suffix in SUFFIXES else f"{given.name}.yaml"
    for candidate in (here.with_name(name), shipped_dir(kind) / name):
        if candidate.is_file():
            return candidate
    return here


def not_found(path: Path, kind: Kind) -> str | None:
    """The problem to report when ``locate`` found nothing for a bare name, else None."""
    if path.exists() or path.parent != Path("."):
        return None
    names = ", ".join(shipped_names(kind))
    return f"no such file, nor a shipped {kind[:-1]} of that name ({names})"
