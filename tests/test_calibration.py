"""Calibration: targets checked at the door, parameters recovered, resumable, reproducible."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from serviceprofit.calibration.targets import TargetsError, load_targets, weeks_of_month
from serviceprofit.cli import main
from serviceprofit.model.scenario import load_scenario

pytest.importorskip("pyabc")

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
EXAMPLE = ROOT / "examples" / "firm40k"
# The two constants the default set fits for churn and FCR targets.
KEYS = ("behaviour.churn_base", "behaviour.resolution_base")


def small_firm(tmp_path: Path, customers: int = 600, staff: int = 6, weeks: int = 26) -> Path:
    """A small firm (the baseline's ratios) so that a calibration takes seconds."""
    path = tmp_path / "firm.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "extends": str(BASELINE),
                "name": "small",
                "weeks": weeks,
                "population": {"customers": customers, "staff": staff},
                "strategy": {"marketing": {"spend_per_week": customers / 5}},
            }
        )
    )
    return path


def observe(firm: Path, truth: dict[str, float], seed: int) -> dict[str, float]:
    """A synthetic firm's figures: one run of the model at known constants."""
    from serviceprofit import simulate

    summary = simulate(firm, backend="numba", seed=seed, overrides=truth).summary
    return {k: float(summary[k]) for k in ("churn_rate_annual", "fcr_mean")}


def write_targets(path: Path, observed: dict[str, float], fit: dict, se: dict[str, float]) -> Path:
    data = {
        "targets": {k: {"value": v, "se": se[k]} for k, v in observed.items()},
        "fit": fit,
    }
    path.write_text(yaml.safe_dump(data))
    return path


FCR = "targets: {fcr_mean: {value: 0.7, se: 0.01}}\n"
SE = {"churn_rate_annual": 0.015, "fcr_mean": 0.03}  # about the model's own sd at this size


# ---------------------------------------------------------------------------
# Targets at the door


def _targets(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "targets: {churn_rate: {value: 0.2, se: 0.01}}",
            r"targets\.churn_rate: unknown KPI; did you mean 'churn_rate_annual'",
        ),
        (
            "targets: {fcr_mean: {value: 0.7, range: [0.8, 0.6]}}",
            r"targets\.fcr_mean: .*low < high",
        ),
        ("targets: {fcr_mean: {value: 0.9, range: [0.6, 0.8]}}", r"outside its range"),
        ("targets: {fcr_mean: {value: 0.7}}", r"give either se"),
        ("targets: {fcr_mean: {value: 0.7, se: -1}}", r"targets\.fcr_mean\.se"),
        ("targets: {fcr_mean: {value: 1.7, se: 0.01}}", r"outside what the KPI can be"),
        ("targtes: {fcr_mean: {value: 0.7, se: 0.01}}", r"unknown key; did you mean 'targets'"),
        ("targets: {}", r"targets: give at least one"),
        (
            FCR + "parameters: {behaviour.churn_bas: {prior: uniform, low: 0.001, high: 0.01}}",
            r"parameters\.behaviour\.churn_bas: not a scenario key; "
            r"did you mean 'behaviour\.churn_base'",
        ),
        (
            FCR + "parameters: {behaviour.churn_base: {prior: normal, mean: 0.002, sd: 0.01}}",
            r"the prior reaches -0\.0\d+, which the key cannot take",
        ),
        (
            FCR + "parameters: {behaviour.churn_base: {prior: log_uniform, low: 0, high: 0.01}}",
            r"low > 0",
        ),
        (
            FCR + "parameters: {behaviour.issue_max_age_weeks: {prior: uniform, low: 2, high: 9}}",
            r"holds a int; only real-valued keys",
        ),
        (
            "targets: {complaint_share_of_churners: {value: 0.2, se: 0.05}}",
            r"parameters: none of these targets",
        ),
        ("weeks: 0\ntargets: {fcr_mean: {value: 0.7, se: 0.01}}", r"weeks: must be greater"),
        ("- 1\n- 2", r"must be a mapping"),
        ("targets: [", r"not valid YAML"),
    ],
)
def test_bad_targets_get_one_line_naming_the_key(tmp_path: Path, text: str, match: str) -> None:
    """Every problem in a targets file is a TargetsError naming the file and the key."""
    scenario = load_scenario(BASELINE)
    with pytest.raises(TargetsError, match=match) as info:
        load_targets(_targets(tmp_path, text), scenario)
    assert "\n" not in str(info.value) and str(tmp_path) in str(info.value)


