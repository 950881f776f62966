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
