"""What a comparison says, for people: the terminal table, a plain reading, and the report.

``report.html`` is one self-contained file (figures embedded as base64 PNG, styles
inline) that a strategist can mail to a colleague: the question, the scenarios and
what differs between them, a reading generated from the numbers, the table, and the
figures. Every sentence of the reading is built from the comparison's statistics: an
interval that includes zero is reported as "no clear difference", never as a win.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from serviceprofit.comparison.compare import CONFIDENCE
from serviceprofit.comparison.crossing import Crossing, find_crossing
from serviceprofit.comparison.figures import currency, outcome_scale, outcome_unit
from serviceprofit.model.keys import flatten
from serviceprofit.model.outcomes import INFO, MAXIMIZE
from serviceprofit.model.outcomes import outcome as declared
from serviceprofit.provenance import reproduce_html, write_record

if TYPE_CHECKING:
    from serviceprofit.comparison.compare import Comparison

__all__ = [
    "format_market_table",
    "format_table",
    "lead_differences",
    "market_section",
    "reading",
    "render_html",
    "scenario_differences",
    "scenario_questions",
    "write_comparison",
]

LEAD = 3  # clear differences the reading states per scenario


NOISE_NOTE = (
    "The intervals measure simulation noise: how far chance alone moves the results when "
    "every parameter is held fixed at the scenario's values. They do not include "
    "parameter uncertainty, what we do not know about the constants themselves "
    "(`compare --posterior` with a calibration adds it: docs/calibration.md), so they say "
    "how sure we are of what this model says, not whether the model is right about the world."
)
POSTERIOR_NOTE = (
    "Each replicate also drew its behaviour constants from the calibration's posterior, so "
    "the spread between replicates holds both simulation noise and what the firm's figures "
    "leave open about the constants; the section on parameter uncertainty separates the "
    "two. The intervals still assume the model's mechanisms are right."
)


def _noise_note(comparison: Comparison) -> str:
    return NOISE_NOTE if comparison.draws is None else POSTERIOR_NOTE


# ---------------------------------------------------------------------------
# Numbers


def _decimals(reference: float) -> int:
    """Decimals that show about four significant digits of a row's typical size."""
    size = abs(reference)
    if not math.isfinite(size) or size >= 1000:
        return 0
    if size >= 100:
        return 1
    if size >= 1:
        return 2
    return 3


def _number(value: float, decimals: int, sign: bool = False) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:+,.{decimals}f}" if sign else f"{value:,.{decimals}f}"


def _plain(outcome: str, value: float, decimals: int, money: str, sign: bool = False) -> str:
    """A shown value for a sentence, with its unit: percent and 0-100 scores in points when
    signed (a difference), money with its currency."""
    if not math.isfinite(value):
        return "n/a"
    unit = outcome_unit(outcome, money)
    if unit in ("%", "0-100"):
        if sign:
            return f"{value:+.1f} points"
        return f"{value:.1f}%" if unit == "%" else f"{value:.1f} of 100"
    number = _number(value, decimals, sign)
    if unit.startswith(money):
        return f"{number} {unit}"
    return number


class _Rows:
    """The comparison's wide table indexed for look-ups, in the units people read
    (:data:`serviceprofit.model.outcomes.SUMMARY`); NaN where runs had no value."""

    def __init__(self, comparison: Comparison) -> None:
        self.c = comparison
        self.wide = comparison.wide().set_index(["scenario", "outcome"])
        self.money = currency(comparison)

    def get(self, scenario: str, outcome: str, statistic: str) -> float:
        try:
            value = float(self.wide.loc[(scenario, outcome), statistic])
        except KeyError:
            return math.nan
        return value if statistic == "n" else value * outcome_scale(outcome)

    def decimals(self, outcome: str) -> int:
        if declared(outcome).unit == "customers":
            return 0
        sizes = [abs(self.get(n, outcome, "mean")) for n in self.c.names]
        return _decimals(max((x for x in sizes if math.isfinite(x)), default=0.0))

    def clear(self, scenario: str, outcome: str) -> bool:
        low = self.get(scenario, outcome, "diff_ci_low")
        high = self.get(scenario, outcome, "diff_ci_high")
        return low > 0 or high < 0

    def label(self, outcome: str) -> str:
        """The outcome's label with its unit, e.g. "total profit (EUR)"."""
        return f"{declared(outcome).label} ({outcome_unit(outcome, self.money)})"


