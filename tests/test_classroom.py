"""The classroom game's layer: decisions, seats, quarters, persistence, auth, debrief.

Driven by a small fake market run (tests/classroom_fake_engine.py) with the same one
operation as the real engine, so these tests check the game, not the model.
"""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from serviceprofit.classroom.auth import (
    WRONG_CODES_ALLOWED,
    AuthError,
    Throttle,
    Throttled,
    join_code,
    matches,
)
from serviceprofit.classroom.decisions import (
    DecisionError,
    check,
    from_scenario,
    to_keys,
    weekly_spend,
)
from serviceprofit.classroom.engine import QUARTER_WEEKS, digest, per_firm_rows
from serviceprofit.classroom.game import Game, GameError, policy_decisions
from serviceprofit.classroom.store import GAME_FILE

from .classroom_fake_engine import FakeMarket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def game(tmp_path):
    return Game.open_or_create(tmp_path, FakeMarket(), teams=4, quarters=4, seed=7)


def levers(game: Game, team_index: int = 0, **changes):
    team = game.store.teams()[team_index]
    start = from_scenario(game.engine.scenario(game.seat_of(team).firm)).model_dump()
    return {**start, **changes}


def test_seats_fill_industries_and_rivals_are_preset(game):
    """Four teams in a three-firm market: two industries, the second with two preset rivals."""
    seats = game.seats()
    assert [(s.industry, s.firm, s.team) for s in seats] == [
        (1, "large", 1), (1, "middle", 2), (1, "specialist", 3),
        (2, "large", 4), (2, "middle", None), (2, "specialist", None),
    ]  # fmt: skip
    codes = [t.code for t in game.store.teams()]
    assert len(set(codes)) == 4


def test_decisions_are_checked_against_bounds_and_budget(game):
    """Out of bounds, unknown levers and over budget each get one line naming the lever."""
    team = game.store.teams()[0]
    with pytest.raises(DecisionError, match="empowerment"):
        game.submit(team.code, levers(game, empowerment=1.5))
    with pytest.raises(DecisionError, match="unknown lever"):
        game.submit(team.code, {**levers(game), "price": 3})
    with pytest.raises(DecisionError, match="over the budget"):
        game.submit(team.code, levers(game, marketing_spend=49_000.0))
    with pytest.raises(DecisionError, match="mapping"):
        check([1, 2], 10, 1e6)
    assert game.submitted()[1] is False


def test_budget_counts_voice_of_the_customer():
    """Real-time voice of the customer is spend the budget must cover."""
    market = FakeMarket()
    start = from_scenario(market.scenario("middle"))
    with_voc = start.model_copy(update={"real_time_voc": True})
    assert weekly_spend(with_voc, 90) - weekly_spend(start, 90) == pytest.approx(1500.0)


def test_unchanged_levers_make_no_event():
    """Only changed levers become keys, so an unchanged organisation pays no second transition."""
    start = from_scenario(FakeMarket().scenario("middle"))
    assert to_keys(start, start) == {}
    merged = start.model_copy(update={"organisation": "merged"})
    assert to_keys(merged, start) == {"strategy.organisation": "merged"}


def test_auth_codes_and_token(game):
    """A wrong code or token is refused; codes ignore case and spaces; a team's code
    changes only its own firm's decisions."""
    a, b = game.store.teams()[:2]
    with pytest.raises(AuthError):
        game.submit("ZZZZZZ", levers(game))
    with pytest.raises(AuthError):
        game.advance("not-the-token")
    with pytest.raises(AuthError):
        game.leaderboard(a.code)
    assert matches(f"  {a.code.lower()} ", a.code)
    assert not matches(None, a.code)
    game.submit(a.code, levers(game, 0, empowerment=0.9))
    assert game.submitted() == {1: True, 2: False, 3: False, 4: False}
    assert game.owner_view(b.code)["decisions"]["empowerment"] != 0.9
    assert join_code(["AAAAAA"]) != "AAAAAA"


