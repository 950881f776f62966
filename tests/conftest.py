"""Shared fixtures: small scenarios that run in a fraction of a second."""

from __future__ import annotations

from pathlib import Path

import pytest

from serviceprofit import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

SMALL = {"population.customers": 300, "population.staff": 4, "weeks": 26}


@pytest.fixture
def small() -> Scenario:
    """The baseline firm at 300 customers and 4 staff for half a year."""
    return load_scenario(SCENARIOS / "baseline.yaml", SMALL)


@pytest.fixture
def scenarios_dir() -> Path:
    return SCENARIOS
