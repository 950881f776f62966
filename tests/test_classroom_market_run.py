"""The game over the real market run (issue 12), where this build has it."""

from __future__ import annotations

import numpy as np
import pandas as pd
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
    """Two quarters played (the second resumed from the first's checkpoint), reopened: the
    saved digest is what a re-run from week 0 gives, and a what-if resumed from the saved
    state is the same what-if run from week 0."""
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
    if engine.resumes:  # a what-if from quarter 2 resumes from the state read back from SQLite
        assert again.store.checkpoints(1)[1].week == 13
        levers = again.decisions_of(seat, 2)[1].model_copy(update={"empowerment": 1.0})
        branch = again.replay(seat, {1: levers})
        whole = again.replay(seat, {1: levers}, resume=False)
        assert np.array_equal(
            branch.select_dtypes("number").to_numpy(), whole.select_dtypes("number").to_numpy()
        )
        assert not branch.equals(again.rows(seat))


def test_a_resumed_play_is_the_whole_run(engine):
    """Played to week 13, then resumed to week 26 with a decision at week 13: the rows
    are bit for bit those of one play from week 0 with the same decisions (the market
    run's checkpoint contract, as the game uses it)."""
    if not engine.resumes:
        pytest.skip("this build's market run has no checkpoints (stop=, resume=)")
    firm = engine.firms[0]
    events = {firm: [(13, {"strategy.process.empowerment": 1.0})]}
    first = engine.play(events, 3, 13)
    assert first.start == 0 and first.checkpoint is not None and first.checkpoint.week == 13
    second = engine.play(events, 3, 26, first.checkpoint)
    assert second.start == 13 and second.checkpoint.week == 26
    whole = engine.rows(events, 26, 3)
    for name in engine.firms:
        joined = pd.concat([first.rows[name], second.rows[name]], ignore_index=True)
        assert len(second.rows[name]) == 13
        assert np.array_equal(
            joined.select_dtypes("number").to_numpy(),
            whole[name].select_dtypes("number").to_numpy(),
        )


def test_the_engine_uses_checkpoints_where_the_market_run_offers_them(engine, monkeypatch):
    """With a ``simulate_market`` that takes ``stop=`` and ``resume=`` (a stand-in that
    re-runs from week 0 and returns every week, as a market run may), the engine asks for
    the weeks it needs, hands the run's state back as a Checkpoint at ``stop``, and keeps
    only the weeks after the one it resumed from."""
    import serviceprofit

    real = serviceprofit.simulate_market
    asked = []

    def stand_in(market, backend="numba", seed=0, *, stop=None, resume=None):
        asked.append((stop, resume))
        result = real(market, backend=backend, seed=seed)
        for run in result.firms.values():
            run.timeseries = run.timeseries.iloc[:stop]
        result.checkpoint = ("state at", stop)
        return result

    monkeypatch.setattr(serviceprofit, "simulate_market", stand_in)
    assert engine.resumes
    first = engine.play({}, 3, 13)
    assert first.checkpoint.week == 13 and first.checkpoint.state == ("state at", 13)
    second = engine.play({}, 3, 26, first.checkpoint)
    assert asked == [(13, None), (26, ("state at", 13))]
    whole = real(engine.with_events({}, engine.weeks), seed=3)
    for name in engine.firms:
        assert list(second.rows[name]["week"]) == list(range(14, 27))  # weeks count from 1
        pd.testing.assert_frame_equal(
            second.rows[name], whole.firms[name].timeseries.iloc[13:26].reset_index(drop=True)
        )


def test_a_state_the_market_refuses_is_one_line(engine):
    """A saved state from another seed (or a changed market file) is refused as an
    EngineError naming why, not a traceback from the market run."""
    if not engine.resumes:
        pytest.skip("this build's market run has no checkpoints (stop=, resume=)")
    first = engine.play({}, 3, 13)
    with pytest.raises(EngineError, match=r"does not fit this market: .*seed 3, not 4"):
        engine.play({}, 4, 26, first.checkpoint)
