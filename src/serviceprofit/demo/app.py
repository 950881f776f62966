"""The classroom page: two firms side by side, their levers, and the chain in charts.

This module is the browser page alone (Mesa's ``app.py`` convention): only the demo
server imports it, through Solara. The logic it shows lives in the modules beside it,
which tests drive without a browser.

Responsiveness at 5,000 customers a firm: the play loop runs in a worker thread and
redraws once every few weeks (the speed control), at most a few times a second; the
charts are Vega-Lite drawn by the browser, so a redraw sends a small JSON document.
Slider drags are coalesced: a change is applied once the slider has been still for a
moment, because applying it replays the firm from week 0 to the current week.
"""

from __future__ import annotations

import time
from html import escape
from typing import Any

import solara
from solara.widgets import VegaLite

from serviceprofit.demo.chain import chain_svg
from serviceprofit.demo.charts import (
    CHARTS,
    FIRM_COLOURS,
    chart_spec,
    population_spec,
    rivals_spec,
    waffle_unit,
)
from serviceprofit.demo.classroom import Classroom
from serviceprofit.demo.controls import Control, controls
from serviceprofit.demo.export import FORMATS, charts_image, weekly_csv
from serviceprofit.demo.rivals import firm_key, run_rivals, switching_rows
from serviceprofit.demo.server import STOPPING, DemoConfig, firm_scenarios
from serviceprofit.model.scenario import ScenarioError, load_scenario

FRAME_SECONDS = 0.3  # at most ~3 redraws a second, whatever the speed
# A pause after every redraw however slow the weeks were, so that clicks (Pause, a
# lever) get their turn on a busy machine instead of waiting for the run to end.
BREATHE_SECONDS = 0.1
SETTLE_SECONDS = 0.4  # a lever is applied once its slider has been still this long
SPEEDS = (1, 2, 4, 8, 13)  # weeks per redraw


class Session:
    """One browser session: what the page was started with, and its classroom."""

    def __init__(self) -> None:
        self.config = DemoConfig.from_env()
        self.presets = self.config.presets()
        self.room = Classroom(firm_scenarios(self.config), seed=self.config.seed)
        # Made once: a download restarts when its data function changes, and the page
        # redraws several times a second while playing.
        self.downloads = (
            ("Charts (PNG)", "serviceprofit-demo-charts.png", FORMATS["png"], self.png),
            ("Charts (SVG)", "serviceprofit-demo-charts.svg", FORMATS["svg"], self.svg),
            ("Weekly data (CSV)", "serviceprofit-demo-weekly.csv", "text/csv", self.csv),
        )

    def png(self) -> bytes:
        return charts_image(self.room, "png")

    def svg(self) -> bytes:
        return charts_image(self.room, "svg")

    def csv(self) -> str:
        return weekly_csv(self.room)