def _size(comparison: Comparison) -> str:
    """How big the runs are, for a sentence: the firm's people, or the market's."""
    first = comparison.scenarios[0]
    if comparison.market is None:
        return (
            f"{first.population.customers:,} customers, "
            f"{first.population.staff:,} staff at the start"
        )
    market = comparison.market.markets[0]
    return (
        f"{market.market.customers:,} customers in the market and "
        f"{market.market.prospects.initial:,} prospects at the start, "
        f"{first.population.customers:,} of them {comparison.market.firm}'s, "
        f"with {first.population.staff:,} staff"
    )


# ---------------------------------------------------------------------------
# Terminal table


def format_table(comparison: Comparison) -> str:
    """Scenarios as columns, outcomes as rows: mean ± half-width, then paired differences.

    A ``*`` marks a difference whose 95% interval excludes zero.
    """
    rows = _Rows(comparison)
    base = comparison.baseline
    others = [n for n in comparison.names if n != base]
    header = ["outcome", f"{base} (baseline)"]
    for name in others:
        header += [name, f"Δ {name}"]
    body: list[list[str]] = []
    for outcome in comparison.outcomes:
        d = rows.decimals(outcome)
        line = [f"{outcome} [{outcome_unit(outcome, rows.money)}]"]
        for name in comparison.names:
            mean, half = rows.get(name, outcome, "mean"), rows.get(name, outcome, "half_width")
            line.append(f"{_number(mean, d)} ± {_number(half, d)}")
            if name != base:
                diff = rows.get(name, outcome, "diff_mean")
                d_half = rows.get(name, outcome, "diff_half_width")
                mark = " *" if rows.clear(name, outcome) else "  "
                line.append(f"{_number(diff, d, sign=True)} ± {_number(d_half, d)}{mark}")
        body.append(line)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = []
    for r in [header, *body]:
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    lines.insert(1, "  ".join("-" * w for w in widths))
    first = comparison.scenarios[0]
    scope = (
        "Intervals measure simulation noise under fixed parameters, not parameter uncertainty"
        if comparison.draws is None
        else "Every replicate drew its constants from the posterior, so ± is the precision of "
        "the posterior mean; how far the effect itself may lie from it is the credible "
        "interval below"
    )
    lines.append(
        f"mean ± half-width of the {CONFIDENCE:.0%} t-interval over {comparison.replicates} "
        f"replicates ({first.weeks} weeks, {comparison.backend}); Δ = paired difference "
        f"from {base} under common random numbers; * its interval excludes zero; "
        f"n/a: the runs cannot measure it. {scope}"
    )
    if comparison.draws is not None:
        from serviceprofit.calibration.uncertainty import posterior_lines

        lines += posterior_lines(comparison)
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# What differs, and the questions


def scenario_differences(comparison: Comparison) -> list[tuple[str, list[Any]]]:
    """Dotted keys whose resolved values differ between the scenarios, with each value."""
    if comparison.market is not None:  # every firm's settings and the market's, by dotted key
        flat = [flatten(m.to_dict()) for m in comparison.market.markets]
    else:
        flat = [flatten(s.to_dict()) for s in comparison.scenarios]
    keys: list[str] = []
    for f in flat:
        keys += [k for k in f if k not in keys]
    out = []
    for key in keys:
        if key in ("name", "description"):
            continue
        values = [f.get(key, "—") for f in flat]
        if any(v != values[0] for v in values[1:]):
            out.append((key, values))
    since = "strategy.organisation.since"
    if any(k.startswith("strategy.organisation.") for k, _ in out) and since not in dict(out):
        out.append((since, [f.get(since, "—") for f in flat]))  # which kind of change it is
    return out


_QUESTION = re.compile(r"^#\s*Question:\s*(.+)$", re.IGNORECASE)


def scenario_questions(comparison: Comparison) -> list[tuple[str, str]]:
    """The ``# Question:`` comment of each scenario file that has one, as (name, text)."""
    out = []
    for name in comparison.names:
        source = comparison.sources.get(name)
        if source is None or not Path(source).is_file():
            continue
        for line in Path(source).read_text(encoding="utf-8").splitlines():
            match = _QUESTION.match(line.strip())
            if match:
                text = match.group(1).strip()
                out.append((name, text[:1].upper() + text[1:]))
                break
    return out


