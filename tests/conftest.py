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


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, or a skip that says how to get it."""
    from .browser import CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip(
            "needs Debian's Chromium at /usr/bin/chromium: `apt-get install chromium` "
            "(or `make browser` as root)"
        )
    pytest.importorskip("playwright.sync_api")
    return CHROMIUM
