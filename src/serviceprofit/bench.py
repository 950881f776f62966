"""The benchmark: customer-steps per second of both backends, side by side, and at scale.

A customer-step is one active customer taken through one week (customers active at the
start of each week, summed over weeks). :func:`benchmark` measures, for one scenario:

- **compile**: the numba kernels compiled from an empty disk cache, and loaded from the
  cache by a second process;
- **same size**: Mesa and numba (one thread and all threads) on the same scenario, size
  and weeks, one after the other, and the ratio numba/Mesa, at each of ``same_sizes``
  (customers, weeks): Mesa's rate per customer falls as populations grow, so the ratio
  depends on the size;
- **throughput** of numba, all threads, at each of ``sizes`` (staff in the scenario's
  ratio to customers, within the schema's limit), with peak memory;
- **thread scaling**: one thread against all at ``scaling_size``, with the CPU time each
  got (``cores_used``: on a busy machine two threads may get one core between them),
  and where one thread's time goes, phase by phase of the week;
- **small runs**: 2,000 customers for 156 weeks, one ``simulate`` call after another on
  one thread; and an **ensemble** of 200 of them in one call, on one thread and on all,
  alternately three times in one process (the median of each counts);
- **state**: bytes of state per customer.

Every measurement runs in a fresh process (``spawn``), so its peak memory is its own
and no run warms another's caches; each process first runs a tiny warm-up, so timings
exclude loading the compiled kernels; a run shorter than a second is repeated and the
median repeat counts. The result is plain data for a JSON file, with the
machine's load average before and after: on a shared machine, ratios measured side by
side in one run are the figures to trust.
"""

from __future__ import annotations

import datetime
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from serviceprofit.model.scenario import Scenario, load_scenario
from serviceprofit.model.seeds import replicate_seed, replicate_seeds

__all__ = [
    "QUICK",
    "TARGETS",
    "benchmark",
    "describe",
    "effective_cores",
    "measure_ensemble",
    "measure_ensembles",
    "measure_run",
    "measure_small_runs",
]

MAX_STAFF = 100_000  # the scenario schema's limit

# The targets of issues 3 and 10 (on a 2-core machine).
TARGETS = {
    "one_core_steps_per_second_at_1M": 50e6,
    "seconds_10M_customers_156_weeks": 60.0,
    "peak_memory_bytes_10M": 1e9,
    "numba_over_mesa": 300.0,
    "scaling_1_to_2_threads": 1.7,
    "small_run_seconds_one_core": 0.010,
    "small_over_large_steps_per_second": 0.5,
    "ensemble_2_cores_over_1": 1.8,
}

# A timed run shorter than this is repeated (at most SHORT_RUN_REPEATS times in all) and
# the median run counts.
SHORT_RUN_SECONDS = 1.0
SHORT_RUN_REPEATS = 5

# The small firm of sweeps and calibration: 2,000 customers for three years.
SMALL_RUN = (2000, 156)
ENSEMBLE_RUNS = 200
# The ensemble on one thread and on all, alternately, this many times (the medians count).
ENSEMBLE_ROUNDS = 3


# Sizes for a quick look (a minute or two), as keyword arguments of :func:`benchmark`.
QUICK: dict[str, Any] = {
    "sizes": (10_000, 100_000),
    "weeks": 26,
    "same_sizes": ((5_000, 13),),
    "scaling_size": 100_000,
    "scaling_weeks": 13,
    "ensemble_runs": 40,
}


def sized(scenario: Scenario, customers: int, weeks: int) -> Scenario:
    """``scenario`` at ``customers`` customers for ``weeks``, staff in the same ratio."""
    ratio = scenario.population.staff / scenario.population.customers
    staff = min(MAX_STAFF, max(1, round(customers * ratio)))
    return scenario.with_overrides(
        {"population.customers": customers, "population.staff": staff, "weeks": weeks},
        source="benchmark size",
    )


def customer_steps(result: Any, initial_customers: int) -> int:
    """A run's customer-steps: the customers active at the start of each week, summed
    (week 0 starts with ``initial_customers``; each later week with the previous week's
    active ones)."""
    active = result.timeseries["customers_active"]
    return int(initial_customers + active.iloc[:-1].sum())


