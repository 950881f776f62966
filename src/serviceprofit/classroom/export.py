"""What leaves the game: the class's results as CSV, charts as PNG, a printable debrief.

Each is built from the game's saved rows and decisions and carries provenance (the
package's version and commit, the market's firms as resolved, the seed): a table says it
in ``#`` lines at the top, a chart in its PNG metadata, the debrief page in a footer.
"""

from __future__ import annotations

import html
import io
import json
from typing import Any

import pandas as pd

from serviceprofit.classroom.engine import QUARTER_WEEKS
from serviceprofit.classroom.game import Game

__all__ = ["class_chart_png", "debrief_html", "provenance", "results_csv"]


def provenance(game: Game) -> dict[str, Any]:
    from serviceprofit import provenance as prov

    return prov.record(
        scenarios=[game.engine.scenario(f) for f in game.engine.firms],
        backend=str(getattr(game.engine, "backend", "market run")),
        seeds=int(game.settings["seed"]),
        game={
            "source": game.settings.get("source", ""),
            "quarters_played": game.played,
            "quarters": game.quarters,
            "digests": game.store.digests(),
        },
    )


def results_csv(game: Game, token: object) -> str:
    """One row per team: its seat, the three scores and its last decisions."""
    board = game.leaderboard(token, "profit")
    last = {}
    for team in game.store.teams():
        seat = game.seat_of(team)
        last[team.number] = game.decisions_of(seat, max(1, game.played))[-1].model_dump()
    decisions = pd.DataFrame.from_dict(last, orient="index").add_prefix("last_")
    table = board.merge(decisions, left_on="team", right_index=True)
    record = provenance(game)
    header = "".join(
        f"# {k}: {json.dumps(record[k], default=str)}\n"
        for k in ("serviceprofit", "git", "seeds", "game", "started")
    )
    return header + table.to_csv(index=False)


def class_chart_png(game: Game, token: object, column: str = "profit") -> bytes:
    """Cumulative ``column`` (profit or customers) per team over the weeks played."""
    game.check_token(token)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    ax = figure.subplots()
    for team in game.store.teams():
        rows = game.rows(game.seat_of(team))
        if rows.empty:
            continue
        series = rows["profit"].cumsum() if column == "profit" else rows["customers_active"]
        ax.plot(rows.index, series, label=team.name or f"Team {team.number}")
    for q in range(1, game.played):
        ax.axvline(q * QUARTER_WEEKS, color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel("week")
    ax.set_ylabel("cumulative profit" if column == "profit" else "customers")
    if game.store.teams():
        ax.legend(fontsize="small", ncol=2)
    figure.tight_layout()
    out = io.BytesIO()
    meta = {"Software": "serviceprofit", "Description": json.dumps(provenance(game), default=str)}
    figure.savefig(out, format="png", metadata=meta)
    return out.getvalue()


def debrief_html(game: Game, token: object) -> str:
    """A printable page: the leaderboard, and per team its decisions against the whole
    truth and what the two policies would have earned with the same luck."""
    board = game.leaderboard(token)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Debrief</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "section{page-break-inside:avoid;margin-bottom:2em}</style></head><body>",
        f"<h1>Debrief: {html.escape(str(game.settings.get('source', '')))}</h1>",
        f"<p>{game.played} of {game.quarters} quarters played.</p>",
        "<h2>Leaderboard</h2>",
        board.to_html(index=False, float_format=lambda v: f"{v:,.0f}"),
    ]
    for team in game.store.teams():
        if game.played == 0:
            break
        report = game.debrief(token, team.number)
        bench = report["benchmarks"]
        parts += [
            f"<section><h2>{html.escape(team.name or f'Team {team.number}')} "
            f"(firm {html.escape(report['firm'])}, industry {report['industry']})</h2>",
            "<p>Profit as played: {:,.0f}; a customer-value policy: {:,.0f}; a cost-minimising "
            "policy: {:,.0f} (same market, same luck).</p>".format(
                report["played"]["profit"],
                bench["customer_value"]["profit"],
                bench["cost_minimising"]["profit"],
            ),
            report["chain"].to_html(index=False, float_format=lambda v: f"{v:,.3g}"),
            "</section>",
        ]
    record = provenance(game)
    parts.append(
        "<footer><small>serviceprofit {} commit {} seed {}</small></footer></body></html>".format(
            html.escape(str(record["serviceprofit"])),
            html.escape(str((record["git"] or {}).get("commit", "unknown"))),
            record["seeds"],
        )
    )
    return "".join(parts)
