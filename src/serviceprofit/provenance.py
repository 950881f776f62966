"""Provenance: what produced an output, recorded with it so it can be traced and re-run.

Every output (``run``'s summary.json, ``compare``'s provenance.json beside runs.csv and
report.html, a sweep's manifest) carries one record from :func:`record`: the package
version, the git commit and whether the checkout was dirty (when the package runs from
a checkout), Python and the versions of the libraries that decide the numbers, the
resolved scenarios as YAML (every default and preset filled in, so the record does not
depend on files that may change), the overrides given, the seeds, the backend, when it
started (UTC) and on which host, and the command line when the CLI ran it.

Nothing here runs at import time: the git query is a subprocess with a short timeout,
made on the first record and remembered for the life of the process.
"""

from __future__ import annotations

import json
import platform
import shlex
import socket
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serviceprofit.comparison.compare import Comparison
    from serviceprofit.model.scenario import Scenario

__all__ = [
    "DEPENDENCIES",
    "dependency_versions",
    "git_state",
    "invoked_as",
    "now",
    "record",
    "reproduce_html",
    "scenario_yaml",
    "write_record",
]

# The distributions whose versions can change the numbers or the files we write.
DEPENDENCIES: tuple[str, ...] = (
    "numpy",
    "numba",
    "mesa",
    "pandas",
    "pydantic",
    "PyYAML",
    "pyarrow",
    "dask",
    "SALib",
    "scipy",
)
GIT_TIMEOUT_S = 2.0

_command: list[str] | None = None


def now() -> str:
    """The current time, UTC, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def invoked_as(argv: Sequence[str]) -> Iterator[None]:
    """Within this block, records carry ``argv`` as the command that produced them.

    The CLI wraps each command in it; a library call outside records no command (the
    record's other fields still say how to reproduce it).
    """
    global _command
    previous, _command = _command, ["serviceprofit", *argv]
    try:
        yield
    finally:
        _command = previous


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(directory), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


@cache
def git_state() -> dict[str, Any] | None:
    """``{"commit": sha, "dirty": bool}`` when the package runs from a git checkout, else None.

    The package's own ``__init__.py`` must be tracked by the repository git finds: an
    installed copy inside some other repository's ignored folder (a venv in a checkout)
    is not that repository's code, and its commit would be a false claim.
    """
    package = Path(__file__).resolve().parent
    if _git(package, "ls-files", "--error-unmatch", "--", "__init__.py") is None:
        return None
    commit = _git(package, "rev-parse", "HEAD")
    status = _git(package, "status", "--porcelain")
    if commit is None or status is None:
        return None
    return {"commit": commit.strip(), "dirty": bool(status.strip())}


@cache
def dependency_versions() -> dict[str, str | None]:
    """Installed version of each of :data:`DEPENDENCIES` (None if not installed)."""
    versions: dict[str, str | None] = {}
    for name in DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def scenario_yaml(scenario: Scenario) -> str:
    """A scenario resolved to YAML: every default and preset written out."""
    import yaml

    return yaml.safe_dump(scenario.to_dict(), sort_keys=False)


def record(
    *,
    scenarios: Iterable[Scenario],
    backend: str,
    seeds: Any,
    overrides: dict[str, Any] | None = None,
    started: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The provenance record of one output; JSON-serialisable.

    ``seeds`` is what the output's runs were seeded with (one seed, a list, or the
    seed a sweep derives its runs' seeds from); ``extra`` adds output-specific fields.
    """
    from serviceprofit import __version__

    return {
        "serviceprofit": __version__,
        "git": git_state(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dependencies": dependency_versions(),
        "started": started or now(),
        "host": socket.gethostname(),
        "command": shlex.join(_command) if _command else None,
        "cwd": str(Path.cwd()),
        "backend": backend,
        "seeds": seeds,
        "overrides": dict(overrides or {}),
        **extra,
        "scenarios": {s.name: scenario_yaml(s) for s in scenarios},
    }


def write_record(provenance: dict[str, Any], path: Path) -> Path:
    """Write a record as JSON (``default=str`` for the odd path or numpy scalar)."""
    path.write_text(json.dumps(provenance, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def _equivalent_command(comparison: Comparison) -> str | None:
    """The ``serviceprofit compare`` command for a comparison made through the API."""
    sources = [comparison.sources.get(name) for name in comparison.names]
    if any(source is None for source in sources):
        return None
    words = ["serviceprofit", "compare", *(str(s) for s in sources)]
    words += ["--replicates", str(comparison.replicates), "--backend", comparison.backend]
    words += ["--seed", str(comparison.seed)]
    if comparison.market is not None:
        words += ["--firm", comparison.market.firm]
    for key, value in comparison.overrides.items():
        words += ["--set", f"{key}={value}"]
    return shlex.join(words)


def reproduce_html(comparison: Comparison) -> str:
    """The report's collapsible "How to reproduce" section."""
    from html import escape

    prov = comparison.provenance
    command = prov.get("command") or _equivalent_command(comparison)
    if command:
        how = (
            f"<p>The command that produced it, run in <code>{escape(str(prov.get('cwd')))}"
            f"</code>:</p><pre>{escape(command)}</pre>"
        )
    else:
        how = (
            "<p>The scenarios were given as objects, not files: their resolved YAML is in"
            " <code>provenance.json</code>.</p>"
        )
    git = prov.get("git")
    code = f"git commit {git['commit'][:12]}" if git else "not from a git checkout"
    if git and git["dirty"]:
        code += " with uncommitted changes"
    deps = ", ".join(f"{k} {v}" for k, v in (prov.get("dependencies") or {}).items() if v)
    return f"""<details><summary>How to reproduce</summary>
{how}
<p>Any one run, from its <code>run_id</code> in <code>runs.csv</code>, re-run and checked
against its row (DIR: the folder that holds this report):</p>
<pre>serviceprofit rerun DIR RUN_ID</pre>
<p class="meta">serviceprofit {escape(str(prov.get("serviceprofit")))} ({escape(code)}),
Python {escape(str(prov.get("python")))}, {escape(deps)}; backend
{escape(str(prov.get("backend")))}; started {escape(str(prov.get("started")))} on
{escape(str(prov.get("host")))}. <code>provenance.json</code> beside this file holds all of
it, with every scenario resolved to YAML.</p>
</details>
"""