def test_series_window_outside_the_horizon(tmp_path: Path) -> None:
    """A series window past the weeks simulated is refused, naming the horizon."""
    (tmp_path / "weekly.csv").write_text("week,fcr\n0,0.7\n1,0.71\n")
    path = _targets(
        tmp_path,
        """
        weeks: 26
        series: {file: weekly.csv, window: [0, 30], metrics: {fcr: {se: 0.02}}}
        """,
    )
    with pytest.raises(
        TargetsError, match=r"series\.window: \[0, 30\] ends after the horizon: weeks 0 to 25"
    ):
        load_targets(path, load_scenario(BASELINE))


def test_series_rows_and_columns_are_checked(tmp_path: Path) -> None:
    """A series CSV: rows outside the window, unknown metrics and non-numbers are refused."""
    scenario = load_scenario(BASELINE)
    (tmp_path / "weekly.csv").write_text("week,fcr\n0,0.7\n9,0.71\n")
    spec = "series: {{file: weekly.csv, window: [0, 5], metrics: {{{metric}: {{se: 0.02}}}}}}"
    with pytest.raises(TargetsError, match=r"week 9 .* lies outside series\.window \[0, 5\]"):
        load_targets(_targets(tmp_path, spec.format(metric="fcr")), scenario)
    with pytest.raises(
        TargetsError, match=r"series\.metrics\.fcrr: unknown weekly metric; did you mean 'fcr'\?"
    ):
        load_targets(_targets(tmp_path, spec.format(metric="fcrr")), scenario)
    (tmp_path / "weekly.csv").write_text("week,fcr\n0,0.7\n1,nan\n")
    with pytest.raises(TargetsError, match=r"weekly\.csv: fcr: line 3: must be a finite number"):
        load_targets(_targets(tmp_path, spec.format(metric="fcr")), scenario)


def test_monthly_series_become_statistics_over_their_weeks(tmp_path: Path) -> None:
    """Month m covers weeks ceil(52m/12) .. ceil(52(m+1)/12) - 1; twelve months cover 52 weeks."""
    spans = [weeks_of_month(m) for m in range(12)]
    assert spans[0][0] == 0 and spans[-1][1] == 51
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(spans))
    (tmp_path / "monthly.csv").write_text("month,churn_rate\n0,0.004\n1,0.0038\n")
    path = _targets(
        tmp_path,
        """
        series: {file: monthly.csv, every: month, window: [0, 51],
                 metrics: {churn_rate: {se: 0.001}}}
        """,
    )
    spec = load_targets(path, load_scenario(BASELINE))
    assert [s.key for s in spec.statistics] == ["series.churn_rate.m0", "series.churn_rate.m1"]
    assert spec.statistics[1].weeks == weeks_of_month(1)
    assert list(spec.priors) == ["behaviour.churn_base"]


