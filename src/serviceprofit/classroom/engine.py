"""The game's one boundary with the simulation: a market's weekly rows per firm.

The game never steps a model. It asks a :class:`MarketRun` for "the market's weekly
rows per firm, over these weeks, for the decisions so far" and keeps what comes back.
Decisions arrive as events: for each firm, (week, {scenario key: value}) pairs, each at
the first week of the quarter it was decided for. Under common random numbers (the
model's draws are counter-based, keyed by seed, stream and week), a run is a pure
function of (market, decisions, seed), and its first weeks do not depend on anything
decided later; so the game re-runs from week 0 each quarter, and a "what if" branch is
the same call with one decision changed. Nothing is carried from one call to the next:
a resumed or branched game is exact by construction, at the price of simulating the
weeks before again (docs/classroom.md gives the cost).

:class:`SimulatedMarket` is the real engine, over ``serviceprofit.simulate_market``
(the market run of issue 12). Tests drive the game with a small fake that has the same
one operation.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from serviceprofit.model.market import Market

__all__ = [
    "QUARTER_WEEKS",
    "EngineError",
    "FirmEvents",
    "MarketRun",
    "SimulatedMarket",
    "digest",
    "market_runner",
    "per_firm_rows",
]

#: Weeks in a quarter: one round of the game.
QUARTER_WEEKS = 13

#: A firm's decisions as events: (week, {firm-relative scenario key: value}), in order.
FirmEvents = Sequence[tuple[int, Mapping[str, Any]]]


class EngineError(RuntimeError):
    """The market cannot be simulated here (no market run in this build, bad rows)."""


class MarketRun(Protocol):
    """What the game needs from a market simulation, and nothing more."""

    @property
    def firms(self) -> tuple[str, ...]:
        """The market's firms, in the market file's order."""
        ...

    @property
    def weeks(self) -> int:
        """The most weeks the market can run (the market file's ``weeks``)."""
        ...

    def scenario(self, firm: str) -> Any:
        """The firm's starting scenario (:class:`~serviceprofit.model.scenario.Scenario`)."""
        ...

    def rows(
        self, events: Mapping[str, FirmEvents], weeks: int, seed: int
    ) -> dict[str, pd.DataFrame]:
        """Weekly rows per firm for weeks ``0 .. weeks - 1`` under these decisions."""
        ...


def digest(rows: Mapping[str, pd.DataFrame]) -> str:
    """A SHA-256 of the rows (firm names, column names, float64 values): the state a
    quarter boundary saved, so a resume or a replay can prove it reached the same state."""
    h = hashlib.sha256()
    for firm in sorted(rows):
        frame = rows[firm]
        h.update(json.dumps([firm, list(map(str, frame.columns))]).encode())
        numbers = frame.select_dtypes("number").to_numpy(dtype=np.float64)
        h.update(np.ascontiguousarray(numbers).tobytes())
    return h.hexdigest()


def _check_rows(rows: Mapping[str, pd.DataFrame], firms: Sequence[str], weeks: int) -> None:
    for firm in firms:
        frame = rows.get(firm)
        if frame is None or len(frame) != weeks:
            raise EngineError(f"the market run returned no {weeks} weekly rows for firm {firm!r}")
        numbers = frame.select_dtypes("number").to_numpy(dtype=np.float64)
        if not np.isfinite(numbers).all():
            raise EngineError(f"the market run returned a non-finite value for firm {firm!r}")


@dataclass
class SimulatedMarket:
    """The real engine: the market run (``serviceprofit.simulate_market``) per call."""

    market: Market
    backend: str = "numba"

    @property
    def firms(self) -> tuple[str, ...]:
        return tuple(self.market.firms)

    @property
    def weeks(self) -> int:
        return self.market.weeks

    def scenario(self, firm: str) -> Any:
        return self.market.firms[firm]

    def with_events(self, events: Mapping[str, FirmEvents], weeks: int) -> Market:
        """The market shortened to ``weeks``, each firm's decisions added to its events."""
        firms = {}
        for name, scenario in self.market.firms.items():
            added = [
                {"week": week, "set": dict(keys), "label": f"decisions week {week}"}
                for week, keys in events.get(name, ())
                if week < weeks and keys
            ]
            kept = [e.model_dump(mode="json") for e in scenario.events if e.week < weeks]
            data = {**scenario.to_dict(), "weeks": weeks, "events": kept + added}
            firms[name] = type(scenario).model_validate(data)
        return self.market.model_copy(update={"weeks": weeks, "firms": firms})

    def rows(
        self, events: Mapping[str, FirmEvents], weeks: int, seed: int
    ) -> dict[str, pd.DataFrame]:
        """The first ``weeks`` rows of a run over the market's whole ``weeks``.

        Always the whole horizon: the market run's draws depend on how many weeks it
        runs (a 13-week and a 26-week run of the same market and seed differ from week
        0), while a decision never changes the weeks before it. So runs of one horizon
        agree on the past whatever is decided later; runs of different lengths do not.
        Set the market's ``weeks`` to the game's quarters (:func:`~.launch.open_game`)
        to pay only for the weeks the game plays.
        """
        if not 1 <= weeks <= self.weeks:
            raise EngineError(f"weeks must be 1..{self.weeks}, got {weeks}")
        run = market_runner(self.backend)
        rows = per_firm_rows(run(self.with_events(events, self.weeks), seed))
        _check_rows(rows, self.firms, self.weeks)
        return {firm: frame.iloc[:weeks].reset_index(drop=True) for firm, frame in rows.items()}


def market_runner(backend: str) -> Callable[[Market, int], Any]:
    """The market run for ``backend``: ``serviceprofit.simulate_market`` where the package
    has it, else the backend's own ``run_market``; :class:`EngineError` if neither."""
    import serviceprofit

    simulate_market = getattr(serviceprofit, "simulate_market", None)
    if simulate_market is not None:
        return lambda market, seed: simulate_market(market, backend=backend, seed=seed)
    try:
        module = importlib.import_module(f"serviceprofit.backends.{backend}.market_model")
    except ImportError:
        module = None
    if module is None or not hasattr(module, "run_market"):
        raise EngineError(
            "this build of serviceprofit has no market run (serviceprofit.simulate_market); "
            "the classroom game needs it"
        )
    return lambda market, seed: module.run_market(market, seed=seed)


def per_firm_rows(result: Any) -> dict[str, pd.DataFrame]:
    """The weekly rows per firm from a market run's result: a mapping of firm to a
    :class:`~serviceprofit.model.result.RunResult` or a frame, or an object holding one as
    ``firms`` or ``timeseries``; or one long frame with a ``firm`` column."""
    for attribute in ("firms", "timeseries"):
        inner = getattr(result, attribute, None)
        if inner is not None and not callable(inner):
            result = inner
            break
    if isinstance(result, pd.DataFrame) and "firm" in result.columns:
        return {
            str(name): frame.drop(columns="firm").reset_index(drop=True)
            for name, frame in result.groupby("firm", sort=False)
        }
    if isinstance(result, Mapping):
        out = {}
        for name, value in result.items():
            frame = getattr(value, "timeseries", value)
            if not isinstance(frame, pd.DataFrame):
                raise EngineError(f"the market run's rows for {name!r} are not a table")
            out[str(name)] = frame.reset_index(drop=True)
        return out
    raise EngineError(f"the market run returned {type(result).__name__}, not rows per firm")
