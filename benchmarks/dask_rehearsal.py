"""A small rehearsal of the million-run plan (docs/scaling.md) on one machine.

Starts a Dask scheduler and two workers as separate process groups (stand-ins for
machines), sweeps a Latin-hypercube experiment through ``serviceprofit sweep
--scheduler``, and on the way:

1. kills one worker's whole process group with SIGKILL (a lost machine) once a quarter
   of the batches are on disk, then starts a fresh worker (a replacement joins);
2. kills the sweep's own process (the client) with SIGKILL at 60%, then runs the same
   command again to resume.

It then checks that every run id is on disk exactly once, and re-runs a few runs
directly with ``simulate`` from their stored seed and factor values to check they
reproduce bit for bit.

    .venv/bin/python benchmarks/dask_rehearsal.py --runs 400 --customers 500 --weeks 52
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def start(command: list[str], log: Path) -> subprocess.Popen:
    """A process in its own session, so killing its group is losing a 'machine'."""
    out = log.open("w")
    return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def batches(out: Path) -> int:
    return len(list(out.glob("runs/batch-*.parquet")))


def wait_for(condition, what: str, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--batch-size", type=int, default=5)
    args = parser.parse_args()

    from serviceprofit import load_scenario, simulate
    from serviceprofit.sweeps.store import load_runs

    simulate(load_scenario(ROOT / "scenarios" / "baseline.yaml", {"weeks": 2}), args.backend)
    tmp = Path(tempfile.mkdtemp(prefix="rehearsal-"))
    experiment = tmp / "rehearsal.yaml"
    experiment.write_text(
        f"scenario: {(ROOT / 'scenarios' / 'baseline.yaml').as_posix()}\n"
        f"set: {{population.customers: {args.customers}, population.staff: 5,"
        f" weeks: {args.weeks}}}\n"
        "factors:\n"
        "  strategy.process.empowerment: {low: 0.2, high: 0.9}\n"
        "  strategy.organisation.misroute_probability: {low: 0.05, high: 0.35}\n"
        f"design: {{method: latin_hypercube, samples: {args.runs}}}\n"
        f"backend: {args.backend}\nseed: 99\n"
    )
    out = tmp / "out"
    total_batches = -(-args.runs // args.batch_size)
    scheduler_file = tmp / "scheduler.json"
    dask = str(BIN / "dask")
    scheduler = start(
        [dask, "scheduler", "--scheduler-file", str(scheduler_file), "--port", "0",
         "--no-dashboard"],
        tmp / "scheduler.log",
    )  # fmt: skip
    wait_for(scheduler_file.exists, "the scheduler")
    address = json.loads(scheduler_file.read_text())["address"]
    worker_cmd = [dask, "worker", address, "--nthreads", "1", "--no-dashboard"]
    workers = [start(worker_cmd, tmp / f"worker{i}.log") for i in range(2)]
    sweep_cmd = [str(BIN / "serviceprofit"), "sweep", str(experiment), "--out", str(out)]
    sweep_cmd += ["--scheduler", address, "--batch-size", str(args.batch_size)]
    events = []
    began = time.monotonic()
    try:
        client = start(sweep_cmd, tmp / "sweep1.log")
        wait_for(lambda: batches(out) >= total_batches // 4, "a quarter of the batches")
        kill_group(workers[1])
        events.append(f"{time.monotonic() - began:6.1f}s  killed worker 2 (SIGKILL, its group)")
        time.sleep(2.0)
        workers.append(start(worker_cmd, tmp / "worker3.log"))
        events.append(f"{time.monotonic() - began:6.1f}s  started a replacement worker")
        wait_for(lambda: batches(out) >= total_batches * 6 // 10, "60% of the batches")
        os.kill(client.pid, signal.SIGKILL)
        client.wait(timeout=30)
        done_at_kill = batches(out)
        events.append(
            f"{time.monotonic() - began:6.1f}s  killed the sweep client (SIGKILL) with"
            f" {done_at_kill}/{total_batches} batches on disk"
        )
        resumed = subprocess.run(sweep_cmd, capture_output=True, text=True, timeout=1800)
        events.append(
            f"{time.monotonic() - began:6.1f}s  resumed sweep finished: rc={resumed.returncode}"
        )
    finally:
        for proc in [*workers, scheduler]:
            kill_group(proc)
    elapsed = time.monotonic() - began

    runs = load_runs(out)
    files = sorted(out.glob("runs/batch-*.parquet"))
    import pandas as pd

    raw = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    complete = sorted(raw["run_id"]) == list(range(args.runs))
    base = load_scenario(
        ROOT / "scenarios" / "baseline.yaml",
        {"population.customers": args.customers, "population.staff": 5, "weeks": args.weeks},
    )
    names = ["strategy.process.empowerment", "strategy.organisation.misroute_probability"]
    reproduced = 0
    for _, row in runs.sample(5, random_state=0).iterrows():
        again = simulate(base.with_overrides({n: row[n] for n in names}), args.backend, row["seed"])
        reproduced += again.summary["profit_total"] == row["profit_total"]
    print("\n".join(events))
    print(resumed.stdout.strip())
    print(
        f"rows on disk {len(raw)}, unique run ids {raw['run_id'].nunique()}, expected"
        f" {args.runs}: {'complete, no duplicates' if complete else 'INCOMPLETE OR DUPLICATED'}"
    )
    print(f"{reproduced}/5 sampled runs reproduced exactly by simulate(); wall {elapsed:.1f}s")
    print(f"(scratch directory: {tmp})")


if __name__ == "__main__":
    main()
