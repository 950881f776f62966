"""Analysis of sweeps, checked on a backend with a known answer (tests/sweep_fake_backend).

``profit_total = sum(a_i * x_i)`` over three factors on [0, 1], so:
Sobol S1_i = ST_i = a_i^2 / sum(a^2) (independent uniform inputs, no interaction);
Morris mu*_i = |a_i| per full range with sigma_i = 0; the main effect at level x_i is
a_i * x_i plus the mean of the other terms. ``churn_rate_annual`` is x_1 * x_2, a pure
interaction, so its Morris sigma is positive for both factors.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from serviceprofit import cli
from serviceprofit.backends import BACKENDS
from serviceprofit.sweeps.analysis import SERIES_BINS, analyze
from serviceprofit.sweeps.evaluators import SequentialEvaluator
from serviceprofit.sweeps.experiment import ExperimentError
from serviceprofit.sweeps.store import load_runs
from serviceprofit.sweeps.sweep import sweep

from . import sweep_fake_backend
from .sweep_fake_backend import COEFFICIENTS, SERIES_WEEKS

ROOT = Path(__file__).resolve().parents[1]
BASE = (ROOT / "scenarios" / "baseline.yaml").as_posix()
EMP, SCR, SELF = COEFFICIENTS  # empowerment, scripts, self_service


def factors(grid: bool = False) -> str:
    points = ", points: 3" if grid else ""
    lines = [f"  {EMP}: {{low: 0, high: 1{points}}}"]
    lines.append(f"  {SCR}: [0.2, 0.8]" if grid else f"  {SCR}: {{low: 0, high: 1}}")
    lines.append(f"  {SELF}: {{low: 0, high: 1{points}}}")
    return "factors:\n" + "\n".join(lines) + "\n"


def experiment(tmp_path: Path, design: str, grid: bool = False, replicates: int = 1) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(
        f"scenario: {BASE}\n{factors(grid)}design: {design}\nreplicates: {replicates}\n"
        "backend: fake\nseed: 5\noutcomes: [profit_total, churn_rate_annual]\n"
    )
    return path


@pytest.fixture(autouse=True)
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "fake", sweep_fake_backend.__name__)


def swept(tmp_path: Path, design: str, keep_timeseries: bool = False, **kwargs) -> Path:
    out = tmp_path / "out"
    report = sweep(
        experiment(tmp_path, design, **kwargs),
        out,
        engine=SequentialEvaluator(),
        keep_timeseries=keep_timeseries,
    )
    assert report.complete
    return out


def test_sobol_indices_recover_a_linear_model(tmp_path: Path) -> None:
    """S1 and ST equal a_i^2 / sum(a^2) for an additive model, within 0.05."""
    report = analyze(swept(tmp_path, "{method: sobol, samples: 512}"))
    table = report.table[report.table["outcome"] == "profit_total"].set_index("factor")
    total = sum(a * a for a in COEFFICIENTS.values())
    for name, a in COEFFICIENTS.items():
        assert table.loc[name, "S1"] == pytest.approx(a * a / total, abs=0.05)
        assert table.loc[name, "ST"] == pytest.approx(a * a / total, abs=0.05)
        assert table.loc[name, "S1_conf"] >= 0
    assert [f.name for f in report.files] == ["sobol_indices.csv", "sobol_indices.png"]
    assert all(f.stat().st_size > 0 for f in report.files)


def test_morris_effects_are_the_coefficients(tmp_path: Path) -> None:
    """mu* is |a_i| per full range and sigma is 0 without interactions; an interaction
    shows up as sigma > 0."""
    report = analyze(swept(tmp_path, "{method: morris, trajectories: 10, levels: 4}"))
    table = report.table.set_index(["outcome", "factor"])
    for name, a in COEFFICIENTS.items():
        assert table.loc[("profit_total", name), "mu_star"] == pytest.approx(abs(a))
        assert table.loc[("profit_total", name), "sigma"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc[("churn_rate_annual", EMP), "sigma"] > 0.05
    assert table.loc[("churn_rate_annual", SELF), "mu_star"] == pytest.approx(0.0, abs=1e-9)


def test_grid_main_effects_are_level_means(tmp_path: Path) -> None:
    """The main effect at each level is the mean outcome over the runs at that level."""
    report = analyze(swept(tmp_path, "grid", grid=True, replicates=2))
    table = report.table[report.table["outcome"] == "profit_total"]
    rest = COEFFICIENTS[SCR] * 0.5 + COEFFICIENTS[SELF] * 0.5  # means of the other factors
    emp = table[table["factor"] == EMP].set_index("level")
    for level in (0.0, 0.5, 1.0):
        assert emp.loc[level, "mean"] == pytest.approx(COEFFICIENTS[EMP] * level + rest)
        assert emp.loc[level, "runs"] == 2 * 3 * 2  # scripts x self_service x replicates
    assert report.files[0].name == "main_effects.csv"


def test_latin_hypercube_ranks_factors_by_influence(tmp_path: Path) -> None:
    """Rank correlations order the factors as their coefficients do."""
    report = analyze(swept(tmp_path, "{method: latin_hypercube, samples: 200}"))
    table = report.table[report.table["outcome"] == "profit_total"].set_index("factor")
    rho = table["spearman"]
    assert rho[EMP] > rho[SCR] > abs(rho[SELF])
    assert abs(rho[SELF]) < 0.2


def test_unfinished_sobol_sweep_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sobol indices need every design point; the error says how to finish the sweep."""
    monkeypatch.setattr(sweep_fake_backend, "FAIL_ABOVE", 0.5)
    out = tmp_path / "out"
    report = sweep(
        experiment(tmp_path, "{method: sobol, samples: 16}"), out, engine=SequentialEvaluator()
    )
    assert report.failed > 0
    with pytest.raises(ExperimentError, match="run the same sweep command again"):
        analyze(out)


