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
from pathlib import Path

from serviceprofit.evaluators import LocalDaskEvaluator, ProcessPoolEvaluator
from serviceprofit.sweeps import sweep

ROOT = Path(__file__).resolve().parents[1]


def experiment_text(args: argparse.Namespace) -> str:
    return (
        f"scenario: {(ROOT / 'scenarios' / 'baseline.yaml').as_posix()}\n"
        f"set: {{population.customers: {args.customers}, population.staff: {args.staff},"
        f" weeks: {args.weeks}}}\n"
        "factors:\n"
        "  strategy.process.empowerment: {low: 0.2, high: 0.9}\n"
        "  strategy.marketing.spend_per_week: {low: 0, high: 1000}\n"
        f"design: {{method: latin_hypercube, samples: {args.runs}}}\n"
        f"backend: {args.backend}\nseed: 1\n"
    )


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
