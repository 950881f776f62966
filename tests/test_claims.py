"""The five claims of MODEL.md emerge from the mechanisms, over 10 paired seeds.

The firm is scaled to 40% (2,000 customers, 20 staff, 40% of the marketing spend), on the
numba backend (the claims are about the model, not Mesa; both backends run one week), so
the suite stays quick; `serviceprofit claims --scale 1` checks the full-size firm.
Each comparison is a paired difference over seeds judged by its 95% interval; the
magnitudes use the bounds stated in serviceprofit/comparison/claims.py.
"""

from __future__ import annotations

import pytest

from serviceprofit.comparison.claims import measure_claims
from serviceprofit.model.seeds import replicate_seeds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(request):
    scenarios = request.config.rootpath / "scenarios"
    return measure_claims(scenarios, seeds=10, scale=0.4, backend="numba", workers=2)


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_claim_holds(report, number):
    """Claim N of MODEL.md holds for the default calibration (see its statement)."""
    claim = report.claims[number - 1]
    assert claim.number == number
    failed = [name for name, ok in claim.checks.items() if not ok]
    assert not failed, f"claim {number} fails: {failed}; figures: {claim.figures}"


def test_claims_use_ten_paired_seeds(report):
    """Every claim run has the same ten seeds, replicates 0..9 of base seed 0, so
    differences are paired (and replicate i is the same run as in a comparison)."""
    expected = sorted(replicate_seeds(0, 10))
    seeds = report.runs.groupby("run")["seed"].apply(lambda s: sorted(s))
    assert len(seeds) == len(report.runs["run"].unique()) > 1
    assert all(list(s) == expected for s in seeds)
