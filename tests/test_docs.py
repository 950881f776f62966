"""Documentation that is generated from the code stays true to it."""

from __future__ import annotations

from serviceprofit.docgen import render_scenario_reference


def test_scenario_reference_is_current(request):
    """docs/scenarios.md equals what the schema generates (regenerate with docgen)."""
    path = request.config.rootpath / "docs" / "scenarios.md"
    assert path.read_text() == render_scenario_reference(), (
        "docs/scenarios.md is stale: run `python -m serviceprofit.docgen docs/scenarios.md`"
    )


def test_every_key_is_documented():
    """No scenario key lacks a meaning in the reference."""
    for line in render_scenario_reference().splitlines():
        if line.startswith("| `") or line.startswith("| **`"):
            assert not line.rstrip().endswith("|  |"), line


def test_odd_provenance_covers_every_behaviour_constant_with_its_default(request):
    """docs/ODD.md gives every calibration constant, at its current default, a source."""
    import re

    from serviceprofit import Scenario

    text = (request.config.rootpath / "docs" / "ODD.md").read_text()
    rows = dict(re.findall(r"^\| `((?:behaviour|economics)\.\w+)` \| ([^|]+) \|", text, re.M))
    defaults = Scenario()
    for section in ("behaviour", "economics"):
        for name, value in getattr(defaults, section).model_dump().items():
            key = f"{section}.{name}"
            assert key in rows, f"{key} has no provenance row in docs/ODD.md"
            if isinstance(value, (int, float)):
                assert float(rows[key]) == float(value), f"{key}: ODD says {rows[key]}"


def test_lazy_exports_stay_functions_after_their_modules_load():
    """Importing the CLI (and so every submodule) leaves serviceprofit.compare and
    serviceprofit.sweep the functions, not modules of the same name."""
    import inspect

    import serviceprofit
    import serviceprofit.cli
    import serviceprofit.comparison
    import serviceprofit.sweeps

    assert inspect.isfunction(serviceprofit.compare)
    assert inspect.isfunction(serviceprofit.sweep)
