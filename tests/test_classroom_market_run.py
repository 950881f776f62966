"""The game over the real market run (issue 12), where this build has it."""

from __future__ import annotations

import numpy as np
import pytest

from serviceprofit.classroom.engine import EngineError, SimulatedMarket, digest, market_runner
from serviceprofit.classroom.game import Game
from serviceprofit.model.market import load_market

try:
    market_runner("numba")
except EngineError:
    pytest.skip("no market run in this build", allow_module_level=True)


@pytest.fixture(scope="module")
def engine():
    market = load_market(
        "incumbent_vs_entrant",
        {"weeks": 26, "market.customers": 2000, "market.prospects.initial": 200},
    )
    return SimulatedMarket(market)


def test_a_decision_never_changes_the_weeks_before_it(engine):
    """Common random numbers: a run with a decision at week 13 equals one without it
    over weeks 0-12 (the game's re-run from week 0 rests on this)."""
    firm = engine.firms[0]
    plain = engine.rows({}, 26, 3)
    changed = engine.rows({firm: [(13, {"strategy.process.empowerment": 1.0})]}, 26, 3)
    for name in engine.firms:
        a = plain[name].iloc[:13].select_dtypes("number").to_numpy()
        b = changed[name].iloc[:13].select_dtypes("number").to_numpy()
        assert np.array_equal(a, b)
    assert not plain[firm].equals(changed[firm])


def test_a_game_over_the_market_run_resumes_exactly(engine, tmp_path):
    """Two quarters played, reopened: the saved digest is what a re-run gives."""
    game = Game.open_or_create(tmp_path, engine, teams=1, quarters=2, seed=4)
    game.advance(game.token)
    game.advance(game.token)
    game.store.close()
    again = Game.open_or_create(tmp_path, engine, teams=1, quarters=2, seed=4)
    rows = {s.key: again.rows(s) for s in again.seats()}
    assert digest(rows) == again.store.digests()[2]
    seat = again.seats()[0]
    assert np.array_equal(
        again.replay(seat).select_dtypes("number").to_numpy(),
        again.rows(seat).select_dtypes("number").to_numpy(),
    )