def test_advance_plays_a_quarter_with_the_decisions(game):
    """Advancing runs 13 more weeks; a team's new levers take effect at the quarter's first week."""
    a = game.store.teams()[0]
    game.advance(game.token)
    first = game.rows(game.seat_of(a)).copy()
    assert len(first) == QUARTER_WEEKS
    game.submit(a.code, levers(game, 0, empowerment=1.0, training_per_head=25.0))
    game.advance(game.token)
    rows = game.rows(game.seat_of(a))
    assert len(rows) == 2 * QUARTER_WEEKS
    pd.testing.assert_frame_equal(rows.iloc[:QUARTER_WEEKS], first)  # the past is not rewritten
    assert rows["fcr"].iloc[QUARTER_WEEKS] > first["fcr"].iloc[-1]


def test_owner_sees_no_silent_churn_and_a_lagged_survey(game):
    """The owner's report has accounts, complaints and share, not churners or true
    satisfaction; the survey is lagged and noisy unless real-time VoC is paid for."""
    a = game.store.teams()[0]
    game.advance(game.token)
    report = pd.DataFrame(game.owner_view(a.code)["report"])
    for hidden in ("customers_churned", "customer_satisfaction", "staff_satisfaction", "nps"):
        assert hidden not in report.columns
    assert {"profit", "complaints", "market_share", "staff_quits", "survey_satisfaction"} <= set(
        report
    )
    seat = game.seat_of(a)
    survey = game.survey(seat)
    lag = game.engine.scenario(seat.firm).strategy.measurement.survey_lag_weeks
    truth = game.rows(seat)["customer_satisfaction"].to_numpy()
    assert pd.isna(survey[:lag]).all()
    assert survey[lag] != truth[lag]  # noisy
    assert abs(survey[lag] - truth[0]) < 0.3
    shares = [game.market_share(s).iloc[-1] for s in game.seats() if s.industry == 1]
    assert sum(shares) == pytest.approx(1.0)
    game.submit(a.code, levers(game, 0, real_time_voc=True, marketing_spend=2000.0))
    game.advance(game.token)
    survey = game.survey(seat)
    truth = game.rows(seat)["customer_satisfaction"].to_numpy()
    assert (survey[QUARTER_WEEKS:] == truth[QUARTER_WEEKS:]).all()
    report = pd.DataFrame(game.owner_view(a.code)["report"])
    assert report["voc_cost"].tolist() == [0.0, 1500.0 * QUARTER_WEEKS]


def test_auto_advance_when_all_submitted_and_on_a_timer(tmp_path):
    """With auto-advance on, the last submission makes the quarter due; a timer makes it due
    when it runs out."""
    clock = Clock()
    game = Game.open_or_create(tmp_path, FakeMarket(), teams=2, quarters=3, seed=1, clock=clock)
    game.set_auto(game.token, True)
    a, b = game.store.teams()
    game.submit(a.code, levers(game, 0))
    assert not game.tick()
    game.submit(b.code, levers(game, 1))
    assert game.tick() and game.played == 1
    game.set_timer(game.token, 60)
    assert not game.tick()
    clock.now += 61
    assert game.tick() and game.played == 2
    with pytest.raises(GameError, match="1 to 3600"):
        game.set_timer(game.token, 0)