def test_cli_bad_targets_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The CLI reports a bad targets file in one line with exit code 2, no traceback."""
    path = _targets(tmp_path, "targets: {fcr: {value: 0.7, se: 0.01}}")
    code = main(["calibrate", str(BASELINE), "--targets", str(path), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "targets.fcr: unknown KPI; did you mean 'fcr_mean'?" in err


def test_range_is_read_as_a_95_percent_interval(tmp_path: Path) -> None:
    """A range [low, high] gives its midpoint and sigma = half-width / 1.96."""
    path = _targets(tmp_path, "targets: {fcr_mean: {range: [0.66, 0.74]}}")
    (stat,) = load_targets(path, load_scenario(BASELINE)).statistics
    assert stat.observed == pytest.approx(0.70)
    assert stat.sigma == pytest.approx(0.04 / 1.959964, rel=1e-6)


def test_docs_table_of_default_priors_is_the_code(request: pytest.FixtureRequest) -> None:
    """docs/calibration.md lists every default constant with the prior the code uses."""
    from serviceprofit.calibration.priors import (
        DEFAULT_PRIORS,
        SERIES_PARAMETERS,
        TARGET_PARAMETERS,
    )

    text = (request.config.rootpath / "docs" / "calibration.md").read_text()
    for key, prior in DEFAULT_PRIORS.items():
        informed = [k for k, v in {**TARGET_PARAMETERS, **SERIES_PARAMETERS}.items() if key in v]
        row = f"| `{key}` | {prior.describe()} | " + ", ".join(f"`{k}`" for k in informed)
        assert row in text, row


# ---------------------------------------------------------------------------
# Fitting


def test_recovers_one_synthetic_firm(tmp_path: Path) -> None:
    """Quick loop: figures made by the model at known constants are calibrated back; both
    constants' true values lie in their 90% posterior intervals, narrower than the prior's."""
    from serviceprofit.calibration import calibrate

    firm = small_firm(tmp_path)
    truth = {"behaviour.churn_base": 0.004, "behaviour.resolution_base": -2.0}
    observed = observe(firm, truth, seed=101)
    fit = {"population": 25, "generations": 3, "seed": 3, "predictive_draws": 10}
    targets = write_targets(tmp_path / "targets.yaml", observed, fit, SE)
    result = calibrate(firm, targets, tmp_path / "out")
    params = result.parameters.set_index("key")
    for key, value in truth.items():
        assert params.loc[key, "low"] <= value <= params.loc[key, "high"], (key, params.loc[key])
        assert params.loc[key, "width_ratio"] < 1.0
    assert result.posterior["weight"].sum() == pytest.approx(1.0)
    # The calibrated scenario extends the input and holds the posterior medians.
    calibrated = load_scenario(result.files["scenario"])
    assert "extends:" in result.files["scenario"].read_text()
    assert calibrated.behaviour.churn_base == pytest.approx(params.loc[KEYS[0], "median"])
    assert calibrated.population == load_scenario(firm).population
    saved = pd.read_parquet(result.files["posterior"])
    assert set(KEYS) <= set(saved.columns) and "weight" in saved.columns
    html = result.files["report"].read_text()
    assert html.count("data:image/png;base64,") >= 4 and "<script" not in html


def test_same_seed_same_posterior(tmp_path: Path) -> None:
    """Sampling in this process is a pure function of the seed: two runs, one posterior."""
    from serviceprofit.calibration import calibrate

    firm = small_firm(tmp_path)
    observed = observe(firm, {}, seed=5)
    fit = {"population": 10, "generations": 2, "seed": 7, "predictive_draws": 4}
    targets = write_targets(tmp_path / "t.yaml", observed, fit, SE)
    a = calibrate(firm, targets, tmp_path / "a").posterior
    b = calibrate(firm, targets, tmp_path / "b").posterior
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
def test_local_dask_cluster_gives_the_same_posterior(tmp_path: Path) -> None:
    """Proposals are seeded by (seed, generation, number), so two Dask workers, finishing in
    any order, give exactly the posterior drawn in this process."""
    from serviceprofit.calibration import calibrate
    from serviceprofit.sweeps.evaluators import LocalDaskEvaluator

    firm = small_firm(tmp_path)
    observed = observe(firm, {}, seed=5)
    fit = {"population": 10, "generations": 2, "seed": 7, "predictive_draws": 4}
    targets = write_targets(tmp_path / "t.yaml", observed, fit, SE)
    here = calibrate(firm, targets, tmp_path / "here")
    with LocalDaskEvaluator(2) as engine:
        there = calibrate(firm, targets, tmp_path / "dask", engine=engine)
    pd.testing.assert_frame_equal(here.posterior, there.posterior)
    pd.testing.assert_frame_equal(here.history, there.history)


def test_killed_calibration_resumes_and_finishes(tmp_path: Path) -> None:
    """Kill the command after its first generation; the same command continues from there."""
    firm = small_firm(tmp_path)
    observed = observe(firm, {}, seed=9)
    fit = {"population": 15, "generations": 3, "seed": 1, "predictive_draws": 4, "tolerance": 0.01}
    targets = write_targets(tmp_path / "t.yaml", observed, fit, SE)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "serviceprofit.cli", "calibrate", str(firm)]
    command += ["--targets", str(targets), "--out", str(out)]
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    for line in process.stderr:  # progress lines: "generation 1/3: ..."
        if "generation 1/3" in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL
    assert not (out / "report.html").exists()
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert "(resumed after 1)" in finished.stdout or "(resumed after 2)" in finished.stdout
    resumed = pd.read_parquet(out / "posterior.parquet")
    assert int(resumed["generation"].iloc[0]) == 2  # three generations, 0-based
    assert (out / "report.html").exists() and (out / "calibrated.yaml").exists()
    # Seeds depend on (seed, generation, proposal) alone: resuming changes nothing.
    from serviceprofit.calibration import calibrate

    uninterrupted = calibrate(firm, targets, tmp_path / "whole").posterior
    pd.testing.assert_frame_equal(resumed, uninterrupted)


def test_other_inputs_never_continue_a_directory(tmp_path: Path) -> None:
    """A directory holding a calibration of other figures is refused, not mixed in; one
    with the same figures and more generations allowed continues."""
    from serviceprofit.calibration import calibrate
    from serviceprofit.calibration.fit import CalibrationError

    firm = small_firm(tmp_path)
    fit = {"population": 10, "generations": 1, "seed": 0, "predictive_draws": 2}
    first = write_targets(tmp_path / "a.yaml", {"churn_rate_annual": 0.2}, fit, SE)
    calibrate(firm, first, tmp_path / "out")
    other = write_targets(tmp_path / "b.yaml", {"churn_rate_annual": 0.3}, fit, SE)
    with pytest.raises(CalibrationError, match="holds a calibration of other inputs"):
        calibrate(firm, other, tmp_path / "out")
    # More generations (or minutes) is not another input: the fit continues.
    more = write_targets(
        tmp_path / "a.yaml", {"churn_rate_annual": 0.2}, {**fit, "generations": 2}, SE
    )
    result = calibrate(firm, more, tmp_path / "out")
    assert result.resumed_from == 1 and len(result.history) == 2


@pytest.mark.slow
def test_example_firm_is_scale_invariant_at_a_quarter() -> None:
    """The worked example runs at scale 0.25: churn and FCR there match full size (8 seeds
    each; a difference must exceed 3 standard errors *and* a quarter of the target's se to
    count)."""
    from serviceprofit.calibration.fit import _scale_check

    scenario = load_scenario(EXAMPLE / "firm.yaml")
    spec = load_targets(EXAMPLE / "targets.yaml", scenario)
    check = _scale_check(scenario, spec)
    assert check is not None and check["invariant"].all(), check


@pytest.mark.slow
def test_recovery_coverage_over_ten_synthetic_firms(tmp_path: Path) -> None:
    """Ten firms with constants drawn from the prior: the true value lies in its 90%
    posterior interval for at least 80% of parameters x firms, and the posterior is
    narrower than the prior for both constants (the targets inform both)."""
    from serviceprofit.calibration import calibrate
    from serviceprofit.calibration.priors import DEFAULT_PRIORS

    firm = small_firm(tmp_path)
    rng = np.random.default_rng(2026)
    inside, ratios = [], {k: [] for k in KEYS}
    for i in range(10):
        truth = {k: float(DEFAULT_PRIORS[k].distribution().rvs(random_state=rng)) for k in KEYS}
        observed = observe(firm, truth, seed=1000 + i)
        fit = {"population": 40, "generations": 5, "seed": i, "predictive_draws": 4}
        targets = write_targets(tmp_path / f"t{i}.yaml", observed, fit, SE)
        params = calibrate(firm, targets, tmp_path / f"out{i}").parameters.set_index("key")
        for key, value in truth.items():
            inside.append(params.loc[key, "low"] <= value <= params.loc[key, "high"])
            ratios[key].append(params.loc[key, "width_ratio"])
        print(
            f"firm {i}: truth {truth}; "
            f"intervals {params[['low', 'high', 'width_ratio']].to_dict('index')}"
        )
    coverage = float(np.mean(inside))
    print(
        f"coverage {coverage:.0%}; mean width ratios "
        + ", ".join(f"{k} {np.mean(v):.2f}" for k, v in ratios.items())
    )
    assert coverage >= 0.8
    for key in KEYS:
        assert np.mean(ratios[key]) < 1.0


# ---------------------------------------------------------------------------
# Comparing with the posterior


def _small(tmp_path: Path, name: str, organisation: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "extends": str(small_firm(tmp_path)),
                "name": name,
                "strategy": {"organisation": organisation},
            }
        )
    )
    return path


def test_compare_with_a_one_point_posterior_equals_a_plain_compare(tmp_path: Path) -> None:
    """A posterior of one point runs exactly the plain comparison at that point: same
    runs, same statistics (the posterior only adds its own rows)."""
    from serviceprofit.comparison.compare import compare

    point = {"behaviour.churn_base": 0.003, "behaviour.resolution_base": -1.7}
    posterior = tmp_path / "posterior.parquet"
    pd.DataFrame([{**point, "weight": 1.0}]).to_parquet(posterior)
    scenarios = [_small(tmp_path, "silo_s", "silo"), _small(tmp_path, "merged_s", "merged")]
    common = {"replicates": 4, "backend": "numba", "seed": 3, "workers": 1}
    plain = compare(scenarios, overrides=point, **common)
    drawn = compare(scenarios, posterior=posterior, **common)
    pd.testing.assert_frame_equal(plain.runs, drawn.runs.drop(columns="draw"))
    merged = drawn.table.merge(plain.table, on=["scenario", "outcome", "statistic"])
    assert len(merged) == len(plain.table)
    np.testing.assert_array_equal(merged["value_x"], merged["value_y"])
    extra = set(drawn.table["statistic"]) - set(plain.table["statistic"])
    assert {"diff_cred_low", "p_better", "diff_noise_sd", "diff_parameter_sd"} <= extra
    assert drawn.draws == [0, 0, 1, 1]


def test_compare_posterior_splits_noise_from_parameters(tmp_path: Path) -> None:
    """With two far-apart posterior points, the churn difference between draws is mostly
    parameter uncertainty; P(better) is the share of draws where merged churns less."""
    from serviceprofit.comparison.compare import compare

    posterior = tmp_path / "posterior.parquet"
    pd.DataFrame(
        {
            "behaviour.churn_base": [0.001, 0.01],
            "behaviour.resolution_base": [-1.5, -1.5],
            "weight": [0.5, 0.5],
        }
    ).to_parquet(posterior)
    scenarios = [_small(tmp_path, "silo_s", "silo"), _small(tmp_path, "merged_s", "merged")]
    result = compare(
        scenarios, replicates=12, backend="numba", seed=0, workers=1, posterior=posterior
    )
    levels = {
        s: result.statistic("silo_s", "churn_rate_annual", s)
        for s in ("noise_sd", "parameter_sd", "parameter_share")
    }
    assert levels["parameter_sd"] > 3 * levels["noise_sd"], levels
    p = result.statistic("merged_s", "churn_rate_annual", "p_better")
    assert 0.0 <= p <= 1.0
    from serviceprofit.comparison.report import format_table, render_html

    assert "With the posterior" in format_table(result)
    assert "Parameter uncertainty" in render_html(result)


def test_cli_compare_with_a_missing_posterior_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """--posterior pointing at no calibration: exit 2, one line."""
    scenarios = [str(_small(tmp_path, "a", "silo")), str(_small(tmp_path, "b", "merged"))]
    code = main(["compare", *scenarios, "--posterior", str(tmp_path / "nothing")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no posterior here" in err


def test_series_statistics_sum_flows_and_average_levels_over_the_month(tmp_path: Path) -> None:
    """A monthly point of a flow (churned customers) is the month's sum, of a level (FCR)
    the month's mean; at scale s a flow is divided by s, a rate is not."""
    from serviceprofit import simulate
    from serviceprofit.calibration.model import statistics_of
    from serviceprofit.calibration.targets import Statistic

    run = simulate(small_firm(tmp_path), backend="numba", seed=1)
    first, last = weeks_of_month(2)
    stats = (
        Statistic("a", 0.0, 1.0, "a", "customers_churned", (first, last)),
        Statistic("b", 0.0, 1.0, "b", "fcr", (first, last)),
    )
    got = statistics_of(run, stats, scale=0.5)
    window = run.timeseries.iloc[first : last + 1]
    assert got["a"] == pytest.approx(window["customers_churned"].sum() / 0.5)
    assert got["b"] == pytest.approx(window["fcr"].mean())


def test_cli_calibrate_out_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--out naming a file: exit 2, one line, nothing run."""
    (tmp_path / "taken").write_text("")
    path = _targets(tmp_path, "targets: {fcr_mean: {value: 0.7, se: 0.01}}")
    code = main(
        ["calibrate", str(BASELINE), "--targets", str(path), "--out", str(tmp_path / "taken")]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "exists and is not a directory" in err
