"""Sweeps: the same results on every engine, results that survive a kill, resume, refusal."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from serviceprofit import cli
from serviceprofit.backends import BACKENDS, get_backend
from serviceprofit.sweeps import store
from serviceprofit.sweeps.evaluators import (
    DaskEvaluator,
    ProcessPoolEvaluator,
    SequentialEvaluator,
)
from serviceprofit.sweeps.experiment import ExperimentError, load_experiment
from serviceprofit.sweeps.store import StoreError, load_runs, load_series
from serviceprofit.sweeps.sweep import sweep

from . import sweep_fake_backend

ROOT = Path(__file__).resolve().parents[1]
BASE = (ROOT / "scenarios" / "baseline.yaml").as_posix()
TINY = "set: {population.customers: 300, population.staff: 3, weeks: 26}\n"

# 2 x 2 grid x 2 replicates of a tiny Mesa firm: 8 runs, about a second in all.
MESA_GRID = (
    f"scenario: {BASE}\n{TINY}"
    "factors:\n"
    "  strategy.process: [cost_minimised, customer_value]\n"
    "  strategy.process.empowerment: {low: 0.3, high: 0.9, points: 2}\n"
    "design: grid\nreplicates: 2\nseed: 11\nbackend: mesa\n"
)

FAKE_SOBOL = (
    f"scenario: {BASE}\n"
    "factors:\n"
    "  strategy.process.empowerment: {low: 0, high: 1}\n"
    "  strategy.process.scripts: {low: 0, high: 1}\n"
    "  strategy.process.self_service: {low: 0, high: 1}\n"
    "design: {method: sobol, samples: 16}\nreplicates: 2\nseed: 3\nbackend: fake\n"
)


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def raw_rows(out: Path) -> pd.DataFrame:
    """Every row in every batch file, duplicates and all (load_runs would drop them)."""
    files = sorted((out / "runs").glob("batch-*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def comparable(runs: pd.DataFrame) -> pd.DataFrame:
    """Results without the wall-clock column, which no engine can reproduce."""
    return runs.drop(columns=["run_seconds"]).sort_values("run_id").reset_index(drop=True)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "fake", sweep_fake_backend.__name__)


@pytest.fixture(scope="module")
def dask_cluster():
    """One local Dask cluster of two worker processes for the module (start-up is slow)."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def sequential_mesa(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The tiny Mesa grid run in this process: the reference every engine must match."""
    tmp = tmp_path_factory.mktemp("reference")
    report = sweep(write(tmp, MESA_GRID), tmp / "out", engine=SequentialEvaluator())
    assert report.complete
    return comparable(load_runs(tmp / "out"))


def test_process_pool_matches_sequential(tmp_path: Path, sequential_mesa: pd.DataFrame) -> None:
    """Two worker processes give row for row the results of one process."""
    report = sweep(
        write(tmp_path, MESA_GRID), tmp_path / "out", engine=ProcessPoolEvaluator(2), batch_size=1
    )
    assert report.complete and report.workers == 2 and report.batches == 8
    pd.testing.assert_frame_equal(comparable(load_runs(tmp_path / "out")), sequential_mesa)


def test_dask_cluster_matches_sequential(
    tmp_path: Path, sequential_mesa: pd.DataFrame, dask_cluster
) -> None:
    """A Dask cluster (two worker processes) gives the same rows as the process pool."""
    engine = DaskEvaluator(dask_cluster.scheduler_address)
    report = sweep(write(tmp_path, MESA_GRID), tmp_path / "out", engine=engine, batch_size=3)
    assert report.complete and report.workers == 2
    pd.testing.assert_frame_equal(comparable(load_runs(tmp_path / "out")), sequential_mesa)


def test_rows_hold_ids_factors_seeds_and_every_summary_field(
    sequential_mesa: pd.DataFrame,
) -> None:
    """One row per run: run id, point, replicate, seed, factor values, summary fields."""
    from serviceprofit.model.result import SUMMARY_FIELDS

    runs = sequential_mesa
    assert list(runs["run_id"]) == list(range(8))
    assert set(SUMMARY_FIELDS) <= set(runs.columns)
    assert {"point", "replicate", "strategy.process", "strategy.process.empowerment"} <= set(
        runs.columns
    )
    assert runs["seed"].nunique() == 8  # a seed per run, not per replicate
    assert set(runs["strategy.process"]) == {"cost_minimised", "customer_value"}


