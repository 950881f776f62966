"""Fixed-seed regression, one recorded run per backend (tests/golden/regenerate.py)."""

from __future__ import annotations

import json

import pytest

from serviceprofit import load_scenario, simulate
from serviceprofit.backends import BACKENDS

from .golden.regenerate import OVERRIDES, SCENARIO, SEED, golden_path


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_fixed_seed_regression(backend):
    """Each backend reproduces its recorded run to 1e-9."""
    golden = json.loads(golden_path(backend).read_text())
    result = simulate(load_scenario(SCENARIO, OVERRIDES), backend=backend, seed=SEED)
    for key, value in golden["summary"].items():
        expected = value if isinstance(value, str) else pytest.approx(value, rel=1e-9, abs=1e-9)
        assert result.summary[key] == expected, key
    for key, value in golden["last_week"].items():
        assert result.timeseries.iloc[-1][key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
