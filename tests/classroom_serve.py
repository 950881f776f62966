"""Serve a classroom game over the fake market run (tests only): the same server, pages
and store as ``serviceprofit classroom``, with tests/classroom_fake_engine.py's engine.

    python -m tests.classroom_serve GAME_DIR PORT TEAMS QUARTERS [pages] [MARKET] [real]

With ``real`` (the load benchmark's ``--real``), the market run itself instead of the fake.

Prints one line ``READY <url> <token>`` when the socket is bound, then serves until killed.
"""

from __future__ import annotations

import sys

from serviceprofit.classroom.launch import open_game

from .classroom_fake_engine import FakeMarket


def main(argv: list[str]) -> None:
    directory, port, teams, quarters = argv[:4]
    pages = len(argv) > 4 and argv[4] == "pages"
    market = argv[5] if len(argv) > 5 else "three_firms"
    real = len(argv) > 6 and argv[6] == "real"
    server = open_game(
        market if real else "fake",
        teams=int(teams),
        quarters=int(quarters),
        seed=11,
        game_dir=directory,
        port=int(port),
        engine=None if real else FakeMarket(market),
        pages=pages,
    )
    print(f"READY {server.url} {server.game.token}", flush=True)
    server.serve()


if __name__ == "__main__":
    main(sys.argv[1:])
