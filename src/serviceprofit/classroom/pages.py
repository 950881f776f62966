"""The game's pages: a team's page (``/``) and the facilitator's (``/facilitator``).

The browser pages alone (Mesa's ``app.py`` convention): only the classroom server
imports this module, through Solara. Every action goes through the served game
(:func:`~.server.current`) with the code or token typed into the page, exactly as the
JSON API does: a page holds no state the game does not, reads and writes no files, and a
team's page can only ever name its own join code. Wrong join codes typed into a page
count against the page's address, as the API's do (:class:`~.auth.Throttle`).

A team's page follows the game by itself: every :data:`FOLLOW_SECONDS` it asks how many
quarters have been played, and shows the new quarter's report and levers as soon as one
has (a draft for the quarter that just closed is moot). The facilitator's page follows
who has joined and submitted, the quarter and the timer the same way.
"""

from __future__ import annotations

from html import escape
from typing import Any

import pandas as pd
import solara

from serviceprofit.classroom import export
from serviceprofit.classroom.auth import AuthError
from serviceprofit.classroom.decisions import DecisionError
from serviceprofit.classroom.engine import EngineError
from serviceprofit.classroom.game import LEADERBOARD_METRICS, GameError
from serviceprofit.classroom.server import CLIENT_HEADER, current
from serviceprofit.demo.server import STOPPING

PROBLEMS = (AuthError, DecisionError, GameError, EngineError)
#: How often an open page asks whether the game has moved on.
FOLLOW_SECONDS = 2.0

#: Each numeric lever's slider: (label, minimum, maximum, step).
SLIDERS: dict[str, tuple[str, float, float, float]] = {
    "utilisation_target": ("Planned utilisation (lower: more staff)", 0.5, 0.95, 0.01),
    "training_per_head": ("Training per head per week", 0.0, 300.0, 5.0),
    "handle_time": ("Hours allowed per contact", 0.25, 2.0, 0.05),
    "empowerment": ("Empowerment", 0.0, 1.0, 0.05),
    "marketing_spend": ("Marketing per week", 0.0, 50_000.0, 100.0),
    "technology_spend": ("Technology per head per week", 0.0, 300.0, 5.0),
}


def _say(text: str) -> None:
    """Text as HTML, escaped (solara.Markdown would load a script the page's read-only
    assets do not hold)."""
    solara.HTML(tag="div", unsafe_innerHTML=escape(text).replace("\n", "<br>"))


def _try(action: Any, *args: Any) -> tuple[Any, str | None]:
    try:
        return current().call(action, *args), None
    except PROBLEMS as exc:
        return None, str(exc)


def _as_team(action: Any, code: str, *args: Any) -> tuple[Any, str | None]:
    """A team's action from this page, throttled by the page's address."""
    headers = solara.lab.headers.value or {}
    client = (headers.get(CLIENT_HEADER) or ["unknown"])[0]
    try:
        return current().as_team(client, action, code, *args), None
    except PROBLEMS as exc:
        return None, str(exc)


def _follow(task_current: Any, changed: Any, then: Any) -> None:
    """Until the page closes (its task is no longer current) or the server stops: call
    ``then`` each time ``changed()`` says the game moved on."""
    while not STOPPING.wait(FOLLOW_SECONDS):
        if not task_current():
            return
        if changed():
            then()


