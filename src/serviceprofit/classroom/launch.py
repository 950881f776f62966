"""From the command's arguments to a served game: which market, which directory.

A market file or a shipped market's name is played as it is. A scenario (file or shipped
name) is played against itself: a market of two copies, half the customers each, so a
one-firm scenario can still be a game (the scenario's ``population.customers`` is the
market's total). The game directory defaults to ``games/NAME`` under the
current directory (NAME as given on the command line); a game saved there is resumed,
whatever the other arguments say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from serviceprofit.classroom.engine import (
    QUARTER_WEEKS,
    EngineError,
    MarketRun,
    SimulatedMarket,
    market_runner,
)
from serviceprofit.classroom.game import Game
from serviceprofit.classroom.server import ClassroomServer
from serviceprofit.classroom.store import GAME_FILE, Store
from serviceprofit.model.market import Market, load_market
from serviceprofit.model.scenario import ScenarioError, load_scenario
from serviceprofit.model.shipped import locate

__all__ = ["LaunchError", "load_game_market", "open_game"]


class LaunchError(ValueError):
    """The game cannot start: one line for the command line."""


def load_game_market(name: str, weeks: int | None = None) -> Market:
    """The market named by ``name``: a market file or shipped market, else a scenario
    played against itself; cut to ``weeks`` if given (and no longer than the file's)."""
    market_path = locate(name, "markets")
    if market_path.is_file():
        market = load_market(market_path)
        if weeks is not None and weeks < market.weeks:
            market = load_market(market_path, {"weeks": weeks})
        return market
    scenario = load_scenario(name)
    data: dict[str, Any] = scenario.to_dict()
    for key in ("weeks", "events", "name"):
        data.pop(key, None)
    data["population"].pop("customers", None)
    return load_market(
        {
            "name": scenario.name,
            "weeks": min(scenario.weeks, weeks or scenario.weeks),
            "firms": {"firm_a": data, "firm_b": data},
            "market": {
                "customers": scenario.population.customers,
                "shares": {"firm_a": 0.5, "firm_b": 0.5},
            },
        }
    )


def open_game(
    name: str,
    *,
    teams: int,
    quarters: int,
    seed: int = 0,
    game_dir: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8766,
    engine: MarketRun | None = None,
    pages: bool = True,
) -> ClassroomServer:
    """The game in its directory (resumed or created) on a bound socket."""
    directory = Path(game_dir) if game_dir is not None else Path("games") / _safe(Path(name).stem)
    if engine is None:
        if (directory / GAME_FILE).is_file():
            saved = Store(directory / GAME_FILE)
            quarters = int(saved.settings().get("quarters", quarters))
            saved.close()
        try:
            # The market run costs its whole horizon every quarter: play only what is played.
            market = load_game_market(name, weeks=quarters * QUARTER_WEEKS)
        except ScenarioError as exc:
            raise LaunchError(str(exc)) from None
        engine = SimulatedMarket(market)
        try:
            market_runner(engine.backend)
        except EngineError as exc:
            raise LaunchError(str(exc)) from None
        label = market.name
    else:
        label = name
    game = Game.open_or_create(
        directory, engine, teams=teams, quarters=quarters, seed=seed, source=label
    )
    return ClassroomServer(game, host, port, pages=pages)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:60] or "game"
