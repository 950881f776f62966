"""Importing the CLI stays cheap: a bad-input answer must not wait for heavy libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numba", "matplotlib", "mesa")


def test_cli_import_loads_no_heavy_library() -> None:
    """`import serviceprofit.cli` loads none of pandas, numba, matplotlib or mesa."""
    code = (
        f"import sys, serviceprofit.cli\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_bad_scenario_answer_loads_no_heavy_library(tmp_path) -> None:
    """A scenario that fails to load is answered before any heavy library is imported."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("x: [\n")
    code = (
        "import sys\n"
        "from serviceprofit.cli import main\n"
        f"rc = main(['run', {str(bad)!r}])\n"
        f"print(rc, ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2"], out.stdout
    assert "bad.yaml" in out.stderr


def test_public_names_survive_their_submodules_being_imported() -> None:
    """The public functions stay functions after the modules that define them are
    imported (a lazy name would be shadowed by a submodule of the same name)."""
    code = (
        "import serviceprofit.backends.simulate, serviceprofit.comparison.compare\n"
        "import serviceprofit.sweeps.sweep, serviceprofit.model.result, serviceprofit as sp\n"
        "print(callable(sp.simulate), callable(sp.compare), callable(sp.sweep),"
        " isinstance(sp.RunResult, type))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True", "True"]