def test_cli_analyze_writes_table_and_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serviceprofit analyze DIR` prints the table and writes DIR/analysis/*.csv, *.png."""
    out = swept(tmp_path, "grid", grid=True)
    assert cli.main(["analyze", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "profit_total" in printed and "main_effects.png" in printed
    assert (out / "analysis" / "main_effects.csv").stat().st_size > 0
    assert (out / "analysis" / "main_effects.png").stat().st_size > 0
    assert cli.main(["analyze", str(tmp_path)]) == 2  # not a sweep directory


def test_cli_analyze_of_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file where a sweep directory belongs: exit 2, 'not a sweep directory'."""
    (tmp_path / "notes.txt").write_text("hello")
    assert cli.main(["analyze", str(tmp_path / "notes.txt")]) == 2
    assert "not a sweep directory" in capsys.readouterr().err


def test_analyze_sets_a_damaged_batch_aside_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A truncated batch file: analyze still answers from the rest, names the batch it set
    aside and says the sweep is unfinished; the next sweep redoes exactly its runs."""
    out = tmp_path / "out"
    path = experiment(tmp_path, "grid", grid=True, replicates=2)
    sweep(path, out, engine=SequentialEvaluator(), batch_size=9)
    victim = sorted((out / "runs").glob("batch-*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:100])
    assert cli.main(["analyze", str(out)]) == 0
    captured = capsys.readouterr()
    assert (
        f"set aside damaged batch runs/{victim.name} (unreadable: Parquet magic bytes not found"
        in captured.err
    )
    assert captured.err.strip().endswith("run the sweep command again to redo its runs")
    assert "(from 27 of 36 runs: the sweep is not finished)" in captured.out
    assert (out / "damaged" / "runs" / victim.name).exists()
    again = sweep(path, out, engine=SequentialEvaluator())
    assert (again.finished, again.skipped) == (9, 27)


def test_series_bands_are_means_and_percentiles_by_level(tmp_path: Path) -> None:
    """The band of customers_active at an empowerment level is the mean over its runs of
    seed % 1000 + 10 * level * week, between the 5th and 95th percentiles; one figure
    per factor."""
    out = swept(tmp_path, "grid", keep_timeseries=True, grid=True, replicates=2)
    report = analyze(out, series=["customers_active"])
    names = [f.name for f in report.files]
    assert [n for n in names if n.endswith(".png") and n.startswith("series_")] == [
        f"series_customers_active_{name}.png" for name in COEFFICIENTS
    ]
    bands = pd.read_csv(out / "analysis" / "series_customers_active.csv")
    runs = load_runs(out)
    emp = bands[bands["factor"] == EMP]
    assert len(emp) == 3 * SERIES_WEEKS
    for level, at in runs.groupby(EMP):
        base = at["customers_final"].mean()  # the fake's seed % 1000
        rows = emp[emp["level"] == level].set_index("week")
        for week in (1, SERIES_WEEKS):
            assert rows.loc[week, "mean"] == pytest.approx(base + 10 * level * week)
            assert rows.loc[week, "p05"] <= rows.loc[week, "mean"] <= rows.loc[week, "p95"]
            assert rows.loc[week, "runs"] == len(at)
    assert (out / "analysis" / f"series_customers_active_{EMP}.png").stat().st_size > 0


def test_series_of_a_sampled_range_are_binned(tmp_path: Path) -> None:
    """A sampled range has as many values as runs: its runs are cut into equal bins."""
    out = swept(tmp_path, "{method: latin_hypercube, samples: 30}", keep_timeseries=True)
    analyze(out, series=["profit"])
    bands = pd.read_csv(out / "analysis" / "series_profit.csv")
    emp = bands[(bands["factor"] == EMP) & (bands["week"] == 1)]
    assert len(emp) == SERIES_BINS and emp["runs"].sum() == 30


def test_series_need_kept_series_and_a_known_metric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--series on a sweep without kept series, or of an unknown metric: exit 2, one line."""
    out = swept(tmp_path, "grid", grid=True)
    assert cli.main(["analyze", str(out), "--series", "customers_active"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "kept no weekly series" in err
    assert "--keep-timeseries" in err
    assert cli.main(["analyze", str(out), "--series", "customers"]) == 2
    err = capsys.readouterr().err.strip()
    assert "series: unknown weekly metric 'customers'; allowed: customers_active," in err