# ---------------------------------------------------------------------------
# The reading


def _describe_difference(rows: _Rows, name: str, outcome: str) -> str:
    d = rows.decimals(outcome)
    diff, low, high = (
        rows.get(name, outcome, stat) for stat in ("diff_mean", "diff_ci_low", "diff_ci_high")
    )
    return (
        f"{declared(outcome).label} {_plain(outcome, diff, d, rows.money, sign=True)} "
        f"(95% interval {_plain(outcome, low, d, rows.money, sign=True)} to "
        f"{_plain(outcome, high, d, rows.money, sign=True)})"
    )


def _verdict(rows: _Rows, name: str, outcome: str) -> str:
    """``better``, ``worse`` or ``different`` for a clear difference; ``unclear`` otherwise."""
    if not rows.clear(name, outcome):
        return "unclear"
    good = declared(outcome).direction
    if good == INFO:
        return "different"
    return "better" if (rows.get(name, outcome, "diff_mean") > 0) == (good == MAXIMIZE) else "worse"


def _money(value: float, currency_: str) -> str:
    return f"{_number(value, 0)} {currency_}"


def _crossing_sentence(crossing: Crossing, comparison: Comparison) -> str:
    short, long = crossing.short_term, crossing.long_term
    money = currency(comparison)
    if short == long:
        return (
            f"On cumulative profit, {long} leads both after {crossing.short_term_week} weeks "
            f"(by {_money(crossing.short_term_lead, money)} over {crossing.rival}) "
            f"and at week {crossing.final_week} (by "
            f"{_money(crossing.long_term_lead, money)}): no trade-off in time here."
        )
    text = (
        f"On cumulative profit, {short} leads after {crossing.short_term_week} weeks "
        f"(by {_money(crossing.short_term_lead, money)}), but {long} leads at week "
        f"{crossing.final_week} (by {_money(crossing.long_term_lead, money)})"
    )
    if crossing.week is None:
        return text + "."
    text += f"; on average {long} pulls ahead for good in week {crossing.week}"
    weeks = [w for w in crossing.replicate_weeks if w is not None]
    missing = len(crossing.replicate_weeks) - len(weeks)
    if weeks:
        text += (
            f" (in the replicate pairs, between week {min(weeks)} and week {max(weeks)}"
            + (
                f"; in {missing} of {len(crossing.replicate_weeks)} it never does"
                if missing
                else ""
            )
            + ")"
        )
    return text + "."


def lead_differences(comparison: Comparison, name: str, count: int = LEAD) -> list[str]:
    """The outcomes whose paired difference from the baseline is clear, most important
    first (each outcome's ``group`` in :data:`serviceprofit.model.outcomes.SUMMARY`), then
    largest relative to the baseline's mean; at most ``count``."""
    rows = _Rows(comparison)
    base = comparison.baseline

    def relative(outcome: str) -> float:
        level = abs(rows.get(base, outcome, "mean"))
        diff = abs(rows.get(name, outcome, "diff_mean"))
        return diff / level if level > 1e-12 else math.inf

    clear = [o for o in comparison.outcomes if rows.clear(name, o)]
    return sorted(clear, key=lambda o: (declared(o).group, -relative(o)))[:count]


def _transition_sentence(comparison: Comparison) -> str | None:
    """Which organisational change each scenario stands for: one adopted at week 0 pays
    its cross-training; one that has always been that way compares structures only."""
    base = comparison.scenarios[0].strategy.organisation
    parts = []
    for s in comparison.scenarios:
        org = s.strategy.organisation
        if org.since == "start_of_run" and org.merge_weeks > 0:
            parts.append(
                f"{s.name} adopts its organisation at week 0 and pays the change: "
                f"{org.merge_weeks} weeks of cross-training from week 0 "
                "(strategy.organisation.since: start_of_run)"
            )
        elif org.departments != base.departments:
            parts.append(
                f"{s.name} has always been organised this way "
                "(strategy.organisation.since: always), so this compares the structures, "
                "not the cost of changing from one to the other"
            )
    return ". ".join(parts) + "." if parts else None


