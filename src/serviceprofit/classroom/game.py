"""A game: teams, quarters, what an owner sees, the leaderboard and the debrief.

Seats. A market has a few firms (the shipped ones two or three); a class has up to
thirty teams. As in the management flight simulators this follows (Markstrat's
"industries", People Express in class), the class is split into *industries*: copies
of the same market, each played by up to one team per firm, all with the same seed, so
every industry meets the same luck (common random numbers) and teams on the same firm
can be compared across industries. A firm no team plays keeps its preset policy: the
levers its scenario starts with, every quarter. Solo play is a game with one team.

A quarter. Quarter ``q`` (0-based) is open while ``q`` quarters have been played. A
team's decisions for it are saved when submitted; when the quarter is advanced (all
teams submitted, the timer ran out, or the facilitator), a team that did not submit
keeps its last decisions, and every industry plays the quarter's 13 weeks from its
market state at the quarter's start (kept in memory, saved at every boundary), with
each firm's decisions as events at its quarters' first weeks (:mod:`.engine`); an
engine without checkpoints re-runs from week 0 instead. The rows, their digest and the
new states are saved in one transaction.

What a team sees (:meth:`Game.owner_view`) is what an owner would: accounts, customers
(not why they left), complaints, staff and quits, market share, and a satisfaction
survey read with the firm's lag and noise (drawn by the game from the truth, seeded by
the game's seed, the seat and the week) unless the team pays for real-time voice of
the customer. Silent churn, staff satisfaction and the true satisfaction are kept for
the debrief (:meth:`Game.debrief`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serviceprofit.classroom import auth
from serviceprofit.classroom.decisions import (
    VOC_COST_PER_WEEK,
    DecisionError,
    Decisions,
    budget_for,
    check,
    from_scenario,
    to_keys,
)
from serviceprofit.classroom.engine import (
    QUARTER_WEEKS,
    Checkpoint,
    EngineError,
    MarketRun,
    Played,
    digest,
)
from serviceprofit.classroom.store import GAME_FILE, Store, Team
from serviceprofit.model.scenario import presets

__all__ = [
    "LEADERBOARD_METRICS",
    "MAX_TEAMS",
    "Game",
    "GameError",
    "Seat",
    "policy_decisions",
]

MAX_TEAMS = 60
MAX_QUARTERS = 24
LEADERBOARD_METRICS = ("profit", "customer_equity", "balanced")
#: Longest a team's name may be.
MAX_NAME = 40
#: Columns of the truth an owner does not see until the debrief.
HIDDEN = (
    "customer_satisfaction",
    "nps",
    "customers_churned",
    "churn_rate",
    "staff_satisfaction",
    "fcr",
    "handoffs_per_contact",
)
#: The columns of an owner's quarterly report, from the rows.
OWNER_SUMS = (
    "revenue",
    "cost_total",
    "profit",
    "complaints",
    "staff_quits",
    "customers_acquired",
    "cost_training",
    "cost_marketing",
    "cost_technology",
)


class GameError(ValueError):
    """A request the game cannot do now (quarter closed, game over, bad name): one line."""


@dataclass(frozen=True)
class Seat:
    """One firm in one industry: played by a team (``team``) or by its preset policy."""

    industry: int
    firm: str
    team: int | None

    @property
    def key(self) -> str:
        return f"{self.industry}:{self.firm}"


def policy_decisions(scenario: Any, policy: str) -> Decisions:
    """The levers of a named policy for a firm: ``preset`` (its scenario's own),
    ``customer_value`` or ``cost_minimising`` (the shipped process presets, with the
    merged organisation and real-time voice of the customer for the first, silos and
    the survey for the second; marketing and technology spend as the firm starts)."""
    start = from_scenario(scenario)
    if policy == "preset":
        return start
    process = presets()["process"][
        "customer_value" if policy == "customer_value" else "cost_minimised"
    ]
    return start.model_copy(
        update={
            "utilisation_target": process["target_utilisation"],
            "training_per_head": process["training_per_head"],
            "handle_time": process["handle_time"],
            "empowerment": process["empowerment"],
            "organisation": "merged" if policy == "customer_value" else "silo",
            "real_time_voc": policy == "customer_value",
        }
    )


class Game:
    """One game in its directory; every change is saved before it is answered."""

    def __init__(self, store: Store, engine: MarketRun, clock: Callable[[], float] = time.time):
        self.store = store
        self.engine = engine
        self.clock = clock
        self.settings = store.settings()
        self._rows: dict[str, pd.DataFrame] = {}
        # Each industry's market state at the last boundary: the next quarter starts here.
        self._checkpoints: dict[int, Checkpoint] = {}
        self._benchmarks: dict[tuple[str, str, int], pd.DataFrame] = {}
        # An owner's report per (seat, quarters played): pages poll it, and it changes
        # only when a quarter is played (played quarters' decisions are final).
        self._reports: dict[tuple[str, int], list[dict[str, Any]]] = {}
        saved = store.last_quarter()
        if saved is not None:
            self._rows = saved.rows
            self._checkpoints = store.checkpoints(saved.quarter)

    # -- creating and opening ----------------------------------------------------------

    @classmethod
    def open_or_create(
        cls,
        directory: Path,
        engine: MarketRun,
        *,
        teams: int,
        quarters: int,
        seed: int = 0,
        source: str = "",
        clock: Callable[[], float] = time.time,
    ) -> Game:
        """The game in ``directory``: resumed where it was if one is saved there (the
        saved settings win over the arguments), else created."""
        store = Store(directory / GAME_FILE)
        if store.is_new():
            _create(store, engine, teams=teams, quarters=quarters, seed=seed, source=source)
        game = cls(store, engine, clock)
        if game.settings["firms"] != list(engine.firms):
            raise GameError(
                f"{directory / GAME_FILE} was created for firms {game.settings['firms']}, "
                f"not {list(engine.firms)}; use another --game-dir"
            )
        return game

    # -- who is who ----------------------------------------------------------------------

    @property
    def token(self) -> str:
        return self.settings["token"]

    def check_token(self, token: object) -> None:
        if not auth.matches(token, self.token):
            raise auth.AuthError("facilitator token required")

    def team_for(self, code: object) -> Team:
        """The team whose join code this is, or :class:`~.auth.AuthError`."""
        found = None
        for team in self.store.teams():
            if auth.matches(code, team.code):
                found = team
        if found is None:
            raise auth.AuthError("unknown join code")
        return found

    def seats(self) -> list[Seat]:
        return [Seat(s["industry"], s["firm"], s["team"]) for s in self.settings["seats"]]

    def seat_of(self, team: Team) -> Seat:
        return next(s for s in self.seats() if s.team == team.number)

    def join(self, code: object, name: str = "") -> Team:
        team = self.team_for(code)
        name = " ".join(str(name).split())[:MAX_NAME] or f"Team {team.number}"
        if name[0] in "=+-@":  # a spreadsheet would read the exported name as a formula
            name = "'" + name[: MAX_NAME - 1]
        self.store.mark_joined(team.firm, name, _now())
        return self.team_for(code)

    # -- the quarter ---------------------------------------------------------------------

    @property
    def played(self) -> int:
        return self.store.played()

    @property
    def quarters(self) -> int:
        return int(self.settings["quarters"])

    @property
    def over(self) -> bool:
        return self.played >= self.quarters

    def budget(self, seat: Seat) -> float:
        return float(self.settings["budgets"][seat.firm])

    def staff(self, seat: Seat) -> int:
        return int(self.engine.scenario(seat.firm).population.staff)

    def submit(self, code: object, raw: Any) -> Decisions:
        """Validate and save a team's decisions for the open quarter."""
        team = self.team_for(code)
        if self.over:
            raise GameError("the game is over")
        seat = self.seat_of(team)
        decisions = check(raw, self.staff(seat), self.budget(seat))
        self.store.save_decisions(seat.key, self.played, decisions.model_dump(), _now())
        return decisions

    def decisions_of(self, seat: Seat, until: int) -> list[Decisions]:
        """A seat's levers for quarters ``0 .. until - 1``: submitted, else the last ones
        (a preset rival, or a team that has not submitted, keeps its levers)."""
        saved = self.store.decisions().get(seat.key, {})
        current = from_scenario(self.engine.scenario(seat.firm))
        out = []
        for quarter in range(until):
            if quarter in saved:
                current = Decisions.model_validate(saved[quarter])
            out.append(current)
        return out

    def submitted(self) -> dict[int, bool]:
        """Team number -> whether it has submitted for the open quarter."""
        saved = self.store.decisions()
        return {
            s.team: self.played in saved.get(s.key, {}) for s in self.seats() if s.team is not None
        }

    def all_submitted(self) -> bool:
        return all(self.submitted().values())

    def set_timer(self, token: object, seconds: float | None) -> None:
        """Advance the open quarter by itself ``seconds`` from now (None: no timer)."""
        self.check_token(token)
        if seconds is not None and not (0 < seconds <= 3600):
            raise GameError("the timer takes 1 to 3600 seconds")
        self.store.set_setting("deadline", None if seconds is None else self.clock() + seconds)
        self.settings = self.store.settings()

    def set_auto(self, token: object, on: bool) -> None:
        """Whether the quarter advances as soon as every team has submitted."""
        self.check_token(token)
        self.store.set_setting("auto_advance", bool(on))
        self.settings = self.store.settings()

    def due(self) -> bool:
        """Whether the open quarter should advance by itself now (timer, or all in)."""
        if self.over:
            return False
        deadline = self.settings.get("deadline")
        if deadline is not None and self.clock() >= deadline:
            return True
        return bool(self.settings.get("auto_advance")) and self.all_submitted()

    def advance(self, token: object) -> int:
        """Play the open quarter (facilitator); returns the quarters played."""
        self.check_token(token)
        return self._advance()

    def tick(self) -> bool:
        """Advance if :meth:`due`; the server calls this between requests."""
        if self.due():
            self._advance()
            return True
        return False

    def _advance(self) -> int:
        if self.over:
            raise GameError("the game is over")
        quarter = self.played + 1
        seed = int(self.settings["seed"])
        rows: dict[str, pd.DataFrame] = {}
        fill: dict[str, dict[str, Any]] = {}
        checkpoints: dict[int, Checkpoint] = {}
        # Industries whose seats decided alike (at first, all of them) play once: the same
        # decisions so far mean the same state at the quarter's start too.
        runs: dict[str, tuple[Played, int]] = {}
        for industry in self._industries():
            events = {}
            for seat in self._seats_in(industry):
                levers = self.decisions_of(seat, quarter)
                events[seat.firm] = _events(levers, from_scenario(self.engine.scenario(seat.firm)))
                fill[seat.key] = levers[-1].model_dump()
            same = json.dumps(events, sort_keys=True, default=str)
            if same not in runs:
                resume = self._checkpoints.get(industry)
                if resume is not None and resume.week != (quarter - 1) * QUARTER_WEEKS:
                    resume = None
                runs[same] = (
                    self.engine.play(events, seed, quarter * QUARTER_WEEKS, resume),
                    industry,
                )
            played, first = runs[same]
            for firm, frame in played.rows.items():
                before = self._rows.get(f"{first}:{firm}", pd.DataFrame())
                rows[f"{industry}:{firm}"] = _joined(before, frame, played.start)
            if played.checkpoint is not None:
                checkpoints[industry] = played.checkpoint
        self.store.save_quarter(quarter, rows, digest(rows), _now(), fill, checkpoints)
        self.store.set_setting("deadline", None)
        self.settings = self.store.settings()
        self._rows = rows
        self._checkpoints = checkpoints
        self._reports = {}
        return quarter

    def _industries(self) -> list[int]:
        return sorted({s.industry for s in self.seats()})

    def _seats_in(self, industry: int) -> list[Seat]:
        return [s for s in self.seats() if s.industry == industry]

    # -- what an owner sees --------------------------------------------------------------

    def rows(self, seat: Seat) -> pd.DataFrame:
        """The truth for a seat, weeks played so far (empty before the first quarter)."""
        return self._rows.get(seat.key, pd.DataFrame())

    def market_share(self, seat: Seat) -> pd.Series:
        own = self.rows(seat)
        if own.empty:
            return pd.Series(dtype=float)
        total = sum(self.rows(s)["customers_active"] for s in self._seats_in(seat.industry))
        return own["customers_active"] / total.where(total > 0, np.nan)

    def owner_view(self, code: object) -> dict[str, Any]:
        """What the team with this join code may see: its own firm, as an owner would."""
        team = self.team_for(code)
        seat = self.seat_of(team)
        levers = self.decisions_of(seat, self.played + 1)
        return {
            "team": team.number,
            "name": team.name,
            "firm": seat.firm,
            "industry": seat.industry,
            "quarter": self.played + 1,
            "quarters": self.quarters,
            "over": self.over,
            "submitted": self.submitted().get(team.number, False),
            "budget": self.budget(seat),
            "staff_for_budget": self.staff(seat),
            "decisions": levers[-1].model_dump(),
            "report": self._report(seat),
        }

    def _report(self, seat: Seat) -> list[dict[str, Any]]:
        key = (seat.key, self.played)
        if key in self._reports:
            return self._reports[key]
        report = self.owner_report(seat).to_dict(orient="records")
        if len(report) == key[1]:  # not read while a quarter's rows were being swapped in
            self._reports[key] = report
        return report

    def owner_report(self, seat: Seat) -> pd.DataFrame:
        """Quarter by quarter, what the owner of a seat knows."""
        rows = self.rows(seat)
        if rows.empty:
            return pd.DataFrame()
        levers = self.decisions_of(seat, self.played)
        scenario = self.engine.scenario(seat.firm)
        survey = self.survey(seat)
        share = self.market_share(seat)
        out = []
        for q in range(len(rows) // QUARTER_WEEKS):
            part = rows.iloc[q * QUARTER_WEEKS : (q + 1) * QUARTER_WEEKS]
            voc = VOC_COST_PER_WEEK * QUARTER_WEEKS if levers[q].real_time_voc else 0.0
            record = {"quarter": q + 1}
            record.update({c: float(part[c].sum()) for c in OWNER_SUMS if c in part})
            record["cost_total"] = record.get("cost_total", 0.0) + voc
            record["profit"] = record.get("profit", 0.0) - voc
            record["voc_cost"] = voc
            last = part.iloc[-1]
            record["customers"] = float(last["customers_active"])
            record["staff"] = float(last["staff_active"])
            record["market_share"] = float(share.iloc[(q + 1) * QUARTER_WEEKS - 1])
            read = survey[(q + 1) * QUARTER_WEEKS - 1]
            record["survey_satisfaction"] = None if math.isnan(read) else float(read)
            record["survey_lag_weeks"] = (
                0 if levers[q].real_time_voc else scenario.strategy.measurement.survey_lag_weeks
            )
            out.append(record)
        frame = pd.DataFrame(out)
        frame["cumulative_profit"] = frame["profit"].cumsum()
        return frame

    def survey(self, seat: Seat) -> np.ndarray:
        """Each week's survey reading of customer satisfaction as the owner gets it: the
        truth ``lag`` weeks ago plus noise, or the truth at once with real-time voice of
        the customer; NaN while nothing has been read yet. The noise is drawn from the
        game's seed, the seat and the week, so it is the same on every re-run."""
        rows = self.rows(seat)
        truth = rows["customer_satisfaction"].to_numpy(dtype=float)
        measurement = self.engine.scenario(seat.firm).strategy.measurement
        levers = self.decisions_of(seat, max(1, self.played))
        seat_index = self.seats().index(seat)
        out = np.full(truth.size, np.nan)
        for week in range(truth.size):
            real_time = levers[min(week // QUARTER_WEEKS, len(levers) - 1)].real_time_voc
            if real_time:
                out[week] = truth[week]
                continue
            seen = week - measurement.survey_lag_weeks
            if seen >= 0:
                rng = np.random.default_rng([int(self.settings["seed"]), seat_index, week])
                noisy = truth[seen] + rng.normal(0.0, measurement.survey_noise)
                out[week] = min(1.0, max(0.0, noisy))
        return out

    # -- leaderboard ----------------------------------------------------------------------

    def scores(self) -> pd.DataFrame:
        """One row per team: cumulative profit (after voice-of-the-customer costs),
        customer equity and the balanced score, over the quarters played."""
        records = []
        for team in self.store.teams():
            seat = self.seat_of(team)
            report = self.owner_report(seat)
            rows = self.rows(seat)
            profit = float(report["profit"].sum()) if not report.empty else 0.0
            records.append(
                {
                    "team": team.number,
                    "name": team.name or f"Team {team.number}",
                    "industry": seat.industry,
                    "firm": seat.firm,
                    "profit": profit,
                    "customer_equity": customer_equity(rows),
                }
            )
        frame = pd.DataFrame(records)
        if frame.empty:
            return frame
        frame["balanced"] = 50.0 * _scaled(frame["profit"]) + 50.0 * _scaled(
            frame["customer_equity"]
        )
        return frame

    def leaderboard(self, token: object, metric: str | None = None) -> pd.DataFrame:
        self.check_token(token)
        metric = metric or self.settings.get("leaderboard", "balanced")
        if metric not in LEADERBOARD_METRICS:
            raise GameError(f"leaderboard: one of {', '.join(LEADERBOARD_METRICS)}")
        frame = self.scores()
        if frame.empty:
            return frame
        frame = frame.sort_values(metric, ascending=False, kind="stable").reset_index(drop=True)
        frame.insert(0, "rank", range(1, len(frame) + 1))
        return frame

    def set_leaderboard(self, token: object, metric: str) -> None:
        self.check_token(token)
        if metric not in LEADERBOARD_METRICS:
            raise GameError(f"leaderboard: one of {', '.join(LEADERBOARD_METRICS)}")
        self.store.set_setting("leaderboard", metric)
        self.settings = self.store.settings()

    # -- debrief ----------------------------------------------------------------------------

    def replay(
        self,
        seat: Seat,
        changed: Mapping[int, Decisions] = {},
        policy: str | None = None,
        *,
        resume: bool = True,
    ) -> pd.DataFrame:
        """The seat's truth had its decisions been different, everyone else's as played,
        with the same seed: ``changed`` replaces the quarters it names, ``policy`` every
        quarter. The weeks before the first changed quarter are as played, so the
        industry resumes from its state saved at that quarter's start (``resume=False``,
        or no state saved: from week 0; the same rows, slower)."""
        played = self.played
        if played == 0:
            raise GameError("no quarter has been played yet")
        for q in changed:
            if not 0 <= q < played:
                raise GameError(f"quarter {q + 1} has not been played")
        first = 0 if policy is not None else min(changed, default=0)
        events = {}
        for other in self._seats_in(seat.industry):
            levers = self.decisions_of(other, played)
            start = from_scenario(self.engine.scenario(other.firm))
            if other == seat:
                if policy is not None:
                    levers = [policy_decisions(self.engine.scenario(seat.firm), policy)] * played
                for q, decisions in changed.items():
                    levers[q] = decisions
            events[other.firm] = _events(levers, start)
        checkpoint = None
        if resume and first > 0:
            checkpoint = self.store.checkpoints(first).get(seat.industry)
        seed = int(self.settings["seed"])
        result = self.engine.play(events, seed, played * QUARTER_WEEKS, checkpoint)
        return _joined(self.rows(seat), result.rows[seat.firm], result.start)

    def what_if(self, token: object, team: int, quarter: int, raw: Any) -> dict[str, Any]:
        """Facilitator: replay from ``quarter`` (1-based) with one team's decisions changed
        for that quarter; the saved game is not touched."""
        self.check_token(token)
        seat = self.seat_of_team(team)
        decisions = check(raw, self.staff(seat), self.budget(seat))
        branch = self.replay(seat, {quarter - 1: decisions})
        played = self.rows(seat)
        return {
            "team": team,
            "quarter": quarter,
            "played_profit": float(played["profit"].sum()),
            "what_if_profit": float(branch["profit"].sum()),
            "played_customers": float(played["customers_active"].iloc[-1]),
            "what_if_customers": float(branch["customers_active"].iloc[-1]),
            "rows": branch,
        }

    def seat_of_team(self, number: int) -> Seat:
        for seat in self.seats():
            if seat.team == number:
                return seat
        raise GameError(f"no team {number}")

    def debrief(self, token: object, team: int) -> dict[str, Any]:
        """Facilitator: a team's decisions against the whole truth along the chain, and
        what a customer-value and a cost-minimising policy would have earned in the same
        industry with the same luck."""
        self.check_token(token)
        seat = self.seat_of_team(team)
        rows = self.rows(seat)
        if rows.empty:
            raise GameError("no quarter has been played yet")
        levers = self.decisions_of(seat, self.played)
        chain = []
        for q in range(self.played):
            part = rows.iloc[q * QUARTER_WEEKS : (q + 1) * QUARTER_WEEKS]
            churned = float(part["customers_churned"].sum())
            complaints = float(part["complaints"].sum())
            chain.append(
                {
                    "quarter": q + 1,
                    **levers[q].model_dump(),
                    "staff_satisfaction": float(part["staff_satisfaction"].mean()),
                    "staff_quits": float(part["staff_quits"].sum()),
                    "fcr": float(part["fcr"].mean()),
                    "customer_satisfaction": float(part["customer_satisfaction"].mean()),
                    "customers_churned": churned,
                    "complaints": complaints,
                    "silent_churners_at_least": max(0.0, churned - complaints),
                    "profit": float(part["profit"].sum()),
                }
            )
        benchmarks = {}
        for policy in ("customer_value", "cost_minimising"):
            # Played quarters never change, so a benchmark holds until the next advance.
            key = (seat.key, policy, self.played)
            if key not in self._benchmarks:
                self._benchmarks[key] = self.replay(seat, policy=policy)
            other = self._benchmarks[key]
            benchmarks[policy] = {
                "profit": float(other["profit"].sum()),
                "customers": float(other["customers_active"].iloc[-1]),
                "customer_equity": customer_equity(other),
            }
        return {
            "team": team,
            "firm": seat.firm,
            "industry": seat.industry,
            "chain": pd.DataFrame(chain),
            "played": {
                "profit": float(rows["profit"].sum()),
                "customers": float(rows["customers_active"].iloc[-1]),
                "customer_equity": customer_equity(rows),
            },
            "benchmarks": benchmarks,
        }

    # -- facilitator overview ---------------------------------------------------------------

    def overview(self, token: object) -> dict[str, Any]:
        self.check_token(token)
        submitted = self.submitted()
        teams = [
            {
                "team": t.number,
                "name": t.name,
                "code": t.code,
                "firm": t.firm.split(":", 1)[1],
                "industry": int(t.firm.split(":", 1)[0]),
                "joined": t.joined is not None,
                "submitted": submitted.get(t.number, False),
            }
            for t in self.store.teams()
        ]
        deadline = self.settings.get("deadline")
        return {
            "quarter": self.played + 1,
            "played": self.played,
            "quarters": self.quarters,
            "over": self.over,
            "teams": teams,
            "auto_advance": bool(self.settings.get("auto_advance")),
            "seconds_left": None if deadline is None else max(0.0, deadline - self.clock()),
            "leaderboard": self.settings.get("leaderboard", "balanced"),
            "source": self.settings.get("source", ""),
        }


def customer_equity(rows: pd.DataFrame) -> float:
    """The customers' worth at the end of play: customers x weekly revenue per customer x
    expected remaining weeks (one over the weekly churn rate of the last quarter, at most
    ten years), undiscounted (Rust, Lemon and Zeithaml 2004, simplified)."""
    if rows.empty:
        return 0.0
    last = rows.iloc[-QUARTER_WEEKS:]
    customers = float(last["customers_active"].iloc[-1])
    mean_customers = float(last["customers_active"].mean())
    if mean_customers <= 0:
        return 0.0
    revenue_each = float(last["revenue"].mean()) / mean_customers
    churn = float(last["customers_churned"].mean()) / mean_customers
    lifetime = min(520.0, 1.0 / churn) if churn > 0 else 520.0
    return customers * revenue_each * lifetime


def _scaled(values: pd.Series) -> pd.Series:
    top = float(values.abs().max())
    return values / top if top > 0 else values * 0.0


def _joined(before: pd.DataFrame, after: pd.DataFrame, start: int) -> pd.DataFrame:
    """The weeks before ``start`` as played, then a play's rows from ``start`` on."""
    if start == 0:
        return after.reset_index(drop=True)
    if len(before) < start:
        raise EngineError(f"a play resumed at week {start} but only {len(before)} weeks are kept")
    head = before.iloc[:start][list(after.columns)]
    return pd.concat([head, after], ignore_index=True)


def _events(levers: list[Decisions], start: Decisions) -> list[tuple[int, dict[str, Any]]]:
    """A seat's levers as events: each quarter's changes at its first week."""
    out = []
    previous = start
    for quarter, decisions in enumerate(levers):
        keys = to_keys(decisions, previous)
        if keys:
            out.append((quarter * QUARTER_WEEKS, keys))
        previous = decisions
    return out


def _now() -> str:
    from serviceprofit.provenance import now

    return now()


def _create(
    store: Store, engine: MarketRun, *, teams: int, quarters: int, seed: int, source: str
) -> None:
    if not 1 <= teams <= MAX_TEAMS:
        raise GameError(f"--teams: 1 to {MAX_TEAMS}, got {teams}")
    if not 1 <= quarters <= MAX_QUARTERS:
        raise GameError(f"--quarters: 1 to {MAX_QUARTERS}, got {quarters}")
    if quarters * QUARTER_WEEKS > engine.weeks:
        raise GameError(
            f"--quarters {quarters} needs {quarters * QUARTER_WEEKS} weeks; the market runs "
            f"{engine.weeks} (at most {engine.weeks // QUARTER_WEEKS} quarters)"
        )
    firms = list(engine.firms)
    industries = math.ceil(teams / len(firms))
    seats = []
    seated: list[Team] = []
    codes: list[str] = []
    number = 0
    for industry in range(1, industries + 1):
        for firm in firms:
            team = None
            if number < teams:
                number += 1
                team = number
                code = auth.join_code(codes)
                codes.append(code)
                seated.append(Team(number, f"{industry}:{firm}", code, "", None))
            seats.append({"industry": industry, "firm": firm, "team": team})
    settings = {
        "source": source,
        "seed": int(seed),
        "quarters": int(quarters),
        "firms": firms,
        "seats": seats,
        "token": auth.new_token(),
        "budgets": {f: budget_for(engine.scenario(f)) for f in firms},
        "leaderboard": "balanced",
        "auto_advance": False,
        "deadline": None,
    }
    store.create(settings, seated)


__all__ += ["DecisionError", "EngineError", "customer_equity"]
