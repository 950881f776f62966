"""One seed scheme: replicate i is the same run in compare, claims and a sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from serviceprofit.model.seeds import replicate_seed, replicate_seeds


def test_replicate_seed_is_the_spawned_child() -> None:
    """Replicate i is child i of SeedSequence(seed).spawn, so compare's seeds are unchanged."""
    children = np.random.SeedSequence(7).spawn(5)
    expected = [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]
    assert replicate_seeds(7, 5) == expected
    assert [replicate_seed(7, i) for i in range(5)] == expected


@pytest.mark.slow
def test_replicate_is_the_same_run_in_compare_claims_and_sweep(tmp_path: Path) -> None:
    """Replicate 1 of a comparison, of the claims and of a sweep (common random numbers),
    with one base seed and the same scenario, is the same run: the same summary."""
    from serviceprofit.comparison import claims
    from serviceprofit.comparison.compare import compare
    from serviceprofit.sweeps.experiment import load_experiment
    from serviceprofit.sweeps.store import load_runs
    from serviceprofit.sweeps.sweep import sweep

    scenarios = Path(__file__).resolve().parents[1] / "scenarios"
    path, scale, seed, backend = scenarios / "customer_value.yaml", 0.05, 11, "numba"
    small = claims._scaled(path, scale)
    from_claims = claims.measure_claims(
        scenarios, seeds=2, scale=scale, backend=backend, workers=1, seed=seed
    ).runs
    from_claims = from_claims[(from_claims.run == "customer_value") & (from_claims.replicate == 1)]
    cmp = compare(
        [path, scenarios / "silo.yaml"],
        replicates=2,
        seed=seed,
        backend=backend,
        overrides=small,
        workers=1,
    )
    from_compare = cmp.runs[(cmp.runs.scenario == "customer_value") & (cmp.runs.replicate == 1)]
    sets = ", ".join(f"{k}: {v}" for k, v in small.items())
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(
        f"scenario: {path.as_posix()}\nset: {{{sets}}}\n"
        "factors:\n  weeks: [156]\ndesign: grid\nreplicates: 2\n"
        f"seed: {seed}\nbackend: {backend}\ncommon_random_numbers: true\n"
    )
    sweep(load_experiment(experiment), tmp_path / "out")
    runs = load_runs(tmp_path / "out")
    from_sweep = runs[runs.replicate == 1]
    for outcome in ("seed", "profit_total", "customers_final", "nps_final"):
        values = {float(f[outcome].iloc[0]) for f in (from_claims, from_compare, from_sweep)}
        assert len(values) == 1, (outcome, values)