@solara.component
def Page() -> None:
    session = solara.use_memo(Session, [])
    room = session.room
    tick = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    speed = solara.use_reactive(4)
    edits = solara.use_reactive(0)
    message = solara.use_reactive("")
    show_levers = solara.use_reactive(True)
    rivals = solara.use_reactive(False)

    def redraw() -> None:
        tick.value += 1

    def advance(weeks: int, epoch: int | None = None) -> bool:
        try:
            room.step(weeks, epoch)
        except ScenarioError as exc:  # a queued edit the schema refused
            message.value = str(exc)
            return False
        return True

    def play_loop() -> None:
        # Stop when paused, at the horizon, when the page is closed (the task is no
        # longer current) or when the server shuts down.
        epoch = room.epoch  # Reset or a new scenario ends this loop's run
        while playing.value and not room.finished and play.is_current() and not STOPPING.is_set():
            start = time.perf_counter()
            if epoch != room.epoch or not advance(speed.value, epoch):
                break
            redraw()
            time.sleep(max(BREATHE_SECONDS, FRAME_SECONDS - (time.perf_counter() - start)))
        playing.value = False

    def apply_edits() -> None:
        generation = edits.value
        if generation == 0:
            return
        time.sleep(SETTLE_SECONDS)
        if generation != room.generation:
            return  # a newer edit restarts the wait
        message.value = "applying the change (replaying to this week)…"
        try:
            room.apply_pending(generation)
            message.value = ""
        except ScenarioError as exc:
            message.value = str(exc)
        redraw()

    play = solara.lab.use_task(play_loop, dependencies=[playing.value], prefer_threaded=True)
    solara.lab.use_task(apply_edits, dependencies=[edits.value], prefer_threaded=True)

    def run_market() -> Any:
        return run_rivals(room) if rivals.value else None

    # The rivals' market runs again when the switch, the seed, a scenario or a change
    # made in class changes: the whole horizon at once, in a worker thread.
    market_key = (
        rivals.value,
        room.epoch,
        room.seed,
        tuple((f.base.name, repr(sorted(f.changes.items()))) for f in room.firms),
    )
    market = solara.lab.use_task(run_market, dependencies=[repr(market_key)], prefer_threaded=True)

    def edit(firm: int, key: str, value: Any) -> None:
        edits.value = room.request(firm, key, value)

    def load(firm: int, name: str) -> None:
        playing.value = False
        try:
            room.load(firm, load_scenario(session.presets[name]))
            message.value = ""
        except ScenarioError as exc:
            message.value = str(exc)
        redraw()

    def step() -> None:
        advance(1)
        redraw()

    def reset() -> None:
        playing.value = False
        room.reset()
        redraw()

    def reseed(seed: int) -> None:
        playing.value = False
        room.reset(seed=seed)
        redraw()

    _ = tick.value  # redraw on every tick
    histories = room.histories()
    first = room.firms[0].base.population
    sizes = {(f.base.population.customers, f.base.population.staff) for f in room.firms}
    population = (
        f"Each firm starts with {first.customers:,} customers and {first.staff} staff"
        if len(sizes) == 1
        else "The firms start with "
        + " and ".join(f"{c:,} customers and {s} staff" for c, s in sorted(sizes))
    )

    solara.Title("Service-profit chain: classroom demo")
    solara.Style(CSS)
    with solara.Column(classes=["sp-page"]):
        solara.HTML(
            tag="h2",
            unsafe_innerHTML="The service-profit chain: two firms, same luck, different strategy",
        )
        solara.HTML(
            tag="p",
            classes=["sp-note"],
            unsafe_innerHTML=(
                f"{population} (from the scenario), one week a step. Both firms draw from the same "
                f"seed, so what differs comes from the strategy, not from luck. A lever changed "
                f"mid-run applies from the current week on."
            ),
        )
        with solara.Row(classes=["sp-bar"], style={"align-items": "center"}):
            if playing.value:
                solara.Button("Pause", icon_name="mdi-pause", on_click=lambda: playing.set(False))
            else:
                solara.Button(
                    "Play",
                    icon_name="mdi-play",
                    color="primary",
                    disabled=room.finished,
                    on_click=lambda: playing.set(True),
                )
            solara.Button(
                "Step",
                icon_name="mdi-step-forward",
                on_click=step,
                disabled=playing.value or room.finished,
            )
            solara.Button("Reset", icon_name="mdi-restore", on_click=reset)
            solara.HTML(tag="span", classes=["sp-label"], unsafe_innerHTML="Weeks per redraw:")
            solara.ToggleButtonsSingle(value=speed, values=list(SPEEDS))
            with solara.Column(style={"max-width": "110px"}):
                solara.InputInt("Seed", value=room.seed, on_value=reseed)
            solara.HTML(
                tag="div",
                classes=["sp-week"],
                unsafe_innerHTML=f"Week {room.week} of {room.weeks}",
            )
            # On a projector the levers fill the first screen: hide them to show the charts.
            solara.Switch(label="Show levers", value=show_levers)
            # Rivals: the two firms share one market (customers can switch between them).
            solara.Switch(label="Rivals in one market", value=rivals)
        if message.value:
            solara.Warning(message.value)

        if show_levers.value:
            with solara.Columns([1, 1]):
                for i, firm in enumerate(room.firms):
                    FirmControls(
                        index=i,
                        label=firm.label,
                        settings=room.settings(i),
                        changes=firm.changes,
                        preset_names=sorted(session.presets),
                        scenario_name=firm.base.name,
                        on_edit=edit,
                        on_load=load,
                    )
        else:
            for i, firm in enumerate(room.firms):
                colour = FIRM_COLOURS[i % len(FIRM_COLOURS)]
                settings = room.settings(i)
                summary = ", ".join(
                    f"{c.label.lower()} {_shown(c, settings[c.key])}" for c in controls()
                )
                solara.HTML(
                    tag="p",
                    classes=["sp-summary"],
                    unsafe_innerHTML=f'<b style="color:{colour}">{escape(firm.label)}</b>: '
                    + escape(summary),
                )

        Section(
            "The chain, this week",
            "The service-profit chain (Heskett and colleagues, 1994): each box feeds the "
            "next. The numbers are each firm's latest values (4-week averages for "
            "the noisy ones).",
        )
        solara.HTML(tag="div", classes=["sp-chain"], unsafe_innerHTML=chain_svg(histories))

        Section(
            "The customers",
            "Each square is a group of customers. Green: fans who would recommend the firm; "
            "yellow: passive; red: critics. Grey: customers lost since week 0. Look for: "
            "grey squares piling up, and the colour of those who stay.",
        )
        unit = waffle_unit(first.customers)
        VegaLite.element(spec=population_spec({f.label: f.population() for f in room.firms}, unit))

        with solara.ColumnsResponsive(12, large=6):
            for chart in CHARTS:
                with solara.Column(classes=["sp-chart"]):
                    Section(chart.title, chart.caption)
                    VegaLite.element(spec=chart_spec(chart, histories, room.weeks))

        if rivals.value:
            RivalsSection(room_weeks=room.weeks, labels=[f.label for f in room.firms], task=market)

        Section(
            "Take it home",
            "The five charts as they stand, as an image, and both firms' weeks so far as a "
            "table (one row per firm and week, every measure of the model). The table's "
            "header records the version, the seed and each firm's scenario with the changes "
            "made in class, so <code>serviceprofit run</code> gives the same weeks again.",
        )
        with solara.Row(classes=["sp-export"]):
            for label, filename, mime_type, data in session.downloads:
                solara.FileDownload(data, filename=filename, label=label, mime_type=mime_type)


