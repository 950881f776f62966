"""Sweep overhead and scaling: runs/s, share of worker time in the model, 1 -> N workers.

Builds a Latin-hypercube experiment of ``--runs`` small runs (default: 2,000 customers,
156 weeks, the numba backend) and sweeps it on each engine and worker count into a
fresh directory, timing the whole sweep as a user sees it (start-up of the pool or the
cluster included). Scaling efficiency from 1 to N workers is ``T1 / (N * TN)``.

    .venv/bin/python benchmarks/sweep_scaling.py --runs 1000 --workers 2 --engines pool
    .venv/bin/python benchmarks/sweep_scaling.py --runs 120 --workers 1 2 --engines pool dask

The numba kernels are compiled (and cached on disk) once before timing starts, so each
worker only loads them. On a machine shared with other work, timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from serviceprofit.sweeps.evaluators import LocalDaskEvaluator, ProcessPoolEvaluator
from serviceprofit.sweeps.sweep import sweep

ROOT = Path(__file__).resolve().parents[1]


def experiment_text(args: argparse.Namespace) -> str:
    return (
        f"scenario: {(ROOT / 'scenarios' / 'baseline.yaml').as_posix()}\n"
        f"set: {{population.customers: {args.customers}, population.staff: {args.staff},"
        f" weeks: {args.weeks}}}\n"
        "factors:\n"
        # Levers near the baseline firm: the cost of a run stays close to the baseline's
        # (low empowerment or heavy marketing can make a run ten times dearer).
        "  strategy.process.empowerment: {low: 0.75, high: 0.9}\n"
        "  strategy.process.training_per_head: {low: 55, high: 80}\n"
        f"design: {{method: latin_hypercube, samples: {args.runs}}}\n"
        f"backend: {args.backend}\nseed: 1\n"
    )


def _bare_loop(args: tuple[str, int, int, int, int]) -> float:
    """Run ``count`` runs with ``simulate`` in a plain loop: no sweep, no batches, no files."""
    backend, customers, staff, weeks, count = args
    from serviceprofit import load_scenario, simulate

    scenario = load_scenario(
        ROOT / "scenarios" / "baseline.yaml",
        {"population.customers": customers, "population.staff": staff, "weeks": weeks},
    )
    simulate(scenario, backend=backend)  # load the compiled kernels before timing
    start = time.perf_counter()
    for seed in range(count):
        simulate(scenario, backend=backend, seed=seed + 1)
    return time.perf_counter() - start


def bare_runs_per_second(args: argparse.Namespace, workers: int) -> float:
    """The machine's ceiling: ``workers`` processes running the model flat out, together."""
    import multiprocessing

    from serviceprofit.sweeps.evaluators import thread_environment

    threads = max(1, (os.cpu_count() or 1) // workers)
    os.environ.update(thread_environment(threads))  # inherited by the spawned processes
    count = max(1, args.runs // workers)
    job = (args.backend, args.customers, args.staff, args.weeks, count)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        seconds = pool.map(_bare_loop, [job] * workers)
    return workers * count / max(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--staff", type=int, default=20)
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--engines", nargs="+", default=["pool", "dask"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    from serviceprofit import load_scenario, simulate

    warm = load_scenario(ROOT / "scenarios" / "baseline.yaml", {"weeks": 2})
    simulate(warm, backend=args.backend)  # compile and cache once, before any timing

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(experiment_text(args))
        for engine_name in args.engines:
            for n in args.workers:
                engine = ProcessPoolEvaluator(n) if engine_name == "pool" else LocalDaskEvaluator(n)
                report = sweep(path, Path(tmp) / f"{engine_name}-{n}", engine=engine)
                overhead = (report.seconds * n - report.model_seconds) / report.finished
                # CPU the sweep spent outside the model: in the workers and in the driver.
                overhead_cpu = (
                    report.worker_cpu_seconds - report.model_cpu_seconds + report.driver_cpu_seconds
                )
                row = {
                    "engine": engine_name,
                    "workers": n,
                    "runs": report.finished,
                    "seconds": round(report.seconds, 2),
                    "runs_per_second": round(report.runs_per_second, 3),
                    "model_share": round(report.model_share, 3),
                    "model_seconds_per_run": round(report.model_seconds / report.finished, 4),
                    "overhead_seconds_per_run": round(overhead, 4),
                    "model_cpu_share": round(report.model_cpu_share, 4),
                    "model_cpu_seconds_per_run": round(
                        report.model_cpu_seconds / report.finished, 4
                    ),
                    "overhead_cpu_ms_per_run": round(1000 * overhead_cpu / report.finished, 2),
                    "load_average_1min": round(os.getloadavg()[0], 1),
                }
                results.append(row)
                print(json.dumps(row), flush=True)
    bare = {n: bare_runs_per_second(args, n) for n in args.workers}
    for n, rate in bare.items():
        print(f"bare model, {n} process(es) in parallel: {rate:.2f} runs/s", flush=True)
    for row in results:
        row["share_of_bare_rate"] = round(row["runs_per_second"] / bare[row["workers"]], 3)
        print(f"{row['engine']} x{row['workers']}: {row['share_of_bare_rate']:.0%} of bare rate")
    if 1 in bare:
        for n, rate in bare.items():
            if n > 1:
                print(f"bare model: efficiency 1 -> {n} processes = {rate / (n * bare[1]):.0%}")
    for engine_name in args.engines:
        by_n = {r["workers"]: r["seconds"] for r in results if r["engine"] == engine_name}
        if 1 in by_n:
            for n, seconds in by_n.items():
                if n > 1:
                    efficiency = by_n[1] / (n * seconds)
                    print(f"{engine_name}: efficiency 1 -> {n} workers = {efficiency:.0%}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
