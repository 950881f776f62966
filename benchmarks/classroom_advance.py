"""Seconds to advance a quarter of the classroom game over the market run itself.

    python benchmarks/classroom_advance.py [--market three_firms] [--teams 30]
        [--quarters 12] [--play 4] [--from-week-0] [--set KEY=VALUE ...]

Creates a game (no server: the game and its engine in this process) with ``--teams``
teams on the market cut to ``--quarters`` quarters, then plays ``--play`` quarters, every
team changing its levers at random each quarter (so the industries differ, as in a
class), and times each advance; then one what-if from the last quarter played. By
default each industry resumes from its state at the quarter's start (the market run's
checkpoints); ``--from-week-0`` makes the engine re-run from week 0 every time (the
game's fallback, and what it did before checkpoints). Prints JSON: seconds per advance,
the what-if's seconds, the game file's size, this process's peak resident memory.
The first advance also compiles the market run unless numba's cache has it: run once
to warm the cache before reading its figure.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from serviceprofit.classroom.decisions import from_scenario
from serviceprofit.classroom.engine import QUARTER_WEEKS, SimulatedMarket
from serviceprofit.classroom.game import Game
from serviceprofit.classroom.launch import load_game_market
from serviceprofit.model.market import load_market


class WeekZero(SimulatedMarket):
    """The market run without checkpoints: every play re-runs from week 0."""

    @property
    def resumes(self) -> bool:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--market", default="three_firms")
    parser.add_argument("--teams", type=int, default=30)
    parser.add_argument("--quarters", type=int, default=12)
    parser.add_argument("--play", type=int, default=4, help="quarters to play and time")
    parser.add_argument("--from-week-0", action="store_true", dest="from_week_0")
    parser.add_argument("--set", action="append", default=[], help="a market key=value")
    args = parser.parse_args(argv)
    market = load_game_market(args.market, weeks=args.quarters * QUARTER_WEEKS)
    if args.set:
        data = market.to_dict()
        for firm in data["firms"].values():  # set by the market: given again on loading
            firm.pop("weeks")
            firm["population"].pop("customers")
        changes = dict(item.split("=", 1) for item in args.set)
        market = load_market(data, {k: json.loads(v) for k, v in changes.items()})
    engine = (WeekZero if args.from_week_0 else SimulatedMarket)(market)
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as folder:
        game = Game.open_or_create(
            Path(folder), engine, teams=args.teams, quarters=args.quarters, seed=1
        )
        advances = []
        for _ in range(min(args.play, args.quarters)):
            for team in game.store.teams():
                seat = game.seat_of(team)
                levers = from_scenario(engine.scenario(seat.firm)).model_dump()
                levers["empowerment"] = rng.uniform(0.2, 0.9)
                levers["handle_time"] = rng.uniform(0.4, 1.0)
                game.submit(team.code, levers)
            began = time.perf_counter()
            game.advance(game.token)
            advances.append(round(time.perf_counter() - began, 2))
        seat = game.seat_of(game.store.teams()[0])
        levers = from_scenario(engine.scenario(seat.firm)).model_dump()
        began = time.perf_counter()
        game.what_if(game.token, 1, game.played, {**levers, "empowerment": 1.0})
        what_if = round(time.perf_counter() - began, 2)
        size = sum(f.stat().st_size for f in Path(folder).iterdir()) / 2**20
        game.store.close()
    figures = {
        "market": market.name,
        "customers": market.market.customers,
        "teams": args.teams,
        "industries": len({s.industry for s in game.seats()}),
        "horizon_weeks": market.weeks,
        "engine": "from week 0" if args.from_week_0 else "resumed from checkpoints",
        "resumes": engine.resumes,
        "advance_seconds": advances,
        "what_if_last_quarter_seconds": what_if,
        "game_file_mib": round(size, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