@solara.component
def RivalsSection(room_weeks: int, labels: list[str], task: Any) -> None:
    """The two firms as rivals in one market: shares, customers, who went where."""
    Section(
        "The two firms as rivals in one market",
        "Above, each firm has its own customers and a customer who leaves is gone. Here the "
        "same two firms (with every change made in class) share one market: the customers "
        "of both, plus people in the category who are no one's customers yet. A customer "
        "who leaves one firm may go to the other, newcomers choose between them, and one "
        "firm's critics are heard by the other's customers. This run covers all "
        f"{room_weeks} weeks at once, from the same seed.",
    )
    if task.pending:
        solara.Info("running the market (the first run loads the compiled model: a few seconds)…")
        return
    if task.error:
        solara.Warning(f"the firms cannot share one market: {task.exception}")
        return
    result = task.value
    if result is None:
        return
    names = {firm_key(label): label for label in labels}
    weekly = {names[name]: run.timeseries.to_dict("records") for name, run in result.firms.items()}
    VegaLite.element(spec=rivals_spec(weekly, room_weeks))
    table = switching_rows(result, names)
    moves = table[table["from"] != table["to"]]
    rows = "".join(
        f"<tr><td>{r['year']}</td><td>{escape(r['from'])}</td><td>{escape(r['to'])}</td>"
        f"<td>{r['people']:,}</td></tr>"
        for r in moves.to_dict("records")
    )
    solara.HTML(
        tag="div",
        classes=["sp-switching"],
        unsafe_innerHTML=(
            "<p class='sp-caption'>Who went where, per year (people):</p><table>"
            "<tr><th>year</th><th>from</th><th>to</th><th>people</th></tr>"
            f"{rows}</table>"
        ),
    )


@solara.component
def Section(title: str, caption: str) -> None:
    solara.HTML(tag="h3", unsafe_innerHTML=title)
    solara.HTML(tag="p", classes=["sp-caption"], unsafe_innerHTML=caption)