def measure_run(
    scenario_data: dict[str, Any], backend: str, seed: int, threads: int | None
) -> dict[str, Any]:
    """Run in this process (after a tiny warm-up) and time it; for a worker process.

    A run shorter than ``SHORT_RUN_SECONDS`` is repeated, the same run, until the repeats
    add up to that or number ``SHORT_RUN_REPEATS``, and the median counts: one run of a few
    milliseconds measures the machine's hiccups as much as the model. ``threads`` sets
    numba's thread count (``None``: all). Returns seconds (the median run's; every repeat
    in ``repeats``), customer-steps, their rate, bytes of customer state, and this
    process's peak resident memory.
    """
    from serviceprofit.backends.numba import wait_passively

    wait_passively()
    import numba

    from serviceprofit.backends.simulate import simulate

    scenario = Scenario.model_validate(scenario_data)
    if threads is not None:
        numba.set_num_threads(threads)
    simulate(_warm_up(scenario, backend), backend=backend, seed=seed)
    timings = []  # (seconds, CPU seconds) of each repeat
    while True:
        start, cpu_start = time.perf_counter(), time.process_time()
        result = simulate(scenario, backend=backend, seed=seed)
        timings.append((time.perf_counter() - start, time.process_time() - cpu_start))
        if len(timings) == SHORT_RUN_REPEATS or sum(t for t, _ in timings) >= SHORT_RUN_SECONDS:
            break
    seconds, cpu_seconds = sorted(timings)[len(timings) // 2]  # the median run
    steps = customer_steps(result, scenario.population.customers)
    return {
        "backend": backend,
        "customers": scenario.population.customers,
        "staff": scenario.population.staff,
        "weeks": scenario.weeks,
        "threads": numba.get_num_threads() if backend == "numba" else 1,
        "seconds": seconds,
        "repeats": [t for t, _ in timings],
        "cpu_seconds": cpu_seconds,
        "cores_used": cpu_seconds / seconds,
        "customer_steps": steps,
        "steps_per_second": steps / seconds,
        "peak_memory_bytes": _peak_rss_bytes(),
    }


def measure_small_runs(scenario_data: dict[str, Any], seed: int, runs: int) -> dict[str, Any]:
    """Runs of a small firm one after the other on one thread, each a whole ``simulate``
    call (set-up and result included), for a worker process: the best and the median
    seconds per run, and customer-steps per second at the median."""
    from serviceprofit.backends.numba import wait_passively

    wait_passively()
    import numba

    from serviceprofit.backends.simulate import simulate

    numba.set_num_threads(1)
    scenario = Scenario.model_validate(scenario_data)
    simulate(scenario, backend="numba", seed=seed)  # loads the compiled run
    seconds, steps = [], 0
    for i in range(runs):
        start = time.perf_counter()
        result = simulate(scenario, backend="numba", seed=replicate_seed(seed, i))
        seconds.append(time.perf_counter() - start)
        steps += customer_steps(result, scenario.population.customers)
    seconds.sort()
    median = seconds[len(seconds) // 2]
    return {
        "customers": scenario.population.customers,
        "weeks": scenario.weeks,
        "runs": runs,
        "best_seconds": seconds[0],
        "median_seconds": median,
        "steps_per_second": steps / runs / median,
    }


def measure_ensemble(
    scenario_data: dict[str, Any], seed: int, runs: int, threads: int
) -> dict[str, Any]:
    """``runs`` replicates of one scenario through the batch runner (one ``simulate_many``
    call) on ``threads`` threads, for a worker process: seconds and the CPU time it got."""
    return measure_ensembles(scenario_data, seed, runs, (threads,))[0]


def measure_ensembles(
    scenario_data: dict[str, Any],
    seed: int,
    runs: int,
    thread_counts: Sequence[int],
    rounds: int = 1,
) -> list[dict[str, Any]]:
    """:func:`measure_ensemble` on each of ``thread_counts`` in turn, ``rounds`` times over,
    in one worker process; for each thread count, its median round (every round's
    seconds in ``rounds``).

    Alternating puts the thread counts side by side: on a shared machine another
    process may take a core for a few seconds, and two timings taken one after the
    other in separate processes then compare two machines."""
    from serviceprofit.backends.numba import wait_passively

    wait_passively()
    import numba

    from serviceprofit.backends.batch import Job, run_jobs

    scenario = Scenario.model_validate(scenario_data)
    numba.set_num_threads(max(thread_counts))
    run_jobs([Job(scenario, s) for s in replicate_seeds(seed, 2)], "numba")  # loads it
    jobs = [Job(scenario, s) for s in replicate_seeds(seed, runs)]
    timed: dict[int, list[tuple[float, float, int]]] = {t: [] for t in thread_counts}
    for _ in range(rounds):
        for threads in thread_counts:
            numba.set_num_threads(threads)
            start, cpu_start = time.perf_counter(), time.process_time()
            results = run_jobs(jobs, "numba")
            seconds = time.perf_counter() - start
            cpu_seconds = time.process_time() - cpu_start
            steps = sum(customer_steps(r, scenario.population.customers) for r in results)
            timed[threads].append((seconds, cpu_seconds, steps))
    figures = []
    for threads in thread_counts:
        seconds, cpu_seconds, steps = sorted(timed[threads])[len(timed[threads]) // 2]
        figures.append(
            {
                "customers": scenario.population.customers,
                "weeks": scenario.weeks,
                "runs": runs,
                "threads": threads,
                "seconds": seconds,
                "rounds": [t for t, _, _ in timed[threads]],
                "cores_used": cpu_seconds / seconds,
                "steps_per_second": steps / seconds,
            }
        )
    return figures


def _spin(loops: int, barrier: Any, results: Any) -> None:
    """Busy Python loop, started at a barrier; put its duration (for effective_cores)."""
    barrier.wait()
    start = time.perf_counter()
    total = 0
    for i in range(loops):
        total += i
    results.put(time.perf_counter() - start)


def effective_cores(processes: int, loops: int = 5_000_000) -> float:
    """How many cores the machine gives at this moment: ``processes`` copies of a busy
    loop started together, against one alone (2.0: two free cores; 1.0: two processes
    share one core's time, whatever the core count says)."""
    context = get_context("spawn")

    def timed(n: int) -> list[float]:
        barrier, results = context.Barrier(n), context.Queue()
        workers = [context.Process(target=_spin, args=(loops, barrier, results)) for _ in range(n)]
        for worker in workers:
            worker.start()
        durations = [results.get() for _ in workers]
        for worker in workers:
            worker.join()
        return durations

    alone = min(timed(1)[0] for _ in range(2))
    together = timed(processes)
    return processes * alone / (sum(together) / processes)


def _warm_up(scenario: Scenario, backend: str) -> Scenario:
    """A run small enough to be quick and large enough to compile (or load) every kernel
    the timed run uses: numba's parallel drivers start at a few chunks of customers."""
    if backend != "numba":
        return sized(scenario, 200, 2)
    from serviceprofit.backends.numba.kernel import CHUNK, PARALLEL_FROM_CHUNKS

    return sized(scenario, PARALLEL_FROM_CHUNKS * CHUNK, 2)


def _peak_rss_bytes() -> int:
    """Peak resident memory of this process (Linux reports kilobytes)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _time_first_run(scenario_data: dict[str, Any]) -> float:
    """Seconds for a tiny run in a fresh process: compile or cache load plus the run."""
    from serviceprofit.backends.simulate import simulate

    scenario = Scenario.model_validate(scenario_data)
    start = time.perf_counter()
    simulate(scenario, backend="numba", seed=0)
    return time.perf_counter() - start


def _in_fresh_process(
    function: Callable[..., Any], *args: Any, env: dict[str, str] | None = None
) -> Any:
    """Call ``function(*args)`` in a new spawned process (with extra environment)."""
    saved = {k: os.environ.get(k) for k in env or {}}
    os.environ.update(env or {})
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            return pool.submit(function, *args).result()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def measure_compile(scenario: Scenario) -> dict[str, float]:
    """Compile from an empty cache, then load from that cache, each in a new process."""
    tiny = _warm_up(scenario, "numba").to_dict()  # compiles every kernel, parallel ones too
    with tempfile.TemporaryDirectory(prefix="serviceprofit-numba-cache-") as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = _in_fresh_process(_time_first_run, tiny, env=env)
        warm = _in_fresh_process(_time_first_run, tiny, env=env)
    return {"first_run_empty_cache_seconds": cold, "first_run_cached_seconds": warm}


def benchmark(
    scenario: Scenario | str | Path,
    *,
    sizes: Sequence[int] = (100_000, 1_000_000, 10_000_000),
    weeks: int = 156,
    same_sizes: Sequence[tuple[int, int]] = ((100_000, 13), (1_000_000, 3)),
    scaling_size: int = 1_000_000,
    scaling_weeks: int = 52,
    seed: int = 0,
    compile_step: bool = True,
    ensemble_runs: int = ENSEMBLE_RUNS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure both backends on ``scenario`` (see the module docstring); return the figures."""
    import numba

    from serviceprofit.backends.numba.state import bytes_per_customer

    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    say = progress or (lambda message: None)
    cores = numba.config.NUMBA_NUM_THREADS
    figures: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores_used_by_numba": cores,
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numba": numba.__version__,
            "load_average_before": os.getloadavg(),
            "effective_cores_before": effective_cores(cores),
        },
        "scenario": scenario.name,
        "seed": seed,
    }

    def measure(customers: int, n_weeks: int, backend: str, threads: int | None) -> dict:
        threading = f", {threads or cores} thread(s)" if backend == "numba" else ""
        say(f"{backend} {customers:,} customers x {n_weeks} weeks{threading}")
        data = sized(scenario, customers, n_weeks).to_dict()
        return _in_fresh_process(measure_run, data, backend, seed, threads)

    if compile_step:
        say("numba compile from an empty cache, then a cached start")
        figures["compile"] = measure_compile(scenario)

    figures["same_size"] = []
    for customers, n_weeks in same_sizes:
        mesa = measure(customers, n_weeks, "mesa", None)
        numba_one = measure(customers, n_weeks, "numba", 1)
        numba_all = measure(customers, n_weeks, "numba", None)
        figures["same_size"].append(
            {
                "mesa": mesa,
                "numba_1_thread": numba_one,
                "numba_all_threads": numba_all,
                "ratio_numba_all_over_mesa": numba_all["steps_per_second"]
                / mesa["steps_per_second"],
                "ratio_numba_1_over_mesa": numba_one["steps_per_second"] / mesa["steps_per_second"],
            }
        )

    one = measure(scaling_size, scaling_weeks, "numba", 1)
    every = measure(scaling_size, scaling_weeks, "numba", None)
    figures["thread_scaling"] = {
        "one_thread": one,
        "all_threads": every,
        "speedup": every["steps_per_second"] / one["steps_per_second"],
    }
    small = sized(scenario, *SMALL_RUN).to_dict()
    say(f"numba small runs: {SMALL_RUN[0]:,} customers x {SMALL_RUN[1]} weeks, one at a time")
    figures["small_runs"] = _in_fresh_process(measure_small_runs, small, seed, 20)
    say(
        f"numba ensemble of {ensemble_runs} small runs on 1 and {cores} threads, "
        f"alternately, {ENSEMBLE_ROUNDS} times"
    )
    one_core, all_cores = _in_fresh_process(
        measure_ensembles, small, seed, ensemble_runs, (1, cores), ENSEMBLE_ROUNDS
    )
    figures["ensemble"] = {
        "one_thread": one_core,
        "all_threads": all_cores,
        "speedup": one_core["seconds"] / all_cores["seconds"],
    }

    figures["throughput"] = [measure(n, weeks, "numba", None) for n in sizes]
    figures["state"] = {"bytes_per_customer": bytes_per_customer()}
    figures["machine"]["load_average_after"] = os.getloadavg()
    figures["machine"]["effective_cores_after"] = effective_cores(cores)
    figures["targets"] = _against_targets(figures, weeks)
    return figures


def _against_targets(figures: dict[str, Any], weeks: int) -> dict[str, Any]:
    """Each target of issue 3 that this run's sizes measure: target, measured, met."""
    out: dict[str, Any] = {}

    def check(name: str, measured: float, higher_is_better: bool = True, target: str = "") -> None:
        target = TARGETS[target or name]
        met = measured >= target if higher_is_better else measured <= target
        out[name] = {"target": target, "measured": measured, "met": met}

    scaling = figures["thread_scaling"]
    if scaling["one_thread"]["customers"] == 1_000_000:
        check("one_core_steps_per_second_at_1M", scaling["one_thread"]["steps_per_second"])
        if "small_runs" in figures:
            check(
                "small_over_large_steps_per_second",
                figures["small_runs"]["steps_per_second"]
                / scaling["one_thread"]["steps_per_second"],
            )
    if "small_runs" in figures:
        check(
            "small_run_seconds_one_core",
            figures["small_runs"]["median_seconds"],
            higher_is_better=False,
        )
    if "ensemble" in figures and figures["machine"]["cores_used_by_numba"] == 2:
        check("ensemble_2_cores_over_1", figures["ensemble"]["speedup"])
    if figures["machine"]["cores_used_by_numba"] == 2:
        check("scaling_1_to_2_threads", scaling["speedup"])
    for same in figures["same_size"]:
        name = f"numba_over_mesa_at_{same['mesa']['customers']}"
        check(name, same["ratio_numba_1_over_mesa"], target="numba_over_mesa")
    for run in figures["throughput"]:
        if run["customers"] == 10_000_000 and weeks == 156:
            check("seconds_10M_customers_156_weeks", run["seconds"], higher_is_better=False)
            check("peak_memory_bytes_10M", run["peak_memory_bytes"], higher_is_better=False)
    return out


def _rate(value: float) -> str:
    return f"{value / 1e6:,.1f}M" if value >= 1e6 else f"{value / 1e3:,.0f}k"


def _line(run: dict[str, Any]) -> str:
    threads = f"{run['threads']} thread{'s' if run['threads'] > 1 else ''}"
    return (
        f"  {run['backend']:<6} {threads:<10} {run['customers']:>12,} x {run['weeks']:>3} weeks"
        f"  {run['seconds']:8.2f} s  {_rate(run['steps_per_second']):>8} customer-steps/s"
        f"  peak {run['peak_memory_bytes'] / 2**20:7,.0f} MiB  cores used {run['cores_used']:.2f}"
    )


def describe(figures: dict[str, Any]) -> list[str]:
    """The figures of :func:`benchmark` as lines of text, for the command line."""
    machine = figures["machine"]
    lines = [
        f"benchmark of {figures['scenario']} at {figures['when']}: numba uses "
        f"{machine['cores_used_by_numba']} of {machine['cpu_count']} cores; load average "
        f"{machine['load_average_before'][0]:.1f} before, {machine['load_average_after'][0]:.1f}"
        " after (a busy machine slows every figure)",
        f"effective cores ({machine['cores_used_by_numba']} busy processes against one): "
        f"{machine['effective_cores_before']:.2f} before, "
        f"{machine['effective_cores_after']:.2f} after",
    ]
    if "compile" in figures:
        c = figures["compile"]
        lines.append(
            f"first run in a new process: {c['first_run_empty_cache_seconds']:.1f} s with an "
            f"empty numba cache (compile), {c['first_run_cached_seconds']:.1f} s cached"
        )
    lines.append("same scenario and size, one after the other:")
    for same in figures["same_size"]:
        lines += [_line(same[k]) for k in ("mesa", "numba_1_thread", "numba_all_threads")]
        lines.append(
            f"  numba/Mesa: {same['ratio_numba_all_over_mesa']:,.0f}x with all threads, "
            f"{same['ratio_numba_1_over_mesa']:,.0f}x on one"
        )
    scaling = figures["thread_scaling"]
    lines.append("thread scaling:")
    lines += [_line(scaling["one_thread"]), _line(scaling["all_threads"])]
    lines.append(f"  speed-up {scaling['speedup']:.2f}x")
    if "small_runs" in figures:
        small = figures["small_runs"]
        lines.append(
            f"small runs ({small['customers']:,} customers x {small['weeks']} weeks, one thread,"
            f" {small['runs']} runs): median {1e3 * small['median_seconds']:.1f} ms a run,"
            f" best {1e3 * small['best_seconds']:.1f} ms, {_rate(small['steps_per_second'])}"
            " customer-steps/s"
        )
    if "ensemble" in figures:
        ensemble = figures["ensemble"]
        for run in (ensemble["one_thread"], ensemble["all_threads"]):
            lines.append(
                f"  ensemble of {run['runs']} on {run['threads']} thread(s):"
                f" {run['seconds']:.2f} s, {_rate(run['steps_per_second'])} customer-steps/s,"
                f" cores used {run['cores_used']:.2f}"
            )
        lines.append(f"  ensemble speed-up {ensemble['speedup']:.2f}x")
    lines.append("throughput (numba, all threads):")
    lines += [_line(run) for run in figures["throughput"]]
    lines.append(f"state: {figures['state']['bytes_per_customer']} bytes per customer")
    for name, check in figures["targets"].items():
        verdict = "met" if check["met"] else "MISSED"
        lines.append(
            f"target {name}: {check['measured']:,.3g} vs {check['target']:,.3g}: {verdict}"
        )
    return lines
