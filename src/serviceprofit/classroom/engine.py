"""The game's one boundary with the simulation: a market's weekly rows per firm.

The game never steps a model. It asks a :class:`MarketRun` to *play* "the market, with
these decisions, up to week ``stop``", optionally *resuming* from a :class:`Checkpoint`
(the market's state at an earlier quarter boundary), and keeps the rows and the new
checkpoint that come back. Decisions arrive as events: for each firm, (week, {scenario
key: value}) pairs, each at the first week of the quarter it was decided for.

Why this is exact. The model's draws are counter-based (keyed by seed, stream and
week), so a run is a pure function of (market, decisions, seed) and its first weeks do
not depend on anything decided later; and a run resumed from a checkpoint at week ``w``
is, by the market run's contract (``simulate_market(..., stop=, resume=)``), bit for
bit the whole run. So an advance plays only the new quarter from the last checkpoint,
and a "what if" branch from quarter ``q`` resumes from the checkpoint saved at that
quarter's start (both tested against a run from week 0). An engine that cannot resume
(a market run without checkpoints, the Mesa backend) returns no checkpoint, and the game
falls back to re-running from week 0: slower, equally exact.

:class:`SimulatedMarket` is the real engine, over ``serviceprofit.simulate_market``
(the market run of issue 12). Tests drive the game with a small fake that has the same
one operation.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from serviceprofit.model.market import Market

__all__ = [
    "QUARTER_WEEKS",
    "Checkpoint",
    "EngineError",
    "FirmEvents",
    "MarketRun",
    "Played",
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


@dataclass(frozen=True)
class Checkpoint:
    """A market's state after weeks ``0 .. week - 1``: the market run's own picklable
    object (``MarketResult.checkpoint``), opaque to the game, never changed by a resume."""

    week: int
    state: Any


@dataclass(frozen=True)
class Played:
    """What one play returns: each firm's rows for weeks ``start .. stop - 1`` (``start``
    is the resumed checkpoint's week, or 0), and the state at ``stop`` (None: this engine
    cannot resume, the next play starts from week 0)."""

    rows: dict[str, pd.DataFrame]
    start: int
    checkpoint: Checkpoint | None


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

    def play(
        self,
        events: Mapping[str, FirmEvents],
        seed: int,
        stop: int,
        resume: Checkpoint | None = None,
    ) -> Played:
        """The market under these decisions up to week ``stop``, from ``resume`` if given
        (its events before ``resume.week`` are those it was played with)."""
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

    @property
    def resumes(self) -> bool:
        """Whether this build's market run takes ``stop=`` and ``resume=`` for this backend."""
        return self.backend == "numba" and _takes_checkpoints()

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

    def play(
        self,
        events: Mapping[str, FirmEvents],
        seed: int,
        stop: int,
        resume: Checkpoint | None = None,
    ) -> Played:
        """Weeks up to ``stop`` of a run over the market's whole ``weeks``.

        Always the whole horizon's market: the market run's draws depend on how many
        weeks it runs (a 13-week and a 26-week run of the same market and seed differ
        from week 0; the arrivals are sized for the horizon), while a decision never
        changes the weeks before it. With checkpoints the run stops at ``stop``; without,
        it runs the whole horizon and keeps the first ``stop`` weeks.
        """
        if not 1 <= stop <= self.weeks:
            raise EngineError(f"weeks must be 1..{self.weeks}, got {stop}")
        market = self.with_events(events, self.weeks)
        if not self.resumes:
            rows = per_firm_rows(market_runner(self.backend)(market, seed))
            _check_rows(rows, self.firms, self.weeks)
            cut = {f: frame.iloc[:stop].reset_index(drop=True) for f, frame in rows.items()}
            return Played(cut, 0, None)
        if resume is not None and not 0 < resume.week < stop:
            raise EngineError(f"cannot resume at week {resume.week} and stop at week {stop}")
        import serviceprofit

        try:
            result = serviceprofit.simulate_market(
                market,
                backend=self.backend,
                seed=seed,
                stop=stop,
                resume=None if resume is None else resume.state,
            )
        except ValueError as exc:  # the market file changed under a saved game
            if resume is None:
                raise
            raise EngineError(f"the saved market state does not fit this market: {exc}") from None
        start = 0 if resume is None else resume.week
        rows = {f: _weeks(frame, start, stop) for f, frame in per_firm_rows(result).items()}
        _check_rows(rows, self.firms, stop - start)
        state = getattr(result, "checkpoint", None)
        return Played(rows, start, None if state is None else Checkpoint(stop, state))

    def rows(
        self, events: Mapping[str, FirmEvents], weeks: int, seed: int
    ) -> dict[str, pd.DataFrame]:
        """Weeks ``0 .. weeks - 1`` from week 0 (no checkpoint): the reference a resumed
        run is checked against."""
        return self.play(events, seed, weeks).rows


def _takes_checkpoints() -> bool:
    import serviceprofit

    simulate_market = getattr(serviceprofit, "simulate_market", None)
    if simulate_market is None:
        return False
    parameters = inspect.signature(simulate_market).parameters
    return "stop" in parameters and "resume" in parameters


def _weeks(frame: pd.DataFrame, start: int, stop: int) -> pd.DataFrame:
    """Weeks ``start .. stop - 1`` of a resumed run's rows, whether the run returned only
    those weeks or every week from 0 (told by the length; anything else is refused by
    the caller's check)."""
    if len(frame) == stop and start > 0:
        frame = frame.iloc[start:stop]
    return frame.reset_index(drop=True)


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
