"""Time and memory of building the customer network (serviceprofit.model.network).

Builds one network of ``--people`` nodes and ``--degree`` mean ties per kind, after a
small warm-up build that compiles the code (so compile time is not counted), and prints
seconds, ties, bytes per tie and the process's peak resident memory before and after
the build (``ru_maxrss``; the difference is the build's own peak):

    .venv/bin/python benchmarks/network_build.py --people 10000000 --degree 10

Issue 12's target: a two-firm market of 10M customers with a degree-10 network, 156
weeks, in 120 s and 2.5 GB peak on 2 cores, network generation included.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numba
import numpy as np

from serviceprofit.model.network import KINDS, build_network
from serviceprofit.model.rng import run_key


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000_000)
    parser.add_argument("--degree", type=int, default=10)
    parser.add_argument("--kind", choices=KINDS, default=None, help="one kind (default: all)")
    args = parser.parse_args()
    kinds = [args.kind] if args.kind else list(KINDS)
    segment = (np.arange(args.people) * 0.6180339887498949 % 1.0 * 3).astype(np.int8)
    for kind in kinds:  # compile outside the timing
        build_network(run_key(0), 1000, kind, 4, segment=segment[:1000])
    for kind in kinds:
        before = peak_mb()
        start = time.perf_counter()
        network = build_network(run_key(1), args.people, kind, args.degree, segment=segment)
        seconds = time.perf_counter() - start
        row = {
            "kind": kind,
            "people": args.people,
            "degree": args.degree,
            "threads": numba.get_num_threads(),
            "seconds": round(seconds, 2),
            "ties": network.n_ties,
            "mean_degree": round(float(network.degrees().mean()), 4),
            "bytes_per_tie": round(network.nbytes / network.n_ties, 2),
            "network_mb": round(network.nbytes / 2**20, 1),
            "peak_rss_mb_before": round(before, 1),
            "peak_rss_mb_after": round(peak_mb(), 1),
        }
        print(json.dumps(row))
        del network


if __name__ == "__main__":
    main()