def test_resume_finds_the_game_where_it_was(tmp_path):
    """Reopening the directory gives the same teams, quarter, rows (bit for bit) and a
    digest that a re-run from week 0 reproduces."""
    game = Game.open_or_create(tmp_path, FakeMarket(), teams=3, quarters=4, seed=5)
    a = game.store.teams()[0]
    game.submit(a.code, levers(game, 0, empowerment=0.7))
    game.advance(game.token)
    game.advance(game.token)
    before = {s.key: game.rows(s) for s in game.seats()}
    codes = [t.code for t in game.store.teams()]
    game.store.close()
    again = Game.open_or_create(tmp_path, FakeMarket(), teams=9, quarters=1, seed=99)
    assert again.played == 2 and again.quarters == 4 and again.token == game.token
    assert [t.code for t in again.store.teams()] == codes
    for seat in again.seats():
        pd.testing.assert_frame_equal(again.rows(seat), before[seat.key], check_dtype=False)
    saved = again.store.digests()[2]
    assert digest({s.key: again.rows(s) for s in again.seats()}) == saved
    replayed = again.replay(again.seat_of(a))
    assert digest({"1:large": replayed}) == digest({"1:large": again.rows(again.seat_of(a))})


def test_store_refuses_out_of_turn_quarters(tmp_path):
    """Decisions only for the open quarter; boundaries only in order."""
    game = Game.open_or_create(tmp_path, FakeMarket(), teams=1, quarters=2, seed=0)
    with pytest.raises(ValueError, match="not open"):
        game.store.save_decisions("1:large", 3, {}, "now")
    with pytest.raises(ValueError, match="does not follow"):
        game.store.save_quarter(2, {}, "x", "now")
    for name in (GAME_FILE, GAME_FILE + "-wal", GAME_FILE + "-shm"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    inner = Game.open_or_create(tmp_path / "new", FakeMarket(), teams=1, quarters=1)
    assert inner.store.path.parent.stat().st_mode & 0o777 == 0o700


def test_game_over_refuses_more(tmp_path):
    """After the last quarter nothing is submitted or advanced."""
    game = Game.open_or_create(tmp_path, FakeMarket(), teams=1, quarters=1, seed=0)
    assert [s.team for s in game.seats()] == [1, None, None]  # solo: two preset rivals
    game.advance(game.token)
    assert game.over
    with pytest.raises(GameError, match="over"):
        game.advance(game.token)
    with pytest.raises(GameError, match="over"):
        game.submit(game.store.teams()[0].code, levers(game))


def test_settings_are_validated(tmp_path):
    """Too many quarters for the market's weeks, or no teams, is refused with the limit."""
    with pytest.raises(GameError, match="at most 12 quarters"):
        Game.open_or_create(tmp_path / "a", FakeMarket(), teams=2, quarters=13)
    with pytest.raises(GameError, match="--teams"):
        Game.open_or_create(tmp_path / "b", FakeMarket(), teams=0, quarters=2)


def test_what_if_changes_only_from_its_quarter(game):
    """A what-if replay equals the game before the changed quarter and differs after it;
    the saved game is untouched."""
    a = game.store.teams()[0]
    for _ in range(3):
        game.advance(game.token)
    saved = game.store.digests()
    branch = game.what_if(
        game.token, 1, 2, levers(game, 0, empowerment=1.0, training_per_head=25.0)
    )
    played = game.rows(game.seat_of(a))
    rows = branch["rows"]
    cut = QUARTER_WEEKS
    pd.testing.assert_frame_equal(rows.iloc[:cut], played.iloc[:cut])
    assert (rows["fcr"].iloc[cut : 2 * cut] > played["fcr"].iloc[cut : 2 * cut]).all()
    assert game.store.digests() == saved


def test_debrief_compares_policies_with_the_same_luck(game):
    """The debrief shows the truth (silent churn, staff satisfaction) and what the two
    policies earn in the same industry; replaying the team's own levers gives its result."""
    for _ in range(2):
        game.advance(game.token)
    report = game.debrief(game.token, 1)
    chain = report["chain"]
    assert {"silent_churners_at_least", "staff_satisfaction", "customer_satisfaction"} <= set(chain)
    assert len(chain) == 2
    cv, cm = report["benchmarks"]["customer_value"], report["benchmarks"]["cost_minimising"]
    assert cv["customers"] != cm["customers"]
    seat = game.seat_of(game.store.teams()[0])
    pd.testing.assert_frame_equal(game.replay(seat), game.rows(seat))
    assert (
        policy_decisions(game.engine.scenario("large"), "customer_value").organisation == "merged"
    )


def test_leaderboard_metrics(game):
    """The facilitator's metric orders the board; an unknown one is refused."""
    game.advance(game.token)
    for metric in ("profit", "customer_equity", "balanced"):
        board = game.leaderboard(game.token, metric)
        assert board[metric].is_monotonic_decreasing
        assert board["rank"].tolist() == [1, 2, 3, 4]
    with pytest.raises(GameError, match="one of"):
        game.leaderboard(game.token, "luck")


def test_per_firm_rows_accepts_the_shapes_a_market_run_may_return():
    """A mapping of frames or results, an object holding one, or a long frame with a firm column."""
    frame = pd.DataFrame({"week": [0, 1], "profit": [1.0, 2.0]})

    class Result:
        timeseries = frame

    class Market:
        def __init__(self) -> None:
            self.firms = {"a": Result(), "b": frame}

    assert set(per_firm_rows(Market())) == {"a", "b"}
    long = pd.concat([frame.assign(firm="a"), frame.assign(firm="b")])
    assert list(per_firm_rows(long)["b"].columns) == ["week", "profit"]


def test_sqlite_file_is_the_only_state(tmp_path):
    """The game directory holds the SQLite file, readable by sqlite3 with the four tables."""
    Game.open_or_create(tmp_path, FakeMarket(), teams=1, quarters=1)
    tables = {
        r[0]
        for r in sqlite3.connect(tmp_path / GAME_FILE).execute(
            "SELECT name FROM sqlite_master WHERE type='table'"
        )
    }
    assert tables == {
        "settings", "teams", "decisions", "quarters", "rows", "states", "buffers", "checkpoints",
    }  # fmt: skip


def _play(tmp_path, engine, quarters=3, restart_after=None):
    """Four teams, two industries, quarters with changing levers; the game and its engine."""
    game = Game.open_or_create(tmp_path, engine, teams=4, quarters=4, seed=7)
    for q in range(quarters):
        for i in (0, 3):
            game.submit(game.store.teams()[i].code, levers(game, i, empowerment=0.2 * q + 0.1 * i))
        game.advance(game.token)
        if restart_after == q + 1:
            game.store.close()
            game = Game.open_or_create(tmp_path, engine, teams=4, quarters=4, seed=7)
    return game


def test_an_advance_plays_only_the_new_quarter_and_equals_a_run_from_week_0(tmp_path):
    """With checkpoints each advance plays 13 weeks per industry, and the game's rows
    are bit for bit those of the engine re-running every quarter from week 0."""
    resuming, rerunning = FakeMarket(), FakeMarket()
    rerunning.resumes = False
    a = _play(tmp_path / "a", resuming)
    b = _play(tmp_path / "b", rerunning)
    assert resuming.weeks_played == 3 * 2 * QUARTER_WEEKS  # 3 quarters x 2 industries
    assert rerunning.weeks_played == (1 + 2 + 3) * 2 * QUARTER_WEEKS
    assert a.store.digests() == b.store.digests()
    for seat in a.seats():
        pd.testing.assert_frame_equal(a.rows(seat), b.rows(seat))


def test_a_restarted_game_resumes_from_its_saved_state(tmp_path):
    """Closed and reopened after quarter 2, the next advance plays 13 weeks per industry
    from the states saved in SQLite, and reaches the digest of a game never stopped."""
    never = _play(tmp_path / "never", FakeMarket())
    engine = FakeMarket()
    restarted = _play(tmp_path / "restarted", engine, restart_after=2)
    assert engine.weeks_played == 3 * 2 * QUARTER_WEEKS
    assert restarted.store.digests() == never.store.digests()
    assert restarted.store.checkpoints(3).keys() == {1, 2}
    with sqlite3.connect(tmp_path / "restarted" / GAME_FILE) as db:  # 6 states, 1 network
        assert db.execute("SELECT COUNT(*) FROM states").fetchone()[0] == 6
        assert db.execute("SELECT COUNT(*) FROM buffers").fetchone()[0] == 1
    assert restarted.store.checkpoints(3)[1].week == 3 * QUARTER_WEEKS


def test_a_what_if_resumes_from_its_quarter(tmp_path):
    """A what-if from quarter 3 replays only quarter 3's weeks, from the state saved at
    its start, and equals the same branch re-run from week 0."""
    engine = FakeMarket()
    game = _play(tmp_path, engine)
    seat = game.seat_of(game.store.teams()[0])
    before = engine.weeks_played
    changed = {2: check(levers(game, 0, empowerment=1.0), game.staff(seat), game.budget(seat))}
    branch = game.replay(seat, changed)
    assert engine.weeks_played - before == QUARTER_WEEKS
    whole = game.replay(seat, changed, resume=False)
    assert engine.weeks_played - before == QUARTER_WEEKS + 3 * QUARTER_WEEKS
    pd.testing.assert_frame_equal(branch, whole)
    assert not branch.equals(game.rows(seat))


def test_industries_that_played_alike_share_one_saved_state(tmp_path):
    """Two industries with the same levers: one state saved for both, loaded as one."""
    game = Game.open_or_create(tmp_path, FakeMarket(), teams=6, quarters=2, seed=3)
    game.advance(game.token)
    count = sqlite3.connect(tmp_path / GAME_FILE).execute("SELECT COUNT(*) FROM states")
    assert count.fetchone()[0] == 1
    saved = game.store.checkpoints(1)
    assert saved[1] is saved[2]


def test_industries_that_decided_alike_run_once(tmp_path):
    """Six teams in two industries with the same levers: one market run per advance, and
    both industries get the same rows (same market, same seed, same decisions)."""
    engine = FakeMarket()
    game = Game.open_or_create(tmp_path, engine, teams=6, quarters=2, seed=3)
    game.advance(game.token)
    assert engine.calls == 1
    one, two = game.seats()[0], game.seats()[3]
    pd.testing.assert_frame_equal(game.rows(one), game.rows(two))
    game.submit(game.store.teams()[0].code, levers(game, 0, empowerment=0.5))
    game.advance(game.token)
    assert engine.calls == 3


def test_team_names_are_bounded_and_never_a_formula(game):
    """A name is one line of at most 40 characters, and cannot start a spreadsheet formula."""
    a, b = game.store.teams()[:2]
    assert game.join(a.code, '=HYPERLINK("x")\n' + "y" * 100).name.startswith("'=")
    assert len(game.join(b.code, "  " + "z" * 100).name) == 40


def test_wrong_join_codes_lock_a_client_out_for_longer_each_time():
    """Five wrong codes within a minute lock that client out (a minute, then two); wrong
    codes spread over more than a minute do not; other clients are not affected."""
    clock = Clock()
    throttle = Throttle(clock)
    for _ in range(WRONG_CODES_ALLOWED):
        throttle.wrong("10.0.0.1")
        clock.now += 20.0  # five over 80 s: never five within a minute
    throttle.check("10.0.0.1")
    for _ in range(WRONG_CODES_ALLOWED):
        throttle.wrong("10.0.0.2")
    with pytest.raises(Throttled, match="try again in 60 s") as refused:
        throttle.check("10.0.0.2")
    assert isinstance(refused.value, AuthError) and refused.value.retry_after == 60
    throttle.check("10.0.0.1")
    clock.now += 59.5
    with pytest.raises(Throttled, match="try again in 1 s"):
        throttle.check("10.0.0.2")
    clock.now += 0.5
    throttle.check("10.0.0.2")
    for _ in range(WRONG_CODES_ALLOWED):
        throttle.wrong("10.0.0.2")
    with pytest.raises(Throttled, match="try again in 120 s"):
        throttle.check("10.0.0.2")