@solara.component
def FirmControls(
    index: int,
    label: str,
    settings: dict[str, Any],
    changes: dict[int, dict[str, Any]],
    preset_names: list[str],
    scenario_name: str,
    on_edit: Any,
    on_load: Any,
) -> None:
    colour = FIRM_COLOURS[index % len(FIRM_COLOURS)]
    levers = controls()
    with solara.Card(
        classes=["sp-firm", f"sp-firm-{index}"], style={"border-top": f"6px solid {colour}"}
    ):
        with solara.Row(style={"align-items": "center"}):
            solara.HTML(tag="h3", unsafe_innerHTML=label, style={"color": colour})
            if preset_names:
                solara.Select(
                    "Start from a shipped scenario (restarts both firms)",
                    values=preset_names,
                    value=scenario_name if scenario_name in preset_names else None,
                    on_value=lambda name: name and on_load(index, name),
                )
        with solara.Columns([1, 1]):
            for group in ([c for c in levers if c.choices], [c for c in levers if not c.choices]):
                with solara.Column(gap="0px"):
                    for control in group:
                        Lever(
                            control,
                            settings[control.key],
                            lambda v, k=control.key: on_edit(index, k, v),
                        )
        if changes:
            solara.HTML(
                tag="p",
                classes=["sp-caption"],
                unsafe_innerHTML="Changed in class: " + escape(_describe(changes)),
            )


def _describe(changes: dict[int, dict[str, Any]]) -> str:
    parts = []
    for week, values in sorted(changes.items()):
        said = [
            k if isinstance(v, dict) else f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in values.items()
        ]
        parts.append(f"from week {week}: " + ", ".join(said))
    return "; ".join(parts)


def _shown(control: Control, value: Any) -> str:
    return str(value) if control.choices else f"{value:,.2f}".rstrip("0").rstrip(".")


@solara.component
def Lever(control: Control, value: Any, on_value: Any) -> None:
    """A lever with its plain name and value, its scenario key, and what it means."""
    shown = _shown(control, value)
    # the class names let the browser test find a lever by its key
    with solara.Column(gap="0px", classes=["sp-control", "sp-" + control.key.replace(".", "-")]):
        solara.HTML(
            tag="div",
            classes=["sp-lever"],
            unsafe_innerHTML=(
                f"<b>{escape(control.label)}</b>: {escape(str(shown))}"
                f"<br><code>{escape(control.key)}</code>"
            ),
        )
        if control.choices:
            solara.Select("", values=list(control.choices), value=value, on_value=on_value)
        else:
            solara.SliderFloat(
                "",
                value=float(value),
                min=control.low,
                max=control.high,
                step=control.step,
                on_value=on_value,
                thumb_label=True,
            )
        solara.HTML(tag="div", classes=["sp-help"], unsafe_innerHTML=escape(control.help))


CSS = """
.sp-page { max-width: 1400px; margin: 0 auto; padding: 8px 16px; }
.sp-page h2 { margin: 8px 0 4px 0; }
.sp-page h3 { margin: 14px 0 2px 0; }
.sp-note, .sp-caption { color: #444; margin: 2px 0 8px 0; max-width: 70em; }
.sp-help { color: #777; font-size: 12px; margin: 0 0 6px 0; }
.sp-lever { font-size: 14px; margin-top: 6px; }
.sp-lever code { font-size: 11px; color: #555; background: #f0f0f0; word-break: break-all; }
.sp-bar { position: sticky; top: 0; z-index: 10; background: white; padding: 4px 0;
          border-bottom: 1px solid #eee; }
.sp-label { color: #555; margin-left: 12px; }
.sp-summary { margin: 2px 0; font-size: 14px; }
.sp-week { font-size: 20px; font-weight: bold; margin-left: 16px; }
.sp-firm { padding: 4px 16px 8px 16px; }
.sp-chart { min-height: 260px; }
.sp-switching table { border-collapse: collapse; font-size: 13px; }
.sp-switching td, .sp-switching th { padding: 2px 10px; border-bottom: 1px solid #eee;
                                     text-align: right; }
"""
