"""Benchmark the numba backend against Mesa and at scale; keep the figures per commit.

A thin wrapper around ``serviceprofit bench`` (:func:`serviceprofit.bench.benchmark`)
that names the JSON file after the current commit, so figures can be compared across
commits:

    .venv/bin/python benchmarks/numba_backend.py            # full: 100k, 1M, 10M customers
    .venv/bin/python benchmarks/numba_backend.py --quick    # a minute or two

Writes ``benchmarks/results/numba-<commit>.json``. Timings on a machine shared with
other work are noisy: the load average before and after is in the file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from serviceprofit.bench import QUICK, benchmark, describe

ROOT = Path(__file__).resolve().parents[1]


def commit() -> str:
    """The current commit's short id, with ``-dirty`` if the tree has changes."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return (sha or "unknown") + ("-dirty" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--scenario", default=str(ROOT / "scenarios" / "baseline.yaml"))
    args = parser.parse_args()
    figures = benchmark(
        args.scenario,
        progress=lambda message: print(f"  running: {message}", flush=True),
        **(QUICK if args.quick else {}),
    )
    figures["commit"] = commit()
    out = ROOT / "benchmarks" / "results" / f"numba-{figures['commit']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print("\n".join(describe(figures)))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
