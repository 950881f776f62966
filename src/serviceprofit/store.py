"""Collecting results: a sweep directory that survives being killed at any moment.

Layout of ``DIR``::

    manifest.json        the experiment (as validated), its hash, the base scenario, totals
    design.parquet       the design: point, factor values, unit coordinates (u:...)
    runs/batch-*.parquet one file per finished batch: one row per run
    analysis/            written by ``serviceprofit analyze``

Every file is written to a temporary name in the same directory, flushed to disk and
moved into place with ``os.replace``, which is atomic on POSIX: a reader sees a whole
batch or none of it. ``manifest.json`` is written last when a directory is created, so
a directory with a manifest always has its design. The run ids already on disk are the
sweep's memory: a resumed sweep skips them, so no run is written twice. A lock
(``fcntl.flock`` on ``DIR/.lock``, released by the kernel when the process dies) keeps
two sweeps from writing into one directory at once.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .experiment import ExperimentError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunStore", "load_design", "load_runs", "read_manifest"]

MANIFEST = "manifest.json"
DESIGN = "design.parquet"
RUNS = "runs"
FORMAT = 1


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
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def _write_parquet(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    _atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def read_manifest(out: str | Path) -> dict[str, Any]:
    """The manifest of a sweep directory, or an error saying this is not one."""
    path = Path(out) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ExperimentError(str(out), "", "not a sweep directory (no manifest.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExperimentError(str(path), "", f"unreadable manifest ({exc})") from None


def load_design(out: str | Path) -> pd.DataFrame:
    """The design table written when the sweep directory was created."""
    import pandas as pd

    return pd.read_parquet(Path(out) / DESIGN)


def _batch_files(out: Path) -> list[Path]:
    return sorted((out / RUNS).glob("batch-*.parquet"))


def load_runs(out: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Every finished run, one row each, sorted by run id.

    Batches never overlap when written by :class:`RunStore`; duplicates (say, from a
    directory merged by hand) are dropped here, keeping the first.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    files = _batch_files(Path(out))
    if not files:
        return pd.DataFrame(columns=columns or ["run_id"])
    frames = [pq.read_table(f, columns=columns).to_pandas() for f in files]
    runs = pd.concat(frames, ignore_index=True)
    runs = runs.drop_duplicates("run_id", keep="first")
    return runs.sort_values("run_id", kind="stable").reset_index(drop=True)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


class RunStore:
    """The results of one experiment in one directory: create, verify, append, list.

    Use as a context manager: entering takes the directory's lock, leaving releases it.
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.runs_dir = self.out / RUNS
        self._lock_fd: int | None = None
        self._written = 0

    # -- lifecycle -----------------------------------------------------------

    def __enter__(self) -> RunStore:
        import fcntl

        if self.out.exists() and not self.out.is_dir():
            raise ExperimentError(str(self.out), "", "exists and is not a directory")
        self.out.mkdir(parents=True, exist_ok=True)
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
        Refuses a directory that holds another experiment's results, naming what differs.
        """
        path = self.out / MANIFEST
        if path.exists():
            old = read_manifest(self.out)
            if old.get("experiment_hash") == manifest["experiment_hash"]:
                self._clean_temporaries()
                return True
            changed = _differences(old.get("experiment", {}), manifest["experiment"])
            if old.get("base_scenario") != manifest["base_scenario"]:
                changed.append("the base scenario")
            what = ", ".join(changed) or "its hash"
            raise ExperimentError(
                str(path),
                "",
                f"this directory holds results of a different experiment ({what} changed);"
                f" use a new --out directory, or delete {self.out} to start over",
            )
        leftovers = [p.name for p in self.out.iterdir() if p.name not in (".lock", DESIGN)]
        leftovers = [n for n in leftovers if not (n.startswith(".") and n.endswith(".tmp"))]
        if leftovers:
            raise ExperimentError(
                str(self.out),
                "",
                f"not empty and not a sweep directory (holds {', '.join(sorted(leftovers)[:3])});"
                " choose an empty or new directory",
            )
        import pyarrow as pa

        self._clean_temporaries()
        self.runs_dir.mkdir(exist_ok=True)
        _write_parquet(pa.Table.from_pandas(design, preserve_index=False), self.out / DESIGN)
        text = json.dumps({"format": FORMAT, **manifest}, indent=2, default=str) + "\n"
        _atomic_write(path, lambda tmp: tmp.write_text(text))
        return False

    def _clean_temporaries(self) -> None:
        """Remove half-written files a killed sweep left behind (we hold the lock)."""
        for folder in (self.out, self.runs_dir):
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)

    # -- runs ----------------------------------------------------------------

    def done_ids(self) -> set[int]:
        """Ids of the runs already on disk."""
        import pyarrow.parquet as pq

        done: set[int] = set()
        for path in _batch_files(self.out):
            done.update(pq.read_table(path, columns=["run_id"]).column(0).to_pylist())
        return done

    def write_batch(self, rows: list[dict[str, Any]]) -> Path | None:
        """Write finished runs as one new batch file, atomically."""
        import pyarrow as pa

        if not rows:
            return None
        self.runs_dir.mkdir(exist_ok=True)
        self._written += 1
        name = f"batch-{os.getpid()}-{uuid.uuid4().hex[:10]}.parquet"
        path = self.runs_dir / name
        _write_parquet(pa.Table.from_pylist(rows), path)
        return path
