"""Time and memory of a two-firm market run on the numba backend (issue 12's target).

A two-firm market (two copies of the baseline firm, one switching to a cost-minimised
process in week 52; staff and marketing scaled with the customers) of ``--people``
customers and a ``--degree`` small-world network, ``--weeks`` weeks, after a small
warm-up market that compiles the code (compile time is not counted). Prints the
network build's seconds, the whole run's seconds (network included) and the process's
peak resident memory:

    .venv/bin/python benchmarks/market_bench.py --people 10000000 --degree 10 --weeks 156

Issue 12's target: 10M customers, degree 10, 156 weeks, 2 cores: <= 120 s and
<= 2.5 GB peak, network generation included.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numba

from serviceprofit import simulate_market
from serviceprofit.backends import market_run
from serviceprofit.model.market import load_market


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def market(people: int, degree: int, weeks: int):
    staff = max(2, people // 200)  # the baseline's 50 staff per 5,000 customers, per firm
    spend = people / 10  # the baseline's 1,000 a week per 5,000 customers, per firm
    return load_market(
        "rivals_one_cuts_cost",
        {
            "weeks": weeks,
            "market.customers": people,
            "market.prospects.initial": people // 10,
            "market.prospects.arrivals_per_week": people / 1000,
            "market.network.average_degree": degree,
            "firms.frugal.events.0.week": min(52, weeks - 1),
            "firms.steady.population.staff": staff,
            "firms.frugal.population.staff": staff,
            "firms.steady.strategy.marketing.spend_per_week": spend,
            "firms.frugal.strategy.marketing.spend_per_week": spend,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000_000)
    parser.add_argument("--degree", type=int, default=10)
    parser.add_argument("--weeks", type=int, default=156)
    args = parser.parse_args()
    simulate_market(market(2000, 4, 10), seed=0)  # compile outside the timing
    chosen = market(args.people, args.degree, args.weeks)
    before = peak_mb()
    start = time.perf_counter()
    setup = market_run.prepare(chosen, 1)
    network_seconds = time.perf_counter() - start
    del setup
    start = time.perf_counter()
    result = simulate_market(chosen, seed=1)
    seconds = time.perf_counter() - start
    row = {
        "people": args.people,
        "degree": args.degree,
        "weeks": args.weeks,
        "threads": numba.get_num_threads(),
        "network_and_setup_seconds": round(network_seconds, 2),
        "run_seconds_including_network": round(seconds, 2),
        "network_share": round(network_seconds / seconds, 3),
        "peak_rss_mb_before": round(before, 1),
        "peak_rss_mb": round(peak_mb(), 1),
        "final_shares": {
            name: round(float(run.timeseries["market_share"].iloc[-1]), 4)
            for name, run in result.firms.items()
        },
    }
    print(json.dumps(row))


if __name__ == "__main__":
    main()
