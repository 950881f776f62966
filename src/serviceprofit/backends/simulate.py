"""Running scenarios: the library's front door for one run, and for many."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serviceprofit.backends import get_backend
from serviceprofit.model.scenario import Scenario, load_scenario

if TYPE_CHECKING:  # pandas: imported by the backends when a run is made, not before
    from serviceprofit.backends.market_run import MarketCheckpoint, MarketResult
    from serviceprofit.model.market import Market
    from serviceprofit.model.result import RunResult

__all__ = ["PRECISIONS", "simulate", "simulate_many", "simulate_market"]

PRECISIONS = ("float32", "float64")


def _check_precision(backend: str, precision: str | None) -> None:
    if precision is None:
        return
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}")
    if backend != "numba":
        raise ValueError(f"precision applies to the numba backend, not {backend!r}")


def simulate(
    scenario: Scenario | str | Path,
    backend: str = "mesa",
    seed: int = 0,
    *,
    keep_agents: bool = False,
    overrides: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    precision: str | None = None,
) -> RunResult:
    """Run one scenario once; reproducible from (scenario, seed, backend).

    ``scenario`` is a :class:`Scenario` or a path to a YAML file; ``overrides`` are
    dotted keys applied on top. ``keep_agents`` adds the final customer and staff
    tables. ``progress(week, weeks)`` is called as weeks complete (every week on Mesa,
    every few weeks on numba). ``precision`` (numba only): ``"float32"`` customer state
    (the default) or ``"float64"``, with which a run is the Mesa run bit for bit.
    """
    _check_precision(backend, precision)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, overrides)
    elif overrides:
        scenario = scenario.with_overrides(overrides)
    run = get_backend(backend)
    if precision is not None:
        return run(
            scenario, seed=seed, keep_agents=keep_agents, progress=progress, precision=precision
        )
    return run(scenario, seed=seed, keep_agents=keep_agents, progress=progress)


def simulate_many(
    scenarios: Scenario | str | Path | Sequence[Scenario | str | Path],
    seeds: Sequence[int],
    backend: str = "numba",
    *,
    precision: str | None = None,
) -> list[RunResult]:
    """Run many small firms: run ``i`` is ``scenarios[i]`` (or the one scenario given)
    with ``seeds[i]``.

    On numba the runs go to one compiled call, in parallel over runs (each run on one
    thread), and each gives the very bits it gives alone with :func:`simulate`; on Mesa
    they run in turn. The runs may differ in any parameter (replicates, sweep points,
    calibration particles).
    """
    _check_precision(backend, precision)
    if isinstance(scenarios, Scenario | str | Path):
        scenarios = [scenarios] * len(seeds)
    loaded: dict[int, Scenario] = {}
    resolved = []
    for item in scenarios:
        if not isinstance(item, Scenario):
            item = loaded.setdefault(id(item), load_scenario(item))
        resolved.append(item)
    if len(resolved) != len(seeds):
        raise ValueError(f"{len(resolved)} scenarios but {len(seeds)} seeds")
    if backend == "numba":
        from serviceprofit.backends.numba import run_many

        return run_many(resolved, [int(s) for s in seeds], precision or "float32")
    pairs = zip(resolved, seeds, strict=True)
    return [simulate(s, backend=backend, seed=int(seed)) for s, seed in pairs]


def simulate_market(
    market: Market | str | Path,
    backend: str = "numba",
    seed: int = 0,
    *,
    overrides: dict[str, Any] | None = None,
    precision: str | None = None,
    stop: int | None = None,
    resume: MarketCheckpoint | None = None,
) -> MarketResult:
    """Run one market once (rival firms, the people who choose between them, their
    network; docs/ODD.md): reproducible from (market, seed, backend).

    ``market`` is a :class:`~serviceprofit.model.market.Market`, a market file or a shipped
    market's bare name; ``overrides`` are dotted keys (``firms.NAME.strategy.process``,
    ``market.network.average_degree``). ``precision`` (numba only) as for
    :func:`simulate`: with ``"float64"`` the run is the Mesa run bit for bit.

    ``stop`` (numba only): run weeks ``[0, stop)`` and return a result whose
    ``.checkpoint`` (numpy arrays and the week; picklable) ``resume`` continues from, to
    ``stop`` again or to the market's end. The resumed market may differ from the
    checkpoint's only by events at weeks at or after the checkpoint's week (a
    ``ValueError`` says what else differs), the seed must be the same, and a run split
    at any week is the unbroken run bit for bit.
    """
    from serviceprofit.model.market import Market, load_market

    _check_precision(backend, precision)
    if not isinstance(market, Market):
        market = load_market(market, overrides)
    elif overrides:
        data = market.to_dict()
        for firm in data["firms"].values():  # set by the market: given again on loading
            firm.pop("weeks")
            firm["population"].pop("customers")
        market = load_market(data, overrides)
    if backend == "numba":
        from serviceprofit.backends.numba.market_model import run_market

        return run_market(market, seed, precision, stop=stop, resume=resume)
    if stop is not None or resume is not None:
        raise ValueError(
            f"stop and resume need the numba backend; the {backend!r} market runs whole"
        )
    if backend == "mesa":
        from serviceprofit.backends.mesa.market_model import run_market as run_mesa

        return run_mesa(market, seed)
    raise ValueError(f"unknown backend {backend!r}; allowed: mesa, numba")
