"""compare: replicated runs under common random numbers, their statistics, the outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from serviceprofit import load_scenario
from serviceprofit.cli import main
from serviceprofit.comparison.compare import compare, t_interval
from serviceprofit.comparison.crossing import find_crossing, first_week_ahead_for_good
from serviceprofit.comparison.report import (
    format_table,
    reading,
    scenario_differences,
    write_comparison,
)
from serviceprofit.model.outcomes import OUTCOMES
from serviceprofit.model.result import SUMMARY_FIELDS
from serviceprofit.model.seeds import replicate_seeds

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SMALL = {"population.customers": 800, "population.staff": 8, "weeks": 52}
PAIR = [SCENARIOS / "customer_value.yaml", SCENARIOS / "cost_minimised.yaml"]
TINY = {"population.customers": 300, "population.staff": 4, "weeks": 20}


@pytest.fixture(scope="module")
def parallel():
    """Two shipped scenarios, three replicates each, on a pool of two processes."""
    return compare(PAIR, replicates=3, overrides=SMALL, workers=2)


@pytest.fixture(scope="module")
def written(parallel, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    return out, write_comparison(parallel, out)


def test_files_and_columns(written):
    """The tidy table, one row per run, and one self-contained report."""
    out, paths = written
    names = {"comparison.csv", "runs.csv", "report.html", "provenance.json"}
    assert {p.name for p in out.iterdir()} == names
    tidy = pd.read_csv(paths["comparison"])
    assert list(tidy.columns) == ["scenario", "outcome", "statistic", "value"]
    assert set(tidy.outcome) == set(OUTCOMES)
    base = {"n", "mean", "sd", "half_width", "ci_low", "ci_high"}
    diffs = {"diff_mean", "diff_half_width", "diff_ci_low", "diff_ci_high"}
    assert set(tidy[tidy.scenario == "customer_value"].statistic) == base
    assert set(tidy[tidy.scenario == "cost_minimised"].statistic) == base | diffs
    runs = pd.read_csv(paths["runs"])
    assert set(runs.columns) == {"run_id", "replicate", *SUMMARY_FIELDS}
    assert len(runs) == 2 * 3
    html = paths["report"].read_text()
    assert html.count("data:image/png;base64,") >= 4
    assert 'src="http' not in html and "<link" not in html


def test_every_interval_contains_its_mean(parallel):
    """Each interval, of a mean and of a paired difference, brackets its own estimate."""
    wide = parallel.wide()
    assert (wide.ci_low <= wide["mean"]).all() and (wide["mean"] <= wide.ci_high).all()
    others = wide[wide.scenario != parallel.baseline]
    assert (others.diff_ci_low <= others.diff_mean).all()
    assert (others.diff_mean <= others.diff_ci_high).all()


def test_intervals_are_student_t_of_the_runs(parallel):
    """Means, intervals and paired differences recomputed from runs.csv with scipy agree."""
    runs = parallel.runs
    base = runs[runs.scenario == "customer_value"].set_index("replicate")
    other = runs[runs.scenario == "cost_minimised"].set_index("replicate")
    for outcome in ("profit_total", "churn_rate_annual", "fcr_mean"):
        x = other[outcome].to_numpy(float)
        low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
        assert parallel.statistic("cost_minimised", outcome, "ci_low") == pytest.approx(low)
        assert parallel.statistic("cost_minimised", outcome, "ci_high") == pytest.approx(high)
        d = (other[outcome] - base[outcome]).to_numpy(float)
        low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
        assert parallel.statistic("cost_minimised", outcome, "diff_ci_low") == pytest.approx(low)
        assert parallel.statistic("cost_minimised", outcome, "diff_ci_high") == pytest.approx(high)


def test_serial_equals_parallel(parallel):
    """A pool of processes gives exactly what one process gives."""
    serial = compare(PAIR, replicates=3, overrides=SMALL, workers=1)
    pd.testing.assert_frame_equal(serial.runs, parallel.runs)
    pd.testing.assert_frame_equal(serial.table, parallel.table)
    pd.testing.assert_frame_equal(serial.weekly, parallel.weekly)


def test_replicates_share_seeds_across_scenarios(parallel):
    """Replicate i of every scenario runs on the same seed; replicates differ."""
    per_replicate = parallel.runs.groupby("replicate").seed.nunique()
    assert (per_replicate == 1).all()
    assert parallel.runs.seed.nunique() == parallel.replicates
    assert not set(replicate_seeds(0, 20)) & set(replicate_seeds(1, 20))


def test_progress_counts_every_run():
    """The progress callback sees every finished run on Mesa, ending at the total."""
    calls: list[tuple[int, int]] = []
    compare(
        PAIR,
        replicates=2,
        overrides=TINY,
        workers=1,
        backend="mesa",
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(i, 4) for i in range(1, 5)]


def test_progress_on_numba_counts_up_to_the_total():
    """On numba runs finish an ensemble call at a time: counts rise to the total."""
    calls: list[tuple[int, int]] = []
    compare(PAIR, replicates=2, overrides=TINY, progress=lambda d, t: calls.append((d, t)))
    done = [d for d, _ in calls]
    assert done == sorted(set(done)) and done[-1] == 4
    assert {t for _, t in calls} == {4}


def test_baseline_first_and_added_when_missing():
    """The baseline leads the comparison; a baseline file not listed is added."""
    by_name = compare(PAIR, replicates=2, overrides=TINY, workers=1, baseline="cost_minimised")
    assert by_name.names == ["cost_minimised", "customer_value"]
    added = compare(
        [SCENARIOS / "merged.yaml"],
        replicates=2,
        overrides=TINY,
        workers=1,
        baseline=SCENARIOS / "silo.yaml",
    )
    assert added.names == ["silo", "merged"]
    assert set(added.table[added.table.scenario == "merged"].statistic) >= {"diff_mean"}


def test_what_differs_follows_the_files(parallel):
    """cost_minimised.yaml differs from customer_value.yaml only in its process."""
    differences = scenario_differences(parallel)
    keys = [k for k, _ in differences]
    assert "strategy.process.preset" in keys
    assert all(k.startswith("strategy.process.") for k in keys)
    process = load_scenario(PAIR[1], SMALL).strategy.process
    assert dict(differences)["strategy.process.handle_time"][1] == process.handle_time


def test_table_marks_exactly_the_clear_differences(parallel):
    """One row per outcome; a star where the paired interval excludes zero, nowhere else."""
    text = format_table(parallel)
    rows = {line.split()[0]: line for line in text.splitlines() if line.split()[0] in OUTCOMES}
    assert set(rows) == set(OUTCOMES)
    for outcome, line in rows.items():
        assert line.rstrip().endswith("*") == parallel.differences_exclude_zero(
            "cost_minimised", outcome
        )


def test_reading_follows_the_intervals(parallel):
    """The reading names only clear differences (the leading ones), and counts the rest."""
    from serviceprofit.comparison.report import lead_differences
    from serviceprofit.model.outcomes import SUMMARY

    paragraph = next(p for p in reading(parallel) if p.startswith("Compared with"))
    clear = [o for o in OUTCOMES if parallel.differences_exclude_zero("cost_minimised", o)]
    lead = lead_differences(parallel, "cost_minimised")
    assert set(lead) <= set(clear)
    for outcome in lead:
        assert SUMMARY[outcome].label in paragraph
    unclear = len(OUTCOMES) - len(clear)
    assert ("no clear difference" in paragraph) == (unclear > 0 or not clear)
    if lead and unclear:
        assert f"{unclear} outcome" in paragraph


def test_crossing_is_where_the_mean_gap_turns_for_good(parallel):
    """The long-term winner is behind before the crossing week and ahead from it on."""
    crossing = find_crossing(parallel)
    mean = parallel.weekly.groupby(["scenario", "week"]).cumulative_profit.mean()
    final = parallel.weekly.week.max()
    leader = mean.xs(final, level="week").idxmax()
    assert crossing.long_term == leader
    if crossing.week is not None:
        gap = mean[crossing.long_term] - mean[crossing.short_term]
        assert (gap.loc[crossing.week :] > 0).all()
        if crossing.week > gap.index.min():
            assert gap.loc[crossing.week - 1] <= 0


@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=40))
def test_first_week_ahead_for_good(values):
    """The week found starts the final run of positive gaps, and none is found without one."""
    gap = np.array(values)
    weeks = np.arange(1, len(gap) + 1)
    week = first_week_ahead_for_good(weeks, gap)
    if gap[-1] <= 0:
        assert week is None
        return
    i = week - 1
    assert (gap[i:] > 0).all()
    assert i == 0 or gap[i - 1] <= 0


@settings(deadline=None)  # the first example imports scipy.stats: slow on a busy machine
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=30))
def test_t_interval_matches_scipy(values):
    """The half-width is scipy's Student-t 95% interval of the mean."""
    mean, _, half = t_interval(values)
    x = np.asarray(values)
    if x.std() == 0:
        assert half == 0
        return
    low, high = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert mean - half == pytest.approx(low, rel=1e-9, abs=1e-6)
    assert mean + half == pytest.approx(high, rel=1e-9, abs=1e-6)