def reading(comparison: Comparison, crossing: Crossing | None = None) -> list[str]:
    """A short plain-language reading built from the numbers: what the intervals mean,
    which change each scenario stands for, the (at most) three clear differences that
    matter most per scenario, and when the profit leaders cross. The rest is in the table.
    """
    rows = _Rows(comparison)
    crossing = crossing or find_crossing(comparison)
    base = comparison.baseline
    first = comparison.scenarios[0]
    paragraphs = [
        f"Each of the {len(comparison.names)} scenarios was run {comparison.replicates} times "
        f"for {first.weeks} weeks ({_size(comparison)}, {comparison.backend} backend), "
        f"replicate i of every scenario on the same seed, so each difference from {base} "
        f"is measured pair by pair. {_noise_note(comparison)}"
    ]
    transition = _transition_sentence(comparison)
    if transition:
        paragraphs.append(transition)
    for name in comparison.names:
        if name == base:
            continue
        lead = lead_differences(comparison, name)
        clear = sum(rows.clear(name, o) for o in comparison.outcomes)
        if not lead:
            paragraphs.append(
                f"Compared with {base}, {name} shows no clear difference in any outcome "
                "(every interval includes zero)."
            )
            continue
        said = {
            "better": "better for the firm",
            "worse": "worse for the firm",
            "different": "neither better nor worse in itself",
        }
        described = "; ".join(
            f"{_describe_difference(rows, name, o)}, {said[_verdict(rows, name, o)]}" for o in lead
        )
        text = f"Compared with {base}, {name} differs most in: {described}."
        rest, unclear = clear - len(lead), len(comparison.outcomes) - clear
        more = []
        if rest:
            more.append(f"the other {rest} clear difference{'s' if rest != 1 else ''}")
        if unclear:
            more.append(
                f"{unclear} outcome{'s' if unclear != 1 else ''} with no clear difference "
                "(the interval includes zero)"
            )
        if more:
            text += f" The table has {' and '.join(more)}."
        paragraphs.append(text)
    paragraphs.append(_crossing_sentence(crossing, comparison))
    return paragraphs


