"""Collecting results: a sweep directory that survives being killed at any moment.

Layout of ``DIR``::

    manifest.json          the experiment (as validated), its hash, the base scenario, totals
    design.parquet         the design: point, factor values, unit coordinates (u:...)
    runs/batch-*.parquet   one file per finished batch: one row per run
    series/batch-*.parquet with ``keep_timeseries``: the weekly series of the same runs
    damaged/               batch files found unreadable, set aside (their runs are redone)
    analysis/              written by ``serviceprofit analyze``

Every file is written to a temporary name in the same directory, flushed to disk and
moved into place with ``os.replace``, which is atomic on POSIX: a reader sees a whole
file or none of it. A new directory gets its design, then its manifest, then ``runs/``:
a directory killed before its manifest exists holds nothing but the design, and the
same command starts it afresh. A batch's series file is written before its summary
file, and the summary file is what marks its runs done: a run is never counted done
without its series, and a series file left without its summary (a kill between the
two) is removed on resume.

The run ids in readable batch files are the sweep's memory: a resumed sweep skips them,
so no run is written twice. A batch file that cannot be read (a disk that lost its end,
a file damaged by hand) is moved to ``damaged/``, named to the caller, and its runs are
run again. A lock (``fcntl.flock`` on ``DIR/.lock``, released by the kernel when the
process dies) keeps two sweeps from writing into one directory at once.

A failed read or write (a full disk, a read-only directory, no permission) is a
:class:`StoreError`: one line naming the path and the reason, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serviceprofit.sweeps.experiment import ExperimentError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "RESUME_HINT",
    "DamagedBatch",
    "RunStore",
    "StoreError",
    "io_errors",
    "load_design",
    "load_runs",
    "load_series",
    "read_batches",
    "read_manifest",
]

MANIFEST = "manifest.json"
DESIGN = "design.parquet"
RUNS = "runs"
SERIES = "series"
DAMAGED = "damaged"
FORMAT = 1
RESUME_HINT = "finished runs are saved; run the same command to resume"
_REASON_CHARS = 120


class StoreError(ExperimentError):
    """A results directory that cannot be read or written: a full disk, a read-only or
    missing directory, no permission. A subclass of the input errors because the fix is
    the user's (free space, fix the path) and the CLI answers it the same way: one line,
    exit code 2."""


def _reason(exc: BaseException) -> str:
    """``No space left on device`` for an ``OSError``, else the first line of the text.

    pyarrow's ``OSError`` puts the path and more in ``strerror``; its errno says it all.
    """
    if isinstance(exc, OSError) and exc.errno:
        text = os.strerror(exc.errno)
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # pyarrow repeats the path the caller already names: keep what it found
        text = re.sub(r"^Could not open Parquet input source '.*?': ", "", text)
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."


@contextlib.contextmanager
def io_errors(what: str, path: Path, hint: str = RESUME_HINT) -> Iterator[None]:
    """Turn an ``OSError`` inside the block into one line: the path, what failed, why."""
    try:
        yield
    except StoreError:
        raise
    except OSError as exc:
        raise StoreError(str(path), "", f"cannot {what} ({_reason(exc)}); {hint}") from None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not every platform opens directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Any) -> None:
    """Write through ``write(tmp_path)``, flush it to disk, then rename into place."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # the error that brought us here matters more
            tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _write_parquet(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    _atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def read_manifest(out: str | Path) -> dict[str, Any]:
    """The manifest of a sweep directory, or an error saying this is not one."""
    path = Path(out) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise ExperimentError(str(out), "", "not a sweep directory (no manifest.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExperimentError(str(path), "", f"unreadable manifest ({_reason(exc)})") from None
    except OSError as exc:
        raise StoreError(str(path), "", f"cannot read ({_reason(exc)})") from None
    if not isinstance(manifest, dict):
        raise ExperimentError(str(path), "", "unreadable manifest (not a JSON object)")
    return manifest


def load_design(out: str | Path) -> pd.DataFrame:
    """The design table written when the sweep directory was created."""
    import pandas as pd
    import pyarrow as pa

    path = Path(out) / DESIGN
    try:
        return pd.read_parquet(path)
    except (OSError, pa.ArrowException, ValueError) as exc:
        if not _is_damage(exc):
            raise StoreError(str(path), "", f"cannot read ({_reason(exc)})") from None
        raise StoreError(
            str(path),
            "",
            f"unreadable design ({_reason(exc)}); the directory cannot be resumed:"
            f" delete {out} to start over",
        ) from None


# ---------------------------------------------------------------------------
# Batch files: read, verify, set aside


@dataclass(frozen=True)
class DamagedBatch:
    """A batch file found unreadable and moved to ``DIR/damaged``; its runs are redone."""

    name: str
    reason: str
    moved_to: Path

    def __str__(self) -> str:
        return f"set aside damaged batch {RUNS}/{self.name} ({self.reason}) into {self.moved_to}"


def _batch_files(out: Path) -> list[Path]:
    return sorted((out / RUNS).glob("batch-*.parquet"))


def _is_damage(exc: BaseException) -> bool:
    """A file that is not (whole) Parquet, as opposed to a disk or permission failure."""
    return not (isinstance(exc, OSError) and exc.errno is not None)


def _read_batch(path: Path) -> tuple[pa.Table | None, str]:
    """The whole table of a batch file, or ``(None, why it is damaged)`` (``""``: gone).

    Reading every column (not just ``run_id``) decodes every page, so damage inside the
    file is found too; batch files of summaries are small. A disk or permission error
    is raised as :class:`StoreError`, not taken for damage.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        return None, ""  # set aside meanwhile by another reader
    except (OSError, pa.ArrowException, ValueError) as exc:
        if not _is_damage(exc):
            raise StoreError(str(path), "", f"cannot read ({_reason(exc)})") from None
        return None, f"unreadable: {_reason(exc)}"
    if "run_id" not in table.column_names or not pa.types.is_integer(
        table.schema.field("run_id").type
    ):
        return None, "no integer run_id column"
    return table, ""


def _check_series(out: Path, batch: Path, ids: list[int]) -> str:
    """Why the series companion of ``batch`` is not whole, or "" when it is."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = out / SERIES / batch.name
    if not path.exists():
        return "its weekly series file is missing"
    try:
        got = pq.read_table(path, columns=["run_id"]).column(0).unique().to_pylist()
    except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
        if not _is_damage(exc):
            raise StoreError(str(path), "", f"cannot read ({_reason(exc)})") from None
        return f"its weekly series file is unreadable: {_reason(exc)}"
    if sorted(got) != sorted(set(ids)):
        return "its weekly series file holds other runs"
    return ""


def _set_aside(out: Path, batch: Path, reason: str) -> DamagedBatch:
    """Move a damaged batch (and its series file, if any) into ``DIR/damaged``.

    Moved, never deleted: the user may want to look at it. A file another process moved
    first (an ``analyze`` next to a resuming sweep) is not an error.
    """
    target = out / DAMAGED
    with io_errors(f"set aside the damaged batch {batch.name} ({reason})", target):
        for folder in (RUNS, SERIES):
            source = out / folder / batch.name
            if source.exists():
                (target / folder).mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    os.replace(source, target / folder / batch.name)
    return DamagedBatch(batch.name, reason, target / RUNS)


def read_batches(
    out: str | Path, damaged: list[DamagedBatch], *, series: bool = False
) -> Iterator[pa.Table]:
    """Every readable batch of ``out``, one table at a time (a million runs need not sit
    in memory at once); each damaged one is set aside and appended to ``damaged``.

    With ``series``, a batch whose weekly series file is missing or damaged counts as
    damaged too (a sweep that keeps series counts a run done only with its series).
    """
    out = Path(out)
    for path in _batch_files(out):
        table, problem = _read_batch(path)
        if table is None and not problem:
            continue
        if table is not None and series:
            problem = _check_series(out, path, table.column("run_id").to_pylist())
        if problem:
            damaged.append(_set_aside(out, path, problem))
        else:
            yield table


def load_runs(out: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Every finished run, one row each, sorted by run id.

    Damaged batch files are set aside first (see :func:`read_batches`); their
    descriptions are in ``runs.attrs["set_aside"]``. Batches never overlap when written
    by :class:`RunStore`; duplicates (say, from a directory merged by hand) are dropped
    here, keeping the first.
    """
    import pandas as pd

    damaged: list[DamagedBatch] = []
    frames = [
        (t.select([c for c in columns if c in t.column_names]) if columns else t).to_pandas()
        for t in read_batches(out, damaged)
    ]
    if not frames:
        runs = pd.DataFrame(columns=columns or ["run_id"])
    else:
        runs = pd.concat(frames, ignore_index=True)
        runs = runs.drop_duplicates("run_id", keep="first")
        runs = runs.sort_values("run_id", kind="stable").reset_index(drop=True)
    runs.attrs["set_aside"] = [str(d) for d in damaged]
    return runs


def load_series(out: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """The weekly series of every finished run (``sweep(..., keep_timeseries=True)``).

    Long format: ``run_id``, ``week`` and the weekly metrics (``columns`` to read only
    some). A series file whose summary batch is not on disk belongs to no finished run
    and is skipped; a damaged one is set aside with its summary batch (described in
    ``series.attrs["set_aside"]``), so a resumed sweep redoes its runs. Raises
    :class:`ExperimentError` when the sweep kept no series.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(out)
    if not read_manifest(out).get("keep_timeseries", False):
        raise ExperimentError(
            str(out),
            "",
            "this sweep kept no weekly series; sweep into a new directory with"
            " --keep-timeseries (keep_timeseries=True) to keep them",
        )
    frames, damaged = [], []
    wanted = None if columns is None else list(dict.fromkeys(["run_id", "week", *columns]))
    for batch in _batch_files(out):
        path = out / SERIES / batch.name
        try:
            frames.append(pq.read_table(path, columns=wanted).to_pandas())
        except FileNotFoundError:
            continue  # a batch set aside meanwhile, or from before its series existed
        except (OSError, pa.ArrowException, ValueError, KeyError) as exc:
            if not _is_damage(exc):
                raise StoreError(str(path), "", f"cannot read ({_reason(exc)})") from None
            why = f"its weekly series file is unreadable: {_reason(exc)}"
            damaged.append(_set_aside(out, batch, why))
    if frames:
        series = pd.concat(frames, ignore_index=True)
    else:
        series = pd.DataFrame(columns=wanted or ["run_id", "week"])
    series.attrs["set_aside"] = [str(d) for d in damaged]
    return series


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def _only_temporaries(folder: Path) -> bool:
    """An absent folder, or one holding nothing but half-written temporary files."""
    if not folder.is_dir():
        return not folder.exists()
    return all(p.name.startswith(".") and p.name.endswith(".tmp") for p in folder.iterdir())


class RunStore:
    """The results of one experiment in one directory: create, verify, append, list.

    Use as a context manager: entering takes the directory's lock, leaving releases it.
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.runs_dir = self.out / RUNS
        self.series_dir = self.out / SERIES
        self.keep_timeseries = False
        self.set_aside: list[DamagedBatch] = []
        self._lock_fd: int | None = None
        self._written = 0

    # -- lifecycle -----------------------------------------------------------

    def __enter__(self) -> RunStore:
        import fcntl

        if self.out.exists() and not self.out.is_dir():
            raise ExperimentError(str(self.out), "", "exists and is not a directory")
        with io_errors("create the results directory", self.out):
            self.out.mkdir(parents=True, exist_ok=True)
        with io_errors("lock the results directory", self.out):
            fd = os.open(self.out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ExperimentError(
                str(self.out), "", "another sweep is writing to this directory"
            ) from None
        self._lock_fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- the manifest --------------------------------------------------------

    def prepare(self, manifest: dict[str, Any], design: pd.DataFrame) -> bool:
        """Create the directory's manifest and design, or check they match.

        Returns True when the directory already held this experiment (a resume).
        Refuses a directory that holds another experiment's results, naming what differs,
        or the same experiment swept with ``keep_timeseries`` the other way.
        """
        path = self.out / MANIFEST
        self.keep_timeseries = bool(manifest.get("keep_timeseries", False))
        if path.exists():
            self._check_same(read_manifest(self.out), manifest)
            with io_errors("clean up after a killed sweep", self.out):
                self._clean_temporaries()
                self._remove_orphan_series()
            return True
        # No manifest: a new directory, or one killed before its manifest was written,
        # which holds at most the design, an empty runs/ and temporaries.
        with io_errors("read the results directory", self.out):
            leftovers = [
                p.name
                for p in self.out.iterdir()
                if p.name not in (".lock", DESIGN, RUNS, SERIES)
                and not (p.name.startswith(".") and p.name.endswith(".tmp"))
            ]
            leftovers += [
                f"{d.name}/" for d in (self.runs_dir, self.series_dir) if not _only_temporaries(d)
            ]
        if leftovers:
            raise ExperimentError(
                str(self.out),
                "",
                f"not empty and not a sweep directory (holds {', '.join(sorted(leftovers)[:3])});"
                " choose an empty or new directory",
            )
        import pyarrow as pa

        text = json.dumps({"format": FORMAT, **manifest}, indent=2, default=str) + "\n"
        with io_errors("create the sweep's files", self.out):
            self._clean_temporaries()
            _write_parquet(pa.Table.from_pandas(design, preserve_index=False), self.out / DESIGN)
            _atomic_write(path, lambda tmp: tmp.write_text(text))
            self.runs_dir.mkdir(exist_ok=True)
            if self.keep_timeseries:
                self.series_dir.mkdir(exist_ok=True)
        return False

    def _check_same(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        path = self.out / MANIFEST
        if old.get("experiment_hash") != new["experiment_hash"]:
            changed = _differences(old.get("experiment", {}), new["experiment"])
            if old.get("base_scenario") != new["base_scenario"]:
                changed.append("the base scenario")
            what = ", ".join(changed) or "its hash"
            raise ExperimentError(
                str(path),
                "",
                f"this directory holds results of a different experiment ({what} changed);"
                f" use a new --out directory, or delete {self.out} to start over",
            )
        kept = bool(old.get("keep_timeseries", False))
        if kept != self.keep_timeseries:
            way = "with" if kept else "without"
            raise ExperimentError(
                str(path),
                "",
                f"this directory was swept {way} --keep-timeseries; resume it {way} the"
                " flag (keep_timeseries must match), or use a new --out directory",
            )

    def _clean_temporaries(self) -> None:
        """Remove half-written files a killed sweep left behind (we hold the lock)."""
        for folder in (self.out, self.runs_dir, self.series_dir):
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)

    def _remove_orphan_series(self) -> None:
        """Series files whose summary batch never landed (killed between the two)."""
        if not self.series_dir.is_dir():
            return
        for path in self.series_dir.glob("batch-*.parquet"):
            if not (self.runs_dir / path.name).exists():
                path.unlink(missing_ok=True)

    # -- runs ----------------------------------------------------------------

    def done_ids(self) -> set[int]:
        """Ids of the runs already on disk, after setting damaged batches aside.

        The damaged ones are in :attr:`set_aside`; their runs are not done.
        """
        done: set[int] = set()
        for table in read_batches(self.out, self.set_aside, series=self.keep_timeseries):
            done.update(table.column("run_id").to_pylist())
        return done

    def write_batch(
        self, rows: list[dict[str, Any]], series: pd.DataFrame | None = None
    ) -> Path | None:
        """Write finished runs as one new batch file, atomically.

        With ``keep_timeseries`` the runs' weekly ``series`` goes first, under the same
        name in ``series/``: the summary file landing is what makes the runs done.
        """
        import pyarrow as pa

        if not rows:
            return None
        name = f"batch-{os.getpid()}-{uuid.uuid4().hex[:10]}.parquet"
        path = self.runs_dir / name
        with io_errors(f"write {RUNS}/{name}", self.out):
            if self.keep_timeseries:
                if series is None:
                    raise ValueError("keep_timeseries: a batch needs its weekly series")
                self.series_dir.mkdir(exist_ok=True)
                table = pa.Table.from_pandas(series, preserve_index=False)
                _write_parquet(table, self.series_dir / name)
            self.runs_dir.mkdir(exist_ok=True)
            _write_parquet(pa.Table.from_pylist(rows), path)
        self._written += 1
        return path