@solara.component
def TeamPage() -> None:
    code, set_code = solara.use_state("")
    name, set_name = solara.use_state("")
    joined, set_joined = solara.use_state(False)
    view = solara.use_reactive(None)
    draft = solara.use_reactive(None)
    message = solara.use_reactive("")
    game = current().game

    def refresh() -> None:
        found, error = _as_team(game.owner_view, code)
        if error:
            message.value = error
            return
        view.value = found
        draft.value = dict(found["decisions"])

    def join() -> None:
        _, error = _as_team(game.join, code, name)
        if error:
            message.value = error
            return
        set_joined(True)
        message.value = ""
        refresh()

    def submit() -> None:
        saved, error = _as_team(game.submit, code, draft.value)
        message.value = error or "Decisions saved for this quarter."
        if saved is not None:
            refresh()

    def moved_on() -> bool:
        shown = view.value
        return shown is not None and (game.played + 1, game.over) != (
            shown["quarter"],
            shown["over"],
        )

    def new_quarter() -> None:
        message.value = ""  # "saved" was about the quarter that closed
        refresh()

    def follow() -> None:
        if not joined:
            return
        _follow(following.is_current, moved_on, new_quarter)

    following = solara.lab.use_task(follow, dependencies=[joined, code], prefer_threaded=True)

    solara.Title("serviceprofit: your firm")
    message_text = message.value
    if not joined or view.value is None:
        with solara.Card("Join the game"):
            solara.InputText("Join code", value=code, on_value=set_code, continuous_update=True)
            solara.InputText("Team name", value=name, on_value=set_name, continuous_update=True)
            solara.Button("Join", on_click=join, color="primary")
            if message_text:
                solara.Error(message_text)
        return
    shown, levers = view.value, draft.value
    _say(
        f"{shown['name']}: firm {shown['firm']} (industry {shown['industry']})\n"
        f"Quarter {shown['quarter']} of {shown['quarters']}"
        + (" (game over)" if shown["over"] else "")
        + f". Budget {shown['budget']:,.0f} a week for training and technology "
        f"(per head of {shown['staff_for_budget']} staff), marketing and voice of the customer."
    )
    solara.Button("Refresh", on_click=refresh)
    report = pd.DataFrame(shown["report"])
    if not report.empty:
        with solara.Card("Your accounts and what you hear, by quarter"):
            solara.DataFrame(report.round(3), items_per_page=24)
    if not shown["over"] and levers is not None:
        with solara.Card("This quarter's decisions"):
            for lever, (label, low, high, step) in SLIDERS.items():
                solara.SliderFloat(
                    f"{label}: {levers[lever]:,.2f}",
                    value=levers[lever],
                    min=low,
                    max=high,
                    step=step,
                    on_value=lambda v, lever=lever: draft.set({**levers, lever: v}),
                )
            solara.Select(
                "Organisation",
                values=["silo", "merged"],
                value=levers["organisation"],
                on_value=lambda v: draft.set({**levers, "organisation": v}),
            )
            solara.Checkbox(
                label="Real-time voice of the customer (no survey lag, at a cost)",
                value=levers["real_time_voc"],
                on_value=lambda v: draft.set({**levers, "real_time_voc": v}),
            )
            solara.Button("Submit", on_click=submit, color="primary")
            solara.Text("Submitted." if shown["submitted"] else "Not submitted yet.")
    if message_text:
        (solara.Info if message_text.startswith("Decisions saved") else solara.Error)(message_text)