# ---------------------------------------------------------------------------
# HTML

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; font-size: 1.25em; }
.meta { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.7em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #888; }
td.clear-better { background: #e3f2e1; } td.clear-worse { background: #f8e0de; }
td.clear-different { background: #eee8f5; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em;
          vertical-align: -0.1em; border-radius: 2px; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 0.9em; }
.reading p { margin: 0.5em 0; } code { font-size: 0.95em; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{_e(alt)}">'


def _results_table(comparison: Comparison) -> str:
    rows = _Rows(comparison)
    base = comparison.baseline
    others = [n for n in comparison.names if n != base]
    head = "<th>outcome</th>" + f"<th>{_e(base)} (baseline)</th>"
    for name in others:
        head += f"<th>{_e(name)}</th><th>difference from {_e(base)}</th>"
    body = []
    for outcome in comparison.outcomes:
        d = rows.decimals(outcome)
        cells = [f'<td title="{_e(outcome)}">{_e(rows.label(outcome))}</td>']
        for name in comparison.names:
            mean, half = rows.get(name, outcome, "mean"), rows.get(name, outcome, "half_width")
            cells.append(f"<td>{_number(mean, d)} ± {_number(half, d)}</td>")
            if name == base:
                continue
            diff = rows.get(name, outcome, "diff_mean")
            d_half = rows.get(name, outcome, "diff_half_width")
            text = f"{_number(diff, d, sign=True)} ± {_number(d_half, d)}"
            css = ""
            verdict = _verdict(rows, name, outcome)
            if verdict != "unclear":
                css = f' class="clear-{verdict}"'
                text += " *"
            cells.append(f"<td{css}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table id="results"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        f"<p class='meta'>Mean ± half-width of the {CONFIDENCE:.0%} Student-t interval over "
        f"{comparison.replicates} replicates. Differences are paired (scenario minus "
        f"{_e(base)}, replicate by replicate); * marks an interval that excludes zero, shaded "
        "green where that is better for the firm, red where worse, violet where neither; "
        "n/a where the runs cannot measure the outcome (e.g. a 13-week figure of a shorter "
        f"run). Satisfaction reads 0-100 and shares in percent, as in the demo; "
        f"differences of both are in points. {_e(_noise_note(comparison))}</p>"
    )


def _scenarios_section(comparison: Comparison) -> str:
    from serviceprofit.comparison.figures import scenario_colours

    colours = scenario_colours(comparison.names)
    items = []
    for s in comparison.scenarios:
        source = comparison.sources.get(s.name)
        where = f" <span class='meta'>({_e(Path(source).name)})</span>" if source else ""
        role = " <em>(baseline)</em>" if s.name == comparison.baseline else ""
        swatch = f"<span class='swatch' style='background:{colours[s.name]}'></span>"
        items.append(f"<li>{swatch}<b>{_e(s.name)}</b>{role}{where}: {_e(s.description)}</li>")
    parts = [f"<ul>{''.join(items)}</ul>"]
    diffs = scenario_differences(comparison)
    if diffs:
        head = "<th>setting</th>" + "".join(f"<th>{_e(n)}</th>" for n in comparison.names)
        body = "".join(
            f"<tr><td><code>{_e(k)}</code></td>"
            + "".join(f"<td>{_e(v)}</td>" for v in vals)
            + "</tr>"
            for k, vals in diffs
        )
        parts.append(
            "<p>What differs between them, once every preset and default is resolved "
            "(everything else is identical):</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
    else:
        parts.append("<p>The resolved scenarios differ in nothing but their names.</p>")
    if comparison.overrides:
        sets = ", ".join(f"<code>{_e(k)}={_e(v)}</code>" for k, v in comparison.overrides.items())
        parts.append(f"<p>Applied to every scenario: {sets}.</p>")
    return "".join(parts)


def render_html(comparison: Comparison, question: str | None = None) -> str:
    """The whole report as one HTML string, figures embedded."""
    from serviceprofit.comparison import figures as figs

    crossing = find_crossing(comparison)
    names = comparison.names
    title = " vs ".join(names)
    questions = scenario_questions(comparison)
    if question:
        asked = f"<p>{_e(question)}</p>"
    elif questions:
        asked = "".join(
            f"<p>{_e(q)} <span class='meta'>({_e(n)})</span></p>"
            for n, q in questions
            if n != comparison.baseline
        ) or "".join(f"<p>{_e(q)}</p>" for _, q in questions)
    else:
        asked = ""
    asked += f"<p>Which of {_e(', '.join(names))} is better, by how much, and how sure are we?</p>"
    first = comparison.scenarios[0]
    heading = (
        "Comparing strategies"
        if comparison.market is None
        else f"Comparing markets for {_e(comparison.market.firm)}"
    )
    meta = (
        f"{comparison.replicates} replicates per scenario · {first.weeks} weeks · "
        f"{_e(_size(comparison))} · backend "
        f"{_e(comparison.backend)} · seed {comparison.seed} · generated "
        f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')}"
    )
    figures = [
        (
            figs.figure_chain(comparison),
            "The chain over time",
            "The chain's main series, from staff to profit. Line: mean over replicates; "
            "band: range of the replicates (lowest to highest).",
        ),
        (
            figs.figure_cumulative_profit(comparison, crossing),
            "Cumulative profit",
            "Cumulative profit over time (mean and range of replicates). "
            + _crossing_sentence(crossing, comparison),
        ),
        (
            figs.figure_churn_satisfaction(comparison),
            "Churn and satisfaction",
            "Weekly churn and complaints (4-week trailing means) and mean customer satisfaction.",
        ),
        (
            figs.figure_staff(comparison),
            "Staff turnover",
            "Staff turnover annualised over a trailing 13 weeks, staff in post, and the time "
            "staff take per contact (it erodes under sustained pressure).",
        ),
    ]
    diff_png = figs.figure_differences(comparison)
    if diff_png is not None:
        figures.insert(
            0,
            (
                diff_png,
                f"Differences from {comparison.baseline}",
                f"Paired differences from {comparison.baseline} as a percentage of its mean, "
                "with 95% intervals; a filled dot marks an interval that excludes zero. NPS is "
                "left out: it crosses zero, so a percentage of it means nothing.",
            ),
        )
    figure_html = "".join(
        f"<figure><h3>{_e(heading)}</h3>{_img(png, heading)}<figcaption>{_e(caption)}"
        "</figcaption></figure>"
        for png, heading, caption in figures
    )
    reading_html = "".join(f"<p>{_e(p)}</p>" for p in reading(comparison, crossing))
    posterior_section = ""
    if comparison.draws is not None:
        from serviceprofit.calibration.uncertainty import posterior_html

        posterior_section = f"<h2>Parameter uncertainty</h2>{posterior_html(comparison)}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Comparison: {_e(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{heading}: {_e(title)}</h1>
<p class="meta">{meta}</p>
<h2>The question</h2>{asked}
<h2>The scenarios</h2>{_scenarios_section(comparison)}
<h2>What the numbers say</h2><div class="reading">{reading_html}</div>
<h2>Results</h2>{_results_table(comparison)}{posterior_section}{market_section(comparison)}
<h2>Figures</h2>{figure_html}
<h2>How to read this</h2>
<p>Every scenario was run {comparison.replicates} times. Replicate i of every scenario used the
same seed, and the model draws each random number from (run, purpose, week, agent), so
customers and staff meet the same luck wherever the scenarios do not differ (common random
numbers). A difference is therefore measured within each pair of runs, and its interval is
the Student-t {CONFIDENCE:.0%} interval of the mean paired difference: usually far narrower
than comparing independent runs would give. An interval that excludes zero means the sign of
the difference is clear at this confidence; one that includes zero means the runs cannot tell
the scenarios apart on that outcome. {_e(_noise_note(comparison))}</p>
<p class="meta">Produced by <code>serviceprofit compare</code>. The runs behind it are in
<code>runs.csv</code> and every statistic in <code>comparison.csv</code> next to this file.</p>
{reproduce_html(comparison)}</body></html>
"""


def write_comparison(
    comparison: Comparison, out_dir: str | Path, question: str | None = None
) -> dict[str, Path]:
    """Write ``comparison.csv`` (tidy), ``runs.csv`` and ``report.html`` into ``out_dir``;
    comparing markets, also ``firms.csv`` (every firm of every run), ``switching.csv`` (who
    went where per year, per run) and ``market_weekly.csv`` (every firm's share and flows
    per week)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "comparison": out / "comparison.csv",
        "runs": out / "runs.csv",
        "report": out / "report.html",
    }
    comparison.table.to_csv(paths["comparison"], index=False)
    comparison.runs.to_csv(paths["runs"], index=False)
    paths["report"].write_text(render_html(comparison, question), encoding="utf-8")
    paths["provenance"] = write_record(comparison.provenance, out / "provenance.json")
    if comparison.market is not None:
        market = comparison.market
        paths["firms"] = out / "firms.csv"
        market.firms.to_csv(paths["firms"], index=False)
        paths["switching"] = out / "switching.csv"
        market.switching.to_csv(paths["switching"], index=False)
        paths["shares"] = out / "market_weekly.csv"
        market.weekly.to_csv(paths["shares"], index=False)
    return paths


# ---------------------------------------------------------------------------
# Markets: the rivals alongside, shares over time, who went where


def _firm_rows(comparison: Comparison) -> list[tuple[str, str, dict[str, tuple[float, float]]]]:
    """(market, firm, {outcome: (mean, half-width)}) in the units people read, focal first."""
    from serviceprofit.comparison.compare import t_interval
    from serviceprofit.comparison.market import RIVAL_OUTCOMES

    market = comparison.market
    if market is None:
        return []
    out = []
    for m in market.markets:
        order = [market.firm, *[f for f in m.firms if f != market.firm]]
        rows = market.firms[market.firms.scenario == m.name]
        for firm in order:
            own = rows[rows.firm == firm]
            figures = {}
            for name in RIVAL_OUTCOMES:
                mean, _, half = t_interval(own[name].astype(float).dropna().to_numpy())
                scale = declared(name).scale
                figures[name] = (mean * scale, half * scale)
            out.append((m.name, firm, figures))
    return out


def format_market_table(comparison: Comparison) -> str:
    """Every firm of every compared market (the focal firm marked), mean ± half-width of
    its final customers and share, its customers won and lost, its profit."""
    from serviceprofit.comparison.market import RIVAL_OUTCOMES

    if comparison.market is None:
        return ""
    money = currency(comparison)
    header = ["market", "firm", *(f"{o} [{outcome_unit(o, money)}]" for o in RIVAL_OUTCOMES)]
    body = []
    for market, firm, figures in _firm_rows(comparison):
        mark = " (focal)" if firm == comparison.market.firm else ""
        line = [market, firm + mark]
        for name in RIVAL_OUTCOMES:
            mean, half = figures[name]
            d = 1 if outcome_unit(name, money) == "%" else 0
            line.append(f"{_number(mean, d)} ± {_number(half, d)}")
        body.append(line)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1])]
                  + [c.rjust(w) for c, w in zip(r[2:], widths[2:], strict=True)])
        for r in [header, *body]
    ]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(
        f"every firm of every market, mean ± half-width of the {CONFIDENCE:.0%} t-interval over "
        f"{comparison.replicates} replicates; the table above compares "
        f"{comparison.market.firm} between markets"
    )
    return "\n".join(lines)


