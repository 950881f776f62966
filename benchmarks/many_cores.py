"""Scaling on a machine with many cores: threads at 10M customers, ensembles, sweep workers.

Made for the few minutes a lent many-core machine gives (docs/performance.md, "Many
cores"), so every part is sized to finish in seconds and the figures are written to
``--out`` after each part (a run cut short keeps what it measured):

    python benchmarks/many_cores.py --threads 1 2 4 8 16 --out many-cores.json

1. **machine**: processor, cores, numba and its threading layer; how much work N cores
   do together against one alone, compiled (threads) and in Python (processes).
2. **memory bandwidth**: a STREAM-like triad over arrays far larger than the caches, on
   each thread count: the ceiling that a pass over customer records can reach.
3. **thread scaling** of one large run (``--customers``, default 10M) on each thread
   count, and of the same run for one week: the one-week run's time is mostly set-up and
   result (creating the customers, the frame), so ``(T13 - T1) / 12`` is one week's
   compiled passes and the rest is what does not scale with the weeks. An Amdahl fit of
   the times gives the share that behaves serially.
4. **ensemble scaling**: ``--ensemble-runs`` small runs (2,000 customers, 156 weeks) in
   one compiled call, parallel over runs, on each thread count.
5. **sweep scaling**: a sweep of ``--sweep-runs`` small runs on a process pool of N
   workers, each worker's ensembles on one thread (so N workers use N cores), and on
   the default split (N workers x cores/N threads), or on ``--sweep-splits``.

Each size's steps per second count customer-steps as ``serviceprofit bench`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # sweep_scaling's experiment


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import numba
    import numpy as np

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        lscpu = ""
    keep = ("Thread(s) per core", "Core(s) per socket", "Socket(s)", "NUMA node(s)", "L3")
    import serviceprofit
    from serviceprofit.provenance import dependency_versions, git_state

    return {
        "processor": model,
        "cpu_count": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "lscpu": {
            k.strip(): v.strip()
            for k, _, v in (line.partition(":") for line in lscpu.splitlines())
            if k.strip().startswith(keep)
        },
        "python": platform.python_version(),
        "numba": numba.__version__,
        "numpy": np.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        # commit and whether the tree differs from it (a lent machine's copy of the tree
        # may carry a checkout's first commit: "dirty" then says the code is not it)
        "git": git_state(),
        "serviceprofit": serviceprofit.__version__,
        "dependencies": dependency_versions(),
        # every run is scenarios/baseline.yaml at the sizes of argv, seed 0 (bench.sized)
        "scenario": "scenarios/baseline.yaml",
    }


def bandwidth(threads: list[int], megabytes: int = 400) -> list[dict[str, Any]]:
    """STREAM triad ``a = b + 1.5 c`` over three float64 arrays of ``megabytes`` each:
    bytes read and written per second (write-allocate traffic not counted), best of 5."""
    import numba
    import numpy as np

    @numba.njit(parallel=True)
    def triad(a, b, c):
        for i in numba.prange(a.size):
            a[i] = b[i] + 1.5 * c[i]

    n = megabytes * 1_000_000 // 8
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    triad(a, b, c)
    rows = []
    for t in threads:
        numba.set_num_threads(t)
        best = min(_timed(triad, a, b, c) for _ in range(5))
        rows.append({"threads": t, "gb_per_second": 3 * a.nbytes / best / 1e9})
        print(f"bandwidth {t:>2} threads: {rows[-1]['gb_per_second']:.1f} GB/s", flush=True)
    return rows


def hardware(threads: list[int]) -> list[dict[str, Any]]:
    """How much work N cores do together against one alone, with no memory traffic:
    a compiled integer hash loop on N threads, and a Python loop in N processes
    (``serviceprofit.bench.effective_cores``). On a machine whose cores share a clock
    budget or a physical core (a virtual machine's vCPUs), N threads do less than N
    times one thread's work, and no program on it scales further."""
    import numba
    import numpy as np

    from serviceprofit.bench import effective_cores

    @numba.njit(parallel=True)
    def spin(out, loops):
        for j in numba.prange(out.size):
            z = np.uint64(j + 1)
            for _ in range(loops):
                z = (z ^ (z >> np.uint64(31))) * np.uint64(0x9E3779B97F4A7C15)
            out[j] = z

    loops = 100_000_000
    spin(np.zeros(1, np.uint64), 10)
    rows = []
    alone = None
    for t in threads:
        numba.set_num_threads(t)
        seconds = min(_timed(spin, np.zeros(t, np.uint64), loops) for _ in range(3))
        alone = alone or seconds
        row = {
            "threads": t,
            "compiled_effective_cores": t * alone / seconds,
            "python_effective_cores": effective_cores(t, 10_000_000),
        }
        rows.append(row)
        print(
            f"cores {t:>2}: compiled {row['compiled_effective_cores']:.1f},"
            f" python {row['python_effective_cores']:.1f}",
            flush=True,
        )
    return rows


def _timed(function: Any, *args: Any) -> float:
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def amdahl(rows: list[dict[str, Any]]) -> float | None:
    """Serial share ``f`` of ``T(n) = T1 (f + (1 - f) / n)``, least squares on ``T / T1``."""
    import numpy as np

    one = next((r["seconds"] for r in rows if r["threads"] == 1), None)
    if one is None or len(rows) < 3:
        return None
    n = np.array([r["threads"] for r in rows], dtype=float)
    y = np.array([r["seconds"] / one for r in rows])
    x = 1.0 - 1.0 / n  # y = 1 - (1 - f) x  ->  1 - y = (1 - f) x
    parallel = float(np.dot(x, 1.0 - y) / np.dot(x, x))
    return 1.0 - parallel


def thread_scaling(customers: int, weeks: int, threads: list[int]) -> dict[str, Any]:
    """One run of ``customers`` for ``weeks`` and for one week, on each thread count."""
    from serviceprofit import load_scenario
    from serviceprofit.bench import measure_run, sized

    base = load_scenario(ROOT / "scenarios" / "baseline.yaml")
    rows = []
    for t in threads:
        row = {"threads": t}
        for label, w in (("week_1", 1), ("weeks", weeks)):
            figures = measure_run(sized(base, customers, w).to_dict(), "numba", 0, t)
            row[label] = figures
        whole, first = row["weeks"]["seconds"], row["week_1"]["seconds"]
        row["seconds"] = whole
        row["steps_per_second"] = row["weeks"]["steps_per_second"]
        row["seconds_per_week"] = (whole - first) / (weeks - 1)
        row["fixed_seconds"] = whole - weeks * row["seconds_per_week"]
        rows.append(row)
        print(
            f"{customers:,} x {weeks}: {t:>2} threads {whole:.2f} s,"
            f" {row['steps_per_second'] / 1e6:.0f}M steps/s, a week {row['seconds_per_week']:.3f}"
            f" s, fixed {row['fixed_seconds']:.2f} s",
            flush=True,
        )
    one = rows[0]
    for row in rows:
        row["speedup"] = one["seconds"] / row["seconds"]
        row["speedup_per_week"] = one["seconds_per_week"] / row["seconds_per_week"]
    return {
        "customers": customers,
        "weeks": weeks,
        "rows": rows,
        "amdahl_serial_share": amdahl(rows),
        "amdahl_serial_share_per_week": amdahl(
            [{"threads": r["threads"], "seconds": r["seconds_per_week"]} for r in rows]
        ),
    }


def ensemble_scaling(runs: int, threads: list[int]) -> dict[str, Any]:
    """``runs`` small runs in one compiled call on each thread count."""
    from serviceprofit import load_scenario
    from serviceprofit.bench import SMALL_RUN, measure_ensemble, sized

    small = sized(load_scenario(ROOT / "scenarios" / "baseline.yaml"), *SMALL_RUN).to_dict()
    rows = []
    for t in threads:
        rows.append(measure_ensemble(small, 0, runs, t))
        rows[-1]["speedup"] = rows[0]["seconds"] / rows[-1]["seconds"]
        print(
            f"ensemble of {runs}: {t:>2} threads {rows[-1]['seconds']:.2f} s,"
            f" {rows[-1]['speedup']:.1f}x one thread",
            flush=True,
        )
    return {"runs": runs, "customers": SMALL_RUN[0], "weeks": SMALL_RUN[1], "rows": rows}


def sweep_scaling(sizes: list[int], splits: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """A sweep of each of ``sizes`` small runs on each (workers, threads per worker); one
    worker on one thread only at the smallest size (it is the slowest by far). Speed-up
    is runs per second over that one core's."""
    from sweep_scaling import experiment_text

    from serviceprofit.sweeps.evaluators import ProcessPoolEvaluator
    from serviceprofit.sweeps.sweep import sweep

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for runs in sizes:
            args = argparse.Namespace(
                customers=2000, staff=20, weeks=156, runs=runs, backend="numba"
            )
            path = Path(tmp) / f"bench-{runs}.yaml"
            path.write_text(experiment_text(args))
            for workers, threads in splits:
                if (workers, threads) == (1, 1) and runs != min(sizes):
                    continue
                engine = ProcessPoolEvaluator(workers, threads_per_worker=threads)
                report = sweep(path, Path(tmp) / f"{runs}-{workers}x{threads}", engine=engine)
                rows.append(
                    {
                        "workers": workers,
                        "threads_per_worker": threads,
                        "runs": report.finished,
                        "seconds": report.seconds,
                        "runs_per_second": report.runs_per_second,
                        "model_share": report.model_share,
                        "model_seconds_per_run": report.model_seconds / report.finished,
                    }
                )
                print(
                    f"sweep of {runs}: {workers:>2} workers x {threads:>2} threads:"
                    f" {report.seconds:.2f} s, {report.runs_per_second:.0f} runs/s,"
                    f" {rows[-1]['model_seconds_per_run'] * 1e3:.1f} ms model a run",
                    flush=True,
                )
    one = next((r for r in rows if r["workers"] == 1 and r["threads_per_worker"] == 1), None)
    for row in rows:
        if one is not None:
            row["speedup"] = row["runs_per_second"] / one["runs_per_second"]
    return rows


def split(text: str) -> tuple[int, int]:
    """``"4x2"``: four workers of two threads."""
    workers, _, threads = text.partition("x")
    return int(workers), int(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--customers", type=int, default=10_000_000)
    parser.add_argument("--weeks", type=int, default=13)
    parser.add_argument("--ensemble-runs", type=int, default=400)
    parser.add_argument("--sweep-runs", type=int, nargs="+", default=[2000])
    parser.add_argument(
        "--sweep-splits",
        type=split,
        nargs="+",
        help="workers x threads per worker (default: N x 1 and N x cores/N for each N)",
    )
    parser.add_argument("--skip", nargs="*", default=[], help="parts to leave out")
    parser.add_argument("--out", type=Path, default=Path("many-cores.json"))
    args = parser.parse_args()

    from serviceprofit.backends.numba import wait_passively

    wait_passively()
    figures: dict[str, Any] = {"machine": machine(), "argv": sys.argv[1:]}

    def save() -> None:
        args.out.write_text(json.dumps(figures, indent=2, default=str) + "\n")

    save()
    started = time.perf_counter()
    from serviceprofit import load_scenario, simulate

    simulate(load_scenario(ROOT / "scenarios" / "baseline.yaml", {"weeks": 2}), backend="numba")
    figures["first_run_seconds"] = time.perf_counter() - started  # compiles into the cache
    print(f"first run (compiles): {figures['first_run_seconds']:.1f} s", flush=True)
    save()
    parts = {
        "hardware": lambda: hardware(args.threads),
        "bandwidth": lambda: bandwidth(args.threads),
        "threads": lambda: thread_scaling(args.customers, args.weeks, args.threads),
        "ensemble": lambda: ensemble_scaling(args.ensemble_runs, args.threads),
        "sweep": lambda: sweep_scaling(
            args.sweep_runs,
            args.sweep_splits
            or [(n, 1) for n in args.threads]
            + [(n, max(args.threads) // n) for n in args.threads if n < max(args.threads)],
        ),
    }
    for name, part in parts.items():
        if name in args.skip:
            continue
        began = time.perf_counter()
        try:
            figures[name] = part()
        except Exception as exc:  # keep what the other parts measure
            figures[name] = {"error": f"{type(exc).__name__}: {exc}"}
            print(f"{name}: {figures[name]['error']}", flush=True)
        figures.setdefault("part_seconds", {})[name] = time.perf_counter() - began
        save()
    import numba

    figures["machine"]["threading_layer"] = numba.threading_layer()
    save()


if __name__ == "__main__":
    main()