def test_common_random_numbers_share_seeds_across_points(tmp_path: Path, fake) -> None:
    """Under common random numbers, replicate r has the same seed at every design point."""
    text = FAKE_SOBOL + "common_random_numbers: true\n"
    sweep(write(tmp_path, text), tmp_path / "out", engine=SequentialEvaluator())
    runs = load_runs(tmp_path / "out")
    assert runs.groupby("replicate")["seed"].nunique().tolist() == [1, 1]
    assert runs["seed"].nunique() == 2


def test_resume_runs_only_what_is_missing(tmp_path: Path, fake) -> None:
    """Deleting batch files and sweeping again rewrites exactly those runs, once."""
    path, out = write(tmp_path, FAKE_SOBOL), tmp_path / "out"
    first = sweep(path, out, engine=SequentialEvaluator(), batch_size=10)
    complete = comparable(load_runs(out))
    files = sorted((out / "runs").glob("batch-*.parquet"))
    lost = sum(pq.read_metadata(f).num_rows for f in files[:3])
    for f in files[:3]:
        f.unlink()
    again = sweep(path, out, engine=SequentialEvaluator(), batch_size=10)
    assert (again.skipped, again.finished) == (first.total - lost, lost)
    rows = raw_rows(out)
    assert len(rows) == first.total and rows["run_id"].is_unique
    pd.testing.assert_frame_equal(comparable(load_runs(out)), complete)


def test_failed_runs_are_reported_not_written_and_retried(
    tmp_path: Path, fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that raises is counted and named; the next sweep retries only the failures."""
    path, out = write(tmp_path, FAKE_SOBOL), tmp_path / "out"
    monkeypatch.setattr(sweep_fake_backend, "FAIL_ABOVE", 0.5)
    report = sweep(path, out, engine=SequentialEvaluator())
    assert report.failed > 0 and report.finished + report.failed == report.total
    assert "self-service above the failure threshold" in report.failures[0][1]
    assert len(load_runs(out)) == report.finished
    monkeypatch.setattr(sweep_fake_backend, "FAIL_ABOVE", 2.0)
    retry = sweep(path, out, engine=SequentialEvaluator())
    assert (retry.finished, retry.failed, retry.complete) == (report.failed, 0, True)


def test_changed_experiment_is_refused(
    tmp_path: Path, fake, capsys: pytest.CaptureFixture[str]
) -> None:
    """A different experiment for an existing directory: exit 2, one line, nothing touched."""
    path, out = write(tmp_path, FAKE_SOBOL), tmp_path / "out"
    assert cli.main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    before = sorted(p.name for p in (out / "runs").iterdir())
    path.write_text(FAKE_SOBOL.replace("replicates: 2", "replicates: 3"))
    capsys.readouterr()
    assert cli.main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "different experiment (replicates changed)" in err and str(out) in err
    assert sorted(p.name for p in (out / "runs").iterdir()) == before


def test_a_directory_of_other_files_is_refused(tmp_path: Path, fake) -> None:
    """Sweeping into a non-empty directory that is not a sweep directory is refused."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty and not a sweep directory"):
        sweep(write(tmp_path, FAKE_SOBOL), tmp_path / "out", engine=SequentialEvaluator())


