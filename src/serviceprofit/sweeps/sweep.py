"""Sweeps: an experiment's runs, on an evaluator, into a results directory that survives.

``sweep(experiment, out, engine=...)`` ties the four parts together: what varies
(:mod:`.experiment`, :mod:`.design`), running a batch of runs (:mod:`.runs`), where it
runs (:mod:`.evaluators`) and collecting results (:mod:`.store`). Run ``i`` is design
point ``i // replicates``, replicate ``i % replicates``; its seed is child ``i`` of the
experiment's ``SeedSequence`` (or child ``replicate`` under common random numbers), so
the results are the same on any engine, with any number of workers, in any order.

Runs are written in batches as they finish. Running the same sweep again skips the run
ids already on disk and finishes the rest; a changed experiment is refused. A batch file
found damaged is set aside and its runs are run again; a directory that cannot be
written raises :class:`~serviceprofit.sweeps.store.StoreError` saying the finished runs are
saved. With ``keep_timeseries`` every run's weekly series is kept next to its summary.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serviceprofit.sweeps.experiment import Experiment, load_experiment

if TYPE_CHECKING:
    import numpy as np

    from serviceprofit.sweeps.evaluators import Evaluator
    from serviceprofit.sweeps.runs import Batch

__all__ = ["SweepProgress", "SweepReport", "sweep"]

MAX_BATCH = 100
KEEP_FAILURES = 50


@dataclass(frozen=True)
class SweepProgress:
    """Where a sweep stands, passed to the ``progress`` callback after every batch."""

    done: int
    total: int
    skipped: int
    failed: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Runs finished per second in this session."""
        finished = self.done - self.skipped
        return finished / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def remaining_seconds(self) -> float:
        left = self.total - self.done - self.failed
        return left / self.rate if self.rate > 0 else math.inf


@dataclass
class SweepReport:
    """What a sweep did: counts, time, and how much of the workers' time was the model."""

    out: Path
    experiment: str
    engine: str
    workers: int
    total: int
    skipped: int = 0
    finished: int = 0
    failed: int = 0
    batches: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    model_cpu_seconds: float = 0.0
    worker_cpu_seconds: float = 0.0
    driver_cpu_seconds: float = 0.0
    failures: list[tuple[int, str]] = field(default_factory=list)
    set_aside: list[str] = field(default_factory=list)
    keep_timeseries: bool = False

    def note_failures(self, failures: list[tuple[int, str]]) -> None:
        """Count failed runs; keep the first ``KEEP_FAILURES`` messages (not a million)."""
        self.failed += len(failures)
        room = KEEP_FAILURES - len(self.failures)
        self.failures.extend(failures[: max(0, room)])

    @property
    def complete(self) -> bool:
        return self.skipped + self.finished == self.total

    @property
    def runs_per_second(self) -> float:
        return self.finished / self.seconds if self.seconds > 0 else 0.0

    @property
    def model_share(self) -> float:
        """Share of the workers' wall time spent inside the backend's ``run``."""
        capacity = self.seconds * self.workers
        return self.model_seconds / capacity if capacity > 0 else 0.0

    @property
    def model_cpu_share(self) -> float:
        """Share of the workers' CPU time, while running batches, spent in the model."""
        cpu = self.worker_cpu_seconds
        return self.model_cpu_seconds / cpu if cpu > 0 else 0.0


def _manifest(experiment: Experiment, design_points: int, keep_timeseries: bool) -> dict[str, Any]:
    from serviceprofit import __version__

    return {
        "experiment_hash": experiment.fingerprint(),
        "keep_timeseries": keep_timeseries,
        "experiment": experiment.model_dump(mode="json"),
        "base_scenario": experiment.base.to_dict(),
        "design_points": design_points,
        "runs_total": design_points * experiment.replicates,
        "serviceprofit_version": __version__,
        # not part of the fingerprint: a resume from another commit or host still matches
        "provenance": _provenance(experiment),
    }


def _provenance(experiment: Experiment) -> dict[str, Any]:
    """The sweep's provenance: its base scenario, or its base market's firms and the market."""
    from serviceprofit.model.scenario import Scenario
    from serviceprofit.provenance import record

    base = experiment.base
    if isinstance(base, Scenario):
        return record(scenarios=[base], backend=experiment.backend, seeds=experiment.seed)
    return record(
        scenarios=list(base.firms.values()),
        backend=experiment.backend,
        seeds=experiment.seed,
        market=base.to_dict(),
        firm=experiment.firm,
    )


def _batch_size(todo: int, workers: int, requested: int | None) -> int:
    """Small enough that every worker gets about 16 batches (balance, a short tail),
    large enough that scheduling is paid once per many runs; at most ``MAX_BATCH``."""
    if requested is not None:
        return max(1, requested)
    return max(1, min(MAX_BATCH, math.ceil(todo / (16 * max(1, workers)))))