@pytest.mark.slow
def test_common_random_numbers_narrow_the_interval_of_a_difference():
    """Pairing replicate i of both scenarios on one seed narrows the 95% interval of their
    difference, compared with running the second scenario on independent seeds."""
    for base, other in (("customer_value", "cost_minimised"), ("silo", "merged")):
        files = [SCENARIOS / f"{base}.yaml", SCENARIOS / f"{other}.yaml"]
        paired = compare(files, replicates=8, overrides=SMALL)
        independent = compare(files, replicates=8, overrides=SMALL, seed=10_000)
        # The same baseline runs (seed 0) against the other scenario on seeds from 10_000.
        x = paired.runs[paired.runs.scenario == base].sort_values("replicate")
        y_paired = paired.runs[paired.runs.scenario == other].sort_values("replicate")
        y_apart = independent.runs[independent.runs.scenario == other].sort_values("replicate")
        assert not set(y_apart.seed) & set(x.seed)
        for outcome in ("profit_first_13_weeks", "revenue_total", "profit_total"):
            _, _, half_paired = t_interval(y_paired[outcome].to_numpy() - x[outcome].to_numpy())
            _, _, half_apart = t_interval(y_apart[outcome].to_numpy() - x[outcome].to_numpy())
            assert half_paired < half_apart, (base, other, outcome, half_paired, half_apart)