def test_bad_engine_options_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad worker count or scheduler address is one line and exit code 2."""
    path = write(tmp_path, MESA_GRID)
    out = str(tmp_path / "out")
    assert cli.main(["sweep", str(path), "--out", out, "--workers", "0"]) == 2
    assert cli.main(["sweep", str(path), "--out", out, "--scheduler", "localhost:1"]) == 2
    err = capsys.readouterr().err
    assert "--workers 0: must be at least 1" in err and "expected tcp://HOST:PORT" in err


def test_sweep_killed_mid_way_resumes_to_a_complete_set(
    tmp_path: Path, sequential_mesa: pd.DataFrame
) -> None:
    """SIGKILL a sweep after some batches exist; the same command finishes it, no duplicates.

    The sweep runs serially (--workers 1) in its own process, one run per batch, so the
    kill lands while runs are in flight and batches are on disk.
    """
    path = write(tmp_path, MESA_GRID)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "serviceprofit.cli", "sweep", str(path)]
    command += ["--out", str(out), "--workers", "1", "--batch-size", "1"]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    try:
        while len(list(out.glob("runs/batch-*.parquet"))) < 3:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no batches appeared"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    written = len(list(out.glob("runs/batch-*.parquet")))
    assert 3 <= written < 8, "the kill came too late to test a resume"

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{written} from before" in rerun.stdout
    rows = raw_rows(out)
    assert sorted(rows["run_id"]) == list(range(8))
    assert not list(out.rglob("*.tmp"))
    pd.testing.assert_frame_equal(comparable(load_runs(out)), sequential_mesa)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    """Running and not a zombie (a reaped or defunct process has left)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_pool_workers_leave_when_the_sweep_is_killed(tmp_path: Path) -> None:
    """SIGKILL of a pooled sweep leaves no orphan workers behind (they watch their parent)."""
    text = MESA_GRID.replace("design: grid", "design: {method: latin_hypercube, samples: 60}")
    text = text.replace(", points: 2}", "}")
    path, out = write(tmp_path, text), tmp_path / "out"
    command = [sys.executable, "-m", "serviceprofit.cli", "sweep", str(path), "--out", str(out)]
    command += ["--workers", "2", "--batch-size", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not list(out.glob("runs/batch-*.parquet")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        children = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert len(children) >= 2
    deadline = time.monotonic() + 15
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = [c for c in children if _alive(c)]
    for pid in survivors:  # do not leave them running if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors


# ---------------------------------------------------------------------------
# A sweep keeps its promise: any kill resumes, I/O errors are one line, damage is set aside

HINT = "finished runs are saved; run the same command to resume"


class Killed(BaseException):
    """Stands for SIGKILL at one exact point: nothing after it runs, nothing cleans up."""


def sweep_cli(path: Path, out: Path, *extra: str) -> int:
    return cli.main(["sweep", str(path), "--out", str(out), "--workers", "1", *extra])


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one line of the error, after any progress lines; no traceback."""
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if not line.startswith("sweep ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def killed_writing_the_manifest(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real code, stopped where the manifest would be written (design already on disk)."""
    atomic_write = store._atomic_write

    def stop_at_manifest(path: Path, write) -> None:
        if path.name == store.MANIFEST:
            write(path.with_name(f".{path.name}.0000.tmp"))  # half-written, never renamed
            raise Killed
        atomic_write(path, write)

    monkeypatch.setattr(store, "_atomic_write", stop_at_manifest)
    with pytest.raises(Killed):
        sweep(write(out.parent, FAKE_SOBOL), out, engine=SequentialEvaluator())
    monkeypatch.setattr(store, "_atomic_write", atomic_write)
    assert (out / store.DESIGN).exists() and not (out / store.MANIFEST).exists()


def empty_runs_folder(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An older order of creation: runs/ made first, killed before anything else."""
    (out / "runs").mkdir(parents=True)
    (out / ".lock").touch()


def temporaries_only(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed mid-write of the design: a hidden temporary, runs/ holding another."""
    (out / "runs").mkdir(parents=True)
    (out / ".design.parquet.1234abcd.tmp").write_bytes(b"PAR1 half")
    (out / "runs" / ".batch-1-x.parquet.5678abcd.tmp").write_bytes(b"PAR1 half")


@pytest.mark.parametrize(
    "killed", [killed_writing_the_manifest, empty_runs_folder, temporaries_only]
)
def test_a_sweep_killed_while_creating_its_directory_resumes(
    tmp_path: Path, fake, monkeypatch: pytest.MonkeyPatch, killed
) -> None:
    """Whatever a kill during creation leaves (no manifest yet), the same command runs it."""
    path, out = write(tmp_path, FAKE_SOBOL), tmp_path / "out"
    killed(out, monkeypatch)
    assert sweep_cli(path, out) == 0
    runs = load_runs(out)
    assert list(runs["run_id"]) == list(range(len(runs))) and len(runs) == 16 * 5 * 2
    assert not list(out.rglob("*.tmp"))


def test_batch_files_without_a_manifest_are_still_refused(tmp_path: Path, fake) -> None:
    """Results with no manifest are not ours to overwrite: refused, not taken as fresh."""
    (tmp_path / "out" / "runs").mkdir(parents=True)
    (tmp_path / "out" / "runs" / "batch-1-abc.parquet").write_bytes(b"someone's results")
    with pytest.raises(ExperimentError, match=r"not a sweep directory \(holds runs/\)"):
        sweep(write(tmp_path, FAKE_SOBOL), tmp_path / "out", engine=SequentialEvaluator())


def test_a_full_disk_is_one_line_with_the_resume_hint_and_loses_nothing(
    tmp_path: Path, fake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """ENOSPC on the third batch: exit 2, one line naming the file, the reason and the
    hint; the two batches written are kept and the same command finishes the rest."""
    path, out = write(tmp_path, FAKE_SOBOL), tmp_path / "out"
    write_parquet, batches = store._write_parquet, []

    def disk_fills(table, target: Path) -> None:
        if target.parent.name == "runs":
            batches.append(target.name)
            if len(batches) > 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        write_parquet(table, target)

    monkeypatch.setattr(store, "_write_parquet", disk_fills)
    assert sweep_cli(path, out, "--batch-size", "10") == 2
    err = one_error_line(capsys)
    assert f"cannot write runs/{batches[2]} (No space left on device)" in err
    assert err.endswith(HINT) and str(out) in err
    monkeypatch.setattr(store, "_write_parquet", write_parquet)
    assert sweep_cli(path, out, "--batch-size", "10") == 0
    assert "(140 now, 20 from before, 0 failed)" in capsys.readouterr().out
    assert sorted(raw_rows(out)["run_id"]) == list(range(160))


@pytest.mark.parametrize(
    ("code", "reason"), [(errno.EROFS, "Read-only file system"), (errno.EACCES, "Permission")]
)
def test_an_unwritable_directory_is_a_typed_error_naming_the_reason(
    tmp_path: Path, fake, monkeypatch: pytest.MonkeyPatch, code: int, reason: str
) -> None:
    """A read-only or forbidden directory (simulated: tests run as root) is a StoreError,
    an input error the CLI answers with exit 2, never an OSError traceback."""

    def refuse(path: Path, write) -> None:
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(store, "_atomic_write", refuse)
    with pytest.raises(StoreError, match=f"cannot create the sweep's files \\({reason}.*{HINT}"):
        sweep(write(tmp_path, FAKE_SOBOL), tmp_path / "out", engine=SequentialEvaluator())


def test_an_out_path_under_a_file_is_one_line(
    tmp_path: Path, fake, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out below a regular file cannot be created: exit 2 and the reason, no traceback."""
    (tmp_path / "file").write_text("not a folder")
    assert sweep_cli(write(tmp_path, FAKE_SOBOL), tmp_path / "file" / "out") == 2
    err = one_error_line(capsys)
    assert "cannot create the results directory (Not a directory)" in err


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncate" else data[:8] + b"\xff" * 64)


@pytest.mark.parametrize("how", ["truncate", "garbage"])
def test_a_damaged_batch_is_set_aside_named_and_its_runs_redone(
    tmp_path: Path, fake, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    """A truncated or overwritten batch file: the resumed sweep names it, moves it to
    damaged/runs/, runs exactly its runs again, and ends with the complete set."""
    path, out = write(tmp_path, FAKE_SOBOL), tmp_path / "out"
    assert sweep_cli(path, out, "--batch-size", "10") == 0
    complete = comparable(load_runs(out))
    victim = sorted((out / "runs").glob("batch-*.parquet"))[1]
    lost = pq.read_metadata(victim).num_rows
    damage(victim, how)
    capsys.readouterr()
    assert sweep_cli(path, out, "--batch-size", "10") == 0
    said = capsys.readouterr().out
    assert f"({lost} now, {160 - lost} from before, 0 failed)" in said
    assert f"set aside damaged batch runs/{victim.name} (unreadable: " in said
    assert f"into {out / 'damaged' / 'runs'}; its runs were run again" in said
    assert (out / "damaged" / "runs" / victim.name).exists() and not victim.exists()
    pd.testing.assert_frame_equal(comparable(load_runs(out)), complete)


def test_load_runs_sets_a_damaged_batch_aside_and_says_so(tmp_path: Path, fake) -> None:
    """A reader meets the damage first: it gets the readable runs and the batch's name."""
    path, out = write(tmp_path, FAKE_SOBOL), tmp_path / "out"
    sweep(path, out, engine=SequentialEvaluator(), batch_size=40)
    victim = sorted((out / "runs").glob("batch-*.parquet"))[0]
    damage(victim, "truncate")
    runs = load_runs(out)
    assert len(runs) == 120
    [note] = runs.attrs["set_aside"]
    assert victim.name in note and "Parquet magic bytes not found" in note
    again = sweep(path, out, engine=SequentialEvaluator(), batch_size=40)
    assert (again.finished, again.set_aside) == (40, [])  # moved already: just redone


def test_rows_carry_what_a_rerun_needs(tmp_path: Path, fake) -> None:
    """backend, seed and the overrides (JSON, in applied order) of a row, applied to the
    experiment's base scenario, give that row's results again."""
    path, out = write(tmp_path, FAKE_SOBOL), tmp_path / "out"
    sweep(path, out, engine=SequentialEvaluator())
    experiment = load_experiment(path)
    for _, row in load_runs(out).sample(5, random_state=1).iterrows():
        overrides = json.loads(row["overrides"])
        assert list(overrides) == list(experiment.overrides(overrides))
        scenario = experiment.base.with_overrides(overrides, source="rerun")
        again = get_backend(row["backend"])(scenario, seed=int(row["seed"])).summary
        assert (again["profit_total"], again["customers_final"]) == (
            row["profit_total"],
            row["customers_final"],
        )


# ---------------------------------------------------------------------------
# --keep-timeseries


def test_kept_series_match_the_summaries_and_resume_like_them(tmp_path: Path, fake) -> None:
    """Every finished run has its weekly series; a batch killed between its series and its
    summary (series orphaned), one that lost its series and one whose series file is
    truncated are redone, never duplicated."""
    path, out = write(tmp_path, FAKE_SOBOL), tmp_path / "out"
    sweep(path, out, engine=SequentialEvaluator(), batch_size=20, keep_timeseries=True)
    series = load_series(out)
    assert len(series) == 160 * sweep_fake_backend.SERIES_WEEKS
    assert set(series["run_id"]) == set(load_runs(out)["run_id"])
    batches = sorted((out / "runs").glob("batch-*.parquet"))
    orphaned, lost_series, cut_series = batches[0], batches[1], batches[2]
    orphaned.unlink()  # as if killed after its series landed
    (out / "series" / lost_series.name).unlink()
    damage(out / "series" / cut_series.name, "truncate")
    again = sweep(path, out, engine=SequentialEvaluator(), batch_size=20, keep_timeseries=True)
    assert again.finished == 60 and again.skipped == 100
    moved = out / "damaged" / "runs"
    assert again.set_aside == [
        f"set aside damaged batch runs/{lost_series.name} (its weekly series file is missing)"
        f" into {moved}",
        f"set aside damaged batch runs/{cut_series.name} (its weekly series file is unreadable:"
        f" Parquet magic bytes not found in footer. Either the file is corrupted or this is not"
        f" a parquet file.) into {moved}",
    ]
    assert (out / "damaged" / "series" / cut_series.name).exists()
    assert not (out / "series" / orphaned.name).exists()
    series = load_series(out)
    assert len(series) == 160 * sweep_fake_backend.SERIES_WEEKS
    assert not series.duplicated(["run_id", "week"]).any()


def test_resume_refuses_mixing_kept_and_unkept_series(
    tmp_path: Path, fake, capsys: pytest.CaptureFixture[str]
) -> None:
    """A directory swept with --keep-timeseries resumes only with it, and the other way."""
    path, out = write(tmp_path, FAKE_SOBOL), tmp_path / "out"
    assert sweep_cli(path, out, "--keep-timeseries") == 0
    assert sweep_cli(path, out) == 2
    err = one_error_line(capsys)
    assert "was swept with --keep-timeseries; resume it with the flag" in err
    assert sweep_cli(path, tmp_path / "plain") == 0
    assert sweep_cli(path, tmp_path / "plain", "--keep-timeseries") == 2
    assert "was swept without --keep-timeseries" in one_error_line(capsys)


def test_mesa_series_end_where_the_summary_does(tmp_path: Path) -> None:
    """The real model's kept series: one row per week per run, and the last week's active
    customers are the summary's customers_final."""
    out = tmp_path / "out"
    sweep(write(tmp_path, MESA_GRID), out, engine=SequentialEvaluator(), keep_timeseries=True)
    series, runs = load_series(out), load_runs(out).set_index("run_id")
    assert series.groupby("run_id").size().eq(26).all() and len(runs) == 8
    last = series.sort_values("week").groupby("run_id")["customers_active"].last()
    assert (last == runs.loc[last.index, "customers_final"]).all()


# ---------------------------------------------------------------------------
# A market as the base: firms' levers as factors

MARKET = ROOT / "src" / "serviceprofit" / "data" / "markets" / "rivals_one_cuts_cost.yaml"
MARKET_GRID = (
    f"scenario: {MARKET.as_posix()}\n"
    "firm: frugal\n"
    "set: {weeks: 30, market.customers: 500, market.prospects.initial: 100,"
    " firms.steady.population.staff: 3, firms.frugal.population.staff: 3,"
    " firms.frugal.events.0.week: 10}\n"
    "factors:\n"
    "  firms.steady.strategy.process: [customer_value, cost_minimised]\n"
    "  firms.frugal.strategy.marketing.spend_per_week: [0, 2000]\n"
    "design: grid\nreplicates: 1\nseed: 5\nbackend: numba\ncommon_random_numbers: true\n"
    "outcomes: [profit_total, customers_final, market_share_final, lost_to_rivals_total]\n"
)


def test_a_market_sweep_varies_firms_levers_and_records_the_focal_firm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each run is a market run with its firms' levers set; its row is the focal firm's
    summary (as that market run gives it) with every firm's share alongside; analyze and
    rerun read it like any sweep."""
    from serviceprofit import simulate_market

    path, out = write(tmp_path, MARKET_GRID), tmp_path / "out"
    report = sweep(path, out, engine=SequentialEvaluator())
    assert report.complete and report.finished == 4
    runs = load_runs(out)
    shares = runs["firms.steady.market_share_final"] + runs["firms.frugal.market_share_final"]
    assert (shares - 1.0).abs().max() < 1e-12
    assert (runs["market_share_final"] == runs["firms.frugal.market_share_final"]).all()
    experiment = load_experiment(path)
    row = runs.iloc[3]
    market = experiment.base.with_overrides(json.loads(row["overrides"]), source="test")
    again = simulate_market(market, seed=int(row["seed"])).firms["frugal"].summary
    assert again["profit_total"] == row["profit_total"]
    assert market.firms["steady"].strategy.process.preset == row["firms.steady.strategy.process"]
    assert cli.main(["analyze", str(out)]) == 0
    assert cli.main(["rerun", str(out), "2"]) == 0
    assert "identical" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("firm: frugal\n", ""), "a market base needs firm: NAME"),
        (("firm: frugal\n", "firm: nobody\n"), "no firm 'nobody'"),
        (("firms.steady.strategy.process", "firms.stedy.strategy.process"), "firms.stedy"),
    ],
)
def test_a_bad_market_experiment_is_one_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    """A market base without its focal firm, with a firm it lacks, or a factor naming a
    firm it lacks, is refused naming the key."""
    text = MARKET_GRID.replace(*change)
    with pytest.raises(ExperimentError, match=message.replace("(", r"\(")):
        load_experiment(write(tmp_path, text))


def test_firm_on_a_scenario_base_is_refused(tmp_path: Path) -> None:
    """firm: chooses a market's focal firm; on a single-firm base it is an error."""
    with pytest.raises(ExperimentError, match="firm: chooses the focal firm"):
        load_experiment(write(tmp_path, "firm: frugal\n" + MESA_GRID))