def _flows_html(comparison: Comparison, name: str) -> str:
    """Who went where in market ``name``, per year: mean people over the replicates."""
    market = comparison.market
    if market is None:
        return ""
    table = market.flows(name)
    if table.empty:
        return "<p>No one changed firm or left the category.</p>"
    head = "<th>year</th><th>from</th>" + "".join(f"<th>to {_e(c)}</th>" for c in table.columns)
    body = "".join(
        f"<tr><td>{year}</td><td>{_e(origin)}</td>"
        + "".join(f"<td>{_number(float(v), 0)}</td>" for v in row)
        + "</tr>"
        for (year, origin), row in zip(table.index, table.to_numpy(), strict=True)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def market_section(comparison: Comparison) -> str:
    """The report's market section: the rivals alongside, every firm's share over time,
    where the focal firm's customers came from and went, and who went where per year."""
    from serviceprofit.comparison import figures as figs
    from serviceprofit.comparison.market import RIVAL_OUTCOMES

    market = comparison.market
    if market is None:
        return ""
    money = currency(comparison)
    head = "<th>market</th><th>firm</th>" + "".join(
        f"<th>{_e(declared(o).label)} ({_e(outcome_unit(o, money))})</th>" for o in RIVAL_OUTCOMES
    )
    body = []
    for name, firm, figures in _firm_rows(comparison):
        focal = firm == market.firm
        cells = "".join(
            f"<td>{_number(figures[o][0], 1 if outcome_unit(o, money) == '%' else 0)} ± "
            f"{_number(figures[o][1], 1 if outcome_unit(o, money) == '%' else 0)}</td>"
            for o in RIVAL_OUTCOMES
        )
        label = f"<b>{_e(firm)}</b> (focal)" if focal else _e(firm)
        body.append(f"<tr><td>{_e(name)}</td><td>{label}</td>{cells}</tr>")
    flows = "".join(
        f"<h3>Who went where in {_e(name)}</h3>{_flows_html(comparison, name)}"
        for name in comparison.names
    )
    shares = _img(figs.figure_market_shares(comparison), "market shares over time")
    moves = _img(figs.figure_market_flows(comparison), "customers won and lost per year")
    return f"""
<h2>The market: {_e(market.firm)} and its rivals</h2>
<p>The results above compare {_e(market.firm)} between the markets. Here are its rivals
alongside: every firm's figures in every market (mean ± half-width of the
{CONFIDENCE:.0%} interval over {comparison.replicates} replicates). A customer a firm wins
from a rival is one that rival lost; a customer who leaves the category goes to no firm.</p>
<table id="rivals"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>
<figure><h3>Market shares over time</h3>{shares}<figcaption>Each firm's share of all the
firms' customers, week by week, one panel per market ({_e(market.firm)} drawn thicker).
Line: mean over replicates; band: range of the replicates.</figcaption></figure>
<figure><h3>Where {_e(market.firm)}'s customers came from and went</h3>{moves}
<figcaption>Customers won (above zero: from the prospects, from rivals) and lost (below:
to rivals, out of the category) per year, mean over replicates.</figcaption></figure>
{flows}
<p class="meta">Who went where: people per year, mean over replicates, from a firm (or the
prospects, people in the category who were no firm's customers) to a firm (or out of the
category). The runs' flows are in <code>switching.csv</code>, every firm's summary in
<code>firms.csv</code> and every firm's weekly share in <code>market_weekly.csv</code>.</p>
"""