@solara.component
def FacilitatorPage() -> None:
    token, set_token = solara.use_state("")
    live = solara.use_reactive(None)
    metric, set_metric = solara.use_state("balanced")
    board, set_board = solara.use_state(None)
    chosen, set_chosen = solara.use_state(1)
    report, set_report = solara.use_state(None)
    what_if, set_what_if = solara.use_state(None)
    quarter, set_quarter = solara.use_state(1)
    message, set_message = solara.use_state("")
    game = current().game

    def refresh() -> None:
        found, error = _try(game.overview, token)
        set_message(error or "")
        if found is not None:
            live.value = found

    latest: list[Any] = [None]

    def moved_on() -> bool:
        latest[0], _ = _try(game.overview, token)
        return latest[0] is not None and latest[0] != live.value

    def show_latest() -> None:
        live.value = latest[0]  # the page's message (an error the facilitator reads) stays

    def follow() -> None:
        if live.value is None:
            return
        _follow(following.is_current, moved_on, show_latest)

    opened = live.value is not None
    following = solara.lab.use_task(follow, dependencies=[opened, token], prefer_threaded=True)

    def act(action: Any, *args: Any) -> None:
        _, error = _try(action, token, *args)
        set_message(error or "")
        refresh()

    def show_board() -> None:
        found, error = _try(game.leaderboard, token, metric)
        set_message(error or "")
        set_board(found)

    def show_debrief() -> None:
        found, error = _try(game.debrief, token, int(chosen))
        set_message(error or "")
        set_report(found)

    def replay() -> None:
        seat = game.seat_of_team(int(chosen))
        levers = game.decisions_of(seat, max(1, game.played))[min(int(quarter), game.played) - 1]
        better = levers.model_dump()
        better["training_per_head"] = min(300.0, better["training_per_head"] * 2 + 10)
        found, error = _try(game.what_if, token, int(chosen), int(quarter), better)
        if error is not None:  # the doubled training may be over budget: then keep it
            found, error = _try(game.what_if, token, int(chosen), int(quarter), levers.model_dump())
        set_message(error or "")
        set_what_if(found)

    solara.Title("serviceprofit: facilitator")
    overview = live.value
    if overview is None:
        with solara.Card("Facilitator"):
            solara.InputText("Facilitator token", value=token, on_value=set_token, password=True)
            solara.Button("Open", on_click=refresh, color="primary")
            if message:
                solara.Error(message)
        return
    _say(
        f"Quarter {overview['quarter']} of {overview['quarters']}"
        + (" (game over)" if overview["over"] else "")
    )
    with solara.Row():
        solara.Button("Refresh", on_click=refresh)
        solara.Button("Advance the quarter", on_click=lambda: act(game.advance), color="primary")
        solara.Button(
            "Auto-advance: " + ("on" if overview["auto_advance"] else "off"),
            on_click=lambda: act(game.set_auto, not overview["auto_advance"]),
        )
        solara.Button("Timer: 5 minutes", on_click=lambda: act(game.set_timer, 300))
    if overview["seconds_left"] is not None:
        solara.Text(f"{overview['seconds_left']:.0f} s left on the timer")
    solara.DataFrame(pd.DataFrame(overview["teams"]), items_per_page=60)
    with solara.Card("Leaderboard"):
        solara.Select("Score", values=list(LEADERBOARD_METRICS), value=metric, on_value=set_metric)
        solara.Button("Show", on_click=show_board)
        if board is not None and not board.empty:
            solara.DataFrame(board.round(1), items_per_page=60)
    with solara.Card("Debrief and what-if"):
        numbers = [t["team"] for t in overview["teams"]]
        solara.Select("Team", values=numbers, value=chosen, on_value=set_chosen)
        solara.Button("Debrief", on_click=show_debrief)
        if report is not None:
            bench = report["benchmarks"]
            _say(
                f"Profit as played {report['played']['profit']:,.0f}; customer-value policy "
                f"{bench['customer_value']['profit']:,.0f}; cost-minimising policy "
                f"{bench['cost_minimising']['profit']:,.0f} (same market, same luck)."
            )
            solara.DataFrame(report["chain"].round(3), items_per_page=24)
        solara.SliderInt(
            "What if from quarter",
            value=quarter,
            min=1,
            max=max(1, overview["played"]),
            on_value=set_quarter,
        )
        solara.Button("What if they had doubled training then?", on_click=replay)
        if what_if is not None:
            _say(
                f"What-if replay: profit as played {what_if['played_profit']:,.0f}, what if "
                f"{what_if['what_if_profit']:,.0f}; customers {what_if['played_customers']:,.0f} "
                f"against {what_if['what_if_customers']:,.0f}."
            )
    with solara.Card("Export"), solara.Row():
        solara.FileDownload(
            lambda: export.results_csv(game, token), "class-results.csv", label="Results (CSV)"
        )
        solara.FileDownload(
            lambda: export.class_chart_png(game, token, "profit"),
            "class-profit.png",
            label="Profit chart (PNG)",
        )
        solara.FileDownload(
            lambda: export.debrief_html(game, token), "debrief.html", label="Printable debrief"
        )
    if message:
        solara.Error(message)


routes = [
    solara.Route(path="/", component=TeamPage, label="Team"),
    solara.Route(path="facilitator", component=FacilitatorPage, label="Facilitator"),
]

__all__ = ["routes"]
