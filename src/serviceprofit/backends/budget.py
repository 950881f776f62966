"""What a job will cost, estimated before it starts, and refused when it cannot fit.

A Mesa run of 40 million customers needs about 60 GB and days; a typo in
``population.customers`` should cost a one-line error, not a swapping machine. The
estimate is rough on purpose (a factor of two either way): it needs only the scenario,
the backend, the number of runs and how many run at once.

The per-backend constants were measured on the development machine (2 shared cores,
Python 3.12) with runs of the default scenario at two sizes, taking the difference so
that the interpreter and imports cancel out: peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) and wall time after a warm-up run
(numba compiled and cached)::

    mesa  10,000 -> 100,000 customers x 8 weeks: +127 MB peak; 2.6 s -> 22.9 s
    numba 200,000 -> 2,000,000 customers x 20 weeks: +53 MB peak; 0.71 s -> 3.9 s

which gives ~1,400 bytes and ~2.9e-5 s per customer-week for Mesa, and ~30 bytes and
~1e-7 s per customer-week for numba. The constants below round these up (Mesa's agents
and numba's arrays grow with the customers a run acquires).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from serviceprofit.model.scenario import Scenario

__all__ = ["COSTS", "MAX_SECONDS", "BudgetError", "Cost", "Estimate", "check", "estimate"]


@dataclass(frozen=True)
class Cost:
    """Per-backend cost of one customer: bytes held, seconds per simulated week."""

    bytes_per_customer: float
    seconds_per_customer_week: float


#: Measured as the module docstring says, rounded up.
COSTS: dict[str, Cost] = {
    "mesa": Cost(bytes_per_customer=2_000, seconds_per_customer_week=3e-5),
    "numba": Cost(bytes_per_customer=100, seconds_per_customer_week=1.5e-7),
}
#: A process with the package imported (numba, pandas, Mesa): ~250 MB measured.
PROCESS_BYTES = 300 * 2**20
#: Longest job started without question: a day.
MAX_SECONDS = 24 * 3600.0


class BudgetError(ValueError):
    """A job that will not fit: says the figure and a way out."""


@dataclass(frozen=True)
class Estimate:
    """Peak memory of the runs that go at once, and wall time of the whole job."""

    memory_bytes: float
    seconds: float


def _customers(scenario: Scenario) -> float:
    """Most customers a run may hold: the start plus what marketing can buy at par."""
    marketing = scenario.strategy.marketing
    bought = marketing.spend_per_week / marketing.cost_per_acquisition * scenario.weeks
    return scenario.population.customers + bought


def estimate(scenario: Scenario, backend: str, runs: int = 1, at_once: int = 1) -> Estimate:
    """Peak memory and wall time of ``runs`` runs of ``scenario``, ``at_once`` in parallel."""
    cost = COSTS.get(backend, COSTS["mesa"])
    customers = _customers(scenario)
    at_once = max(1, min(at_once, runs))
    memory = at_once * (PROCESS_BYTES + customers * cost.bytes_per_customer)
    seconds = runs * customers * scenario.weeks * cost.seconds_per_customer_week / at_once
    return Estimate(memory, seconds)


def available_memory() -> float:
    """Memory the machine can give now (``MemAvailable``), else its physical memory."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def _size(n: float) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"


def _time(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours / 24:,.1f} days" if hours >= 48 else f"{hours:,.1f} hours"


def check(
    scenario: Scenario,
    backend: str,
    runs: int = 1,
    at_once: int = 1,
    memory: float | None = None,
    max_seconds: float = MAX_SECONDS,
) -> Estimate:
    """Refuse a job whose estimate exceeds the memory available or ``max_seconds``.

    Raises :class:`BudgetError` with the figure and a way out: the numba backend, fewer
    runs at once, fewer runs, or a smaller firm.
    """
    memory = available_memory() if memory is None else memory
    est = estimate(scenario, backend, runs, at_once)
    ways = []
    if backend != "numba":
        ways.append("use --backend numba")
    what = f"{runs:,} run{'s' if runs > 1 else ''} of {_customers(scenario):,.0f} customers"
    if est.memory_bytes > memory:
        if at_once > 1:
            ways.append("fewer workers (--workers)")
        ways.append("fewer customers (population.customers)")
        raise BudgetError(
            f"{what} x {scenario.weeks} weeks on {backend} need about"
            f" {_size(est.memory_bytes)} of memory ({at_once} at once); {_size(memory)} is"
            f" available: {', or '.join(ways)}"
        )
    if est.seconds > max_seconds:
        if runs > 1:
            ways.append("fewer replicates, seeds or design points")
        ways.append("fewer customers or weeks")
        raise BudgetError(
            f"{what} x {scenario.weeks} weeks on {backend} would take about"
            f" {_time(est.seconds)}; the limit is {_time(max_seconds)}: {', or '.join(ways)}"
        )
    return est