def test_cli_compare_writes_and_prints(tmp_path, capsys):
    """The command prints the table and where the report is."""
    args = ["compare", str(PAIR[0]), str(PAIR[1]), "--replicates", "2", "--workers", "1"]
    sets = [f"--set={k}={v}" for k, v in TINY.items()]
    assert main([*args, *sets, "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "customer_value (baseline)" in printed and "Δ cost_minimised" in printed
    assert f"report: {tmp_path / 'out' / 'report.html'}" in printed
    assert (tmp_path / "out" / "report.html").stat().st_size > 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--replicates", "1"], "--replicates 1"),
        (["--workers", "0"], "--workers 0"),
        (["--baseline", "nowhere"], "--baseline"),
        (["--set", "strategy.nope=1"], "strategy.nope: unknown key"),
    ],
)
def test_cli_compare_bad_input(extra, message, capsys):
    """Bad input: one line naming the option or key, exit code 2, no traceback."""
    assert main(["compare", str(PAIR[0]), str(PAIR[1]), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_same_name_twice_is_refused(capsys):
    """Two scenarios with one name cannot be told apart in the table."""
    assert main(["compare", str(PAIR[0]), str(PAIR[0])]) == 2
    assert "both named 'customer_value'" in capsys.readouterr().err


def test_a_scenario_against_its_twin_differs_by_exactly_zero():
    """Under common random numbers a scenario and its renamed copy run identically."""
    scenario = load_scenario(PAIR[0], TINY)
    twin = scenario.with_overrides({"name": "twin"})
    same = compare([scenario, twin], replicates=2, workers=1)
    for outcome in OUTCOMES:
        assert same.statistic("twin", outcome, "diff_mean") == 0.0
        assert same.statistic("twin", outcome, "diff_half_width") == 0.0
    assert same.statistic("twin", "profit_total", "half_width") > 0.0


# ---------------------------------------------------------------------------
# Markets: compare --firm

MARKET_SMALL = {
    "weeks": 40,
    "market.customers": 600,
    "market.prospects.initial": 120,
    "market.prospects.arrivals_per_week": 2,
    "firms.steady.population.staff": 4,
    "firms.frugal.population.staff": 4,
    "firms.frugal.events.0.week": 10,
}


def _market_pair(tmp_path: Path) -> list[Path]:
    """The shipped two-firm market (frugal cuts cost in week 10) and the same market where
    frugal keeps its process, as files beside each other."""
    from serviceprofit.model.shipped import shipped_dir

    shipped = shipped_dir("markets") / "rivals_one_cuts_cost.yaml"
    cuts = tmp_path / "cuts.yaml"
    cuts.write_text(shipped.read_text().replace("name: rivals_one_cuts_cost", "name: cuts"))
    stays = tmp_path / "stays.yaml"
    text = shipped.read_text().replace("name: rivals_one_cuts_cost", "name: stays")
    stays.write_text(
        text.replace("strategy.process: cost_minimised", "strategy.process: customer_value")
    )
    return [stays, cuts]


@pytest.fixture(scope="module")
def market_comparison(tmp_path_factory):
    """Two markets, three replicates each, focal firm frugal (numba)."""
    files = _market_pair(tmp_path_factory.mktemp("markets"))
    return compare(files, replicates=3, overrides=MARKET_SMALL, firm="frugal", backend="numba")


def test_market_comparison_pairs_the_focal_firm(market_comparison):
    """The focal firm's runs are the market runs' focal firm, replicate i on one seed in
    every market, and its market figures get paired intervals like every outcome."""
    from serviceprofit import simulate_market
    from serviceprofit.model.outcomes import MARKET_OUTCOMES

    c = market_comparison
    assert c.names == ["stays", "cuts"] and c.market.firm == "frugal"
    assert (c.runs.groupby("replicate").seed.nunique() == 1).all()
    assert set(c.runs.firm) == {"frugal"}
    assert set(MARKET_OUTCOMES) <= set(c.table.outcome)
    row = c.runs[(c.runs.scenario == "cuts") & (c.runs.replicate == 1)].iloc[0]
    alone = simulate_market(c.market.markets[1], seed=int(row.seed)).firms["frugal"].summary
    for outcome in ("profit_total", "customers_final", "market_share_final"):
        assert row[outcome] == pytest.approx(alone[outcome])
    # common random numbers: the markets differ from week 10 on, so before it replicate i
    # is the same run in both
    w = c.weekly[c.weekly.week < 10].set_index(["replicate", "week"])
    before = w[w.scenario == "stays"].drop(columns="scenario")
    pd.testing.assert_frame_equal(before, w[w.scenario == "cuts"].drop(columns="scenario"))


def test_market_comparison_reports_rivals_shares_and_flows(market_comparison, tmp_path):
    """Every firm of every run is kept; shares add to one each week; flows are conserved:
    what a firm lost to rivals, rivals won from it."""
    m = market_comparison.market
    assert len(m.firms) == 2 * 3 * 2 and m.firms.focal.sum() == 2 * 3
    total = m.weekly.groupby(["scenario", "replicate", "week"]).market_share.sum()
    assert np.allclose(total, 1.0)
    moves = m.switching[m.switching["from"].isin(["steady", "frugal"])]
    moves = moves[moves.to.isin(["steady", "frugal"]) & (moves["from"] != moves.to)]
    lost = m.firms.groupby(["scenario", "replicate"]).lost_to_rivals_total.sum()
    assert (moves.groupby(["scenario", "replicate"]).people.sum() == lost).all()
    flows = m.flows("cuts")
    assert list(flows.columns) == ["steady", "frugal", "outside"][: len(flows.columns)]
    paths = write_comparison(market_comparison, tmp_path)
    for name in ("firms", "switching", "shares"):
        assert paths[name].is_file()
    html = paths["report"].read_text()
    assert "Comparing markets for frugal" in html and 'id="rivals"' in html
    assert "Market shares over time" in html and "Who went where in cuts" in html
    assert html.count("data:image/png;base64,") >= 6
    assert "--firm frugal" in html  # the equivalent command, for a comparison made in Python


def test_cli_compare_markets(tmp_path, capsys):
    """compare --firm prints the focal firm's table and its rivals; rerun reproduces a run."""
    files = [str(p) for p in _market_pair(tmp_path)]
    sets = [x for k, v in MARKET_SMALL.items() for x in ("--set", f"{k}={v}")]
    out = tmp_path / "out"
    args = ["compare", *files, "--firm", "frugal", "--replicates", "2", *sets, "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "market_share_final" in printed and "frugal (focal)" in printed
    assert (out / "switching.csv").is_file()
    assert main(["rerun", str(out), "3"]) == 0
    assert "identical" in capsys.readouterr().out.lower()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "needs --firm NAME"),
        (["--firm", "nobody"], "no firm 'nobody'"),
    ],
)
def test_cli_compare_markets_bad_firm(tmp_path, capsys, extra, message):
    """A market comparison without a firm, or with one no market has, is refused in one
    line naming the firms."""
    files = [str(p) for p in _market_pair(tmp_path)]
    assert main(["compare", *files, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "steady" in err and "frugal" in err
    assert "Traceback" not in err


def test_cli_compare_refuses_markets_with_scenarios(tmp_path, capsys):
    """A market beside a single-firm scenario is refused; so is --firm on scenarios."""
    market = _market_pair(tmp_path)[0]
    assert main(["compare", str(market), str(PAIR[0]), "--firm", "frugal"]) == 2
    assert "cannot compare a single-firm scenario with a market" in capsys.readouterr().err
    assert main(["compare", str(PAIR[0]), str(PAIR[1]), "--firm", "frugal"]) == 2
    assert "--firm" in capsys.readouterr().err