def _batches(
    experiment: Experiment, unit: np.ndarray, todo: list[int], size: int, keep_timeseries: bool
) -> Iterator[Batch]:
    """The runs still to do, grouped into batches, built lazily as the engine asks."""
    from serviceprofit.model.seeds import replicate_seed
    from serviceprofit.sweeps.design import values_at
    from serviceprofit.sweeps.runs import Batch, RunSpec

    reps = experiment.replicates
    for start in range(0, len(todo), size):
        ids = todo[start : start + size]
        points = sorted({i // reps for i in ids})
        values = values_at(experiment, unit[points])
        at = {p: {k: v[n] for k, v in values.items()} for n, p in enumerate(points)}
        specs = []
        for run_id in ids:
            point, replicate = divmod(run_id, reps)
            key = replicate if experiment.common_random_numbers else run_id
            labels = at[point]
            specs.append(
                RunSpec(
                    run_id=run_id,
                    point=point,
                    replicate=replicate,
                    seed=replicate_seed(experiment.seed, key),
                    overrides=experiment.overrides(labels),
                    labels=_labels(experiment, labels),
                )
            )
        yield Batch(
            base=experiment.base,
            backend=experiment.backend,
            runs=tuple(specs),
            keep_timeseries=keep_timeseries,
            firm=experiment.firm,
        )


def _labels(experiment: Experiment, values: dict[str, Any]) -> dict[str, Any]:
    """Factor values as stored: a mapping or a mixed-type level becomes JSON text."""
    from serviceprofit.sweeps.design import column_values

    return {k: column_values(experiment.factors[k], [v])[0] for k, v in values.items()}


def sweep(
    experiment: Experiment | str | Path,
    out: str | Path,
    *,
    engine: Evaluator | None = None,
    batch_size: int | None = None,
    progress: Callable[[SweepProgress], None] | None = None,
    keep_timeseries: bool = False,
) -> SweepReport:
    """Run every run of ``experiment`` not yet in ``out``, on ``engine``; return a report.

    ``engine`` is an evaluator (see :mod:`serviceprofit.sweeps.evaluators`); the default is a
    local process pool on every core. Raises
    :class:`~serviceprofit.sweeps.experiment.ExperimentError` for a bad experiment or an ``out``
    that holds another experiment's results (or was swept with ``keep_timeseries`` the
    other way), and its subclass :class:`~serviceprofit.sweeps.store.StoreError` when ``out``
    cannot be read or written. Runs that fail are reported, not written, so the next
    sweep of the same directory retries them; so are the runs of a damaged batch file,
    which is set aside (named in ``report.set_aside``). ``keep_timeseries`` keeps every
    run's weekly series (:func:`serviceprofit.sweeps.store.load_series`).
    """
    from serviceprofit.sweeps.design import factor_columns, unit_design
    from serviceprofit.sweeps.evaluators import ProcessPoolEvaluator
    from serviceprofit.sweeps.runs import run_batch
    from serviceprofit.sweeps.store import RunStore, load_design

    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    engine = engine if engine is not None else ProcessPoolEvaluator()
    with RunStore(out) as store:
        unit = unit_design(experiment)
        manifest = _manifest(experiment, len(unit), keep_timeseries)
        resumed = store.prepare(manifest, factor_columns(experiment, unit))
        if resumed:  # the stored design is the truth, whatever a sampler gives today
            stored = load_design(out)
            unit = stored[[f"u:{n}" for n in experiment.names]].to_numpy()
        total = len(unit) * experiment.replicates
        done = store.done_ids()
        todo = [i for i in range(total) if i not in done]
        report = SweepReport(
            out=Path(out),
            experiment=experiment.name,
            engine=engine.name,
            workers=0,
            total=total,
            skipped=len(done),
            set_aside=[str(d) for d in store.set_aside],
            keep_timeseries=keep_timeseries,
        )
        start, start_cpu = time.perf_counter(), time.process_time()
        if not todo:  # nothing left: no need to start workers
            return report
        with engine as running:
            report.workers = running.workers
            size = _batch_size(len(todo), running.workers, batch_size)
            batches = _batches(experiment, unit, todo, size, keep_timeseries)
            for batch, result, error in running.map_unordered(run_batch, batches):
                if error is not None:
                    message = f"{type(error).__name__}: {error}"
                    report.note_failures([(spec.run_id, message) for spec in batch.runs])
                else:
                    if store.write_batch(result.rows, result.series) is not None:
                        report.batches += 1
                    report.finished += len(result.rows)
                    report.note_failures(result.failures)
                    report.model_seconds += result.model_seconds
                    report.model_cpu_seconds += result.model_cpu_seconds
                    report.worker_cpu_seconds += result.cpu_seconds
                report.seconds = time.perf_counter() - start
                if progress is not None:
                    progress(
                        SweepProgress(
                            done=report.skipped + report.finished,
                            total=total,
                            skipped=report.skipped,
                            failed=report.failed,
                            elapsed=report.seconds,
                        )
                    )
        report.seconds = time.perf_counter() - start
        report.driver_cpu_seconds = time.process_time() - start_cpu
    return report
