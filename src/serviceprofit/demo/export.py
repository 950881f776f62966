"""What a class takes home from the page: the charts as an image, both firms' weeks as a
table, and where both came from.

The table has one row per firm and week with every column of the model's weekly row,
the same columns as ``serviceprofit run --out``'s ``timeseries.csv``, and a ``firm``
column. Its header (lines starting with ``#``, YAML once the ``# `` is stripped) is the
provenance: the package version, the seed, the backend, and each firm's scenario as it
stands, with the levers changed in class written in as the scenario events they are.
Saved as a scenario file, a firm's scenario runs again with ``serviceprofit run`` and,
with the same seed, gives the same weeks.

The image is drawn on the server with matplotlib (already a dependency) from the same
series, titles, colours and axis ranges as the page's charts (:mod:`.charts`), so it
needs no browser and no further package.
"""

from __future__ import annotations

import csv
import io
import platform
from importlib import metadata
from typing import Any

import yaml

from serviceprofit import __version__
from serviceprofit.demo.charts import (
    CHARTS,
    FIRM_COLOURS,
    MEASURES,
    measure_series,
    x_domain,
    y_domain,
)
from serviceprofit.demo.classroom import CHANGE_LABEL, Classroom
from serviceprofit.provenance import dependency_versions, git_state, now

__all__ = ["FORMATS", "charts_image", "provenance", "read_provenance", "weekly_csv"]

BACKEND = "mesa"  # the page runs each firm with the Mesa model, week by week
PAGE_DEPENDENCIES = ("solara", "matplotlib")  # beyond the model's (provenance.DEPENDENCIES)
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}


def provenance(room: Classroom) -> dict[str, Any]:
    """Where the page's numbers come from, enough to run each firm again."""
    with room.lock:
        firms = [
            {
                "label": firm.label,
                "changes_made_in_class": len(firm.changes),
                "scenario": firm.scenario().to_dict(),
            }
            for firm in room.firms
        ]
        week, weeks, seed = room.week, room.weeks, room.seed
    return {
        "made_with": f"serviceprofit {__version__}, classroom demo",
        "git": git_state(),  # the host is left out: the file goes to the page's clients
        "exported": now(),
        "python": platform.python_version(),
        "dependencies": {
            **dependency_versions(),
            **{name: _version(name) for name in PAGE_DEPENDENCIES},
        },
        "backend": BACKEND,
        "seed": seed,
        "week": week,
        "weeks": weeks,
        "rerun": (
            f"save a firm's scenario as a YAML file, then: serviceprofit run FILE "
            f"--seed {seed} --backend {BACKEND}; events labelled '{CHANGE_LABEL}' are "
            "the levers changed on the page"
        ),
        "firms": firms,
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def weekly_csv(room: Classroom) -> str:
    """Both firms' weeks so far: a provenance header, then one row per firm and week."""
    with room.lock:
        header = provenance(room)
        histories = room.histories()
    columns = next((list(h[0]) for h in histories.values() if h), ["week"])
    out = io.StringIO()
    for line in yaml.safe_dump(header, sort_keys=False, allow_unicode=True).splitlines():
        out.write(f"# {line}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["firm", *columns])
    for firm, history in histories.items():
        for row in history:
            writer.writerow([firm, *(_plain(row[c]) for c in columns)])
    return out.getvalue()


def _plain(value: Any) -> Any:
    """Numbers as Python writes them (numpy scalars included), whole numbers as ints."""
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def read_provenance(text: str) -> dict[str, Any]:
    """The provenance header of a table from :func:`weekly_csv`."""
    lines = [line[2:] for line in text.splitlines() if line.startswith("# ")]
    return yaml.safe_load("\n".join(lines))


def charts_image(room: Classroom, fmt: str = "png") -> bytes:
    """The page's five charts, both firms on each, as a PNG or SVG image."""
    if fmt not in FORMATS:
        raise ValueError(f"image format {fmt!r}: choose one of {', '.join(FORMATS)}")
    from matplotlib.figure import Figure  # no pyplot: safe in the server's threads

    with room.lock:
        histories = room.histories()
        week, weeks, seed = room.week, room.weeks, room.seed
        names = [f"{firm.label}: {_scenario_name(firm)}" for firm in room.firms]
    firms = list(histories)
    colours = {f: FIRM_COLOURS[i % len(FIRM_COLOURS)] for i, f in enumerate(firms)}
    columns = max(len(chart.measures) for chart in CHARTS)
    figure = Figure(figsize=(5.0 * columns, 2.9 * len(CHARTS) + 1.2), layout="constrained")
    figure.suptitle(
        f"The service-profit chain, week {week} of {weeks} (seed {seed})\n" + ";  ".join(names),
        fontsize=13,
    )
    rows = figure.subfigures(len(CHARTS), 1)
    for chart, row in zip(CHARTS, rows, strict=True):
        row.suptitle(chart.title, x=0.01, ha="left", fontweight="bold")
        axes = row.subplots(1, len(chart.measures), squeeze=False)[0]
        for name, ax in zip(chart.measures, axes, strict=True):
            measure = MEASURES[name]
            lines = {f: measure_series(histories[f], name) for f in firms}
            for firm, values in lines.items():
                ax.plot(range(1, len(values) + 1), values, color=colours[firm], lw=1.8, label=firm)
            drawn = [len(v) for v in lines.values()]
            ax.set_xlim(*x_domain(weeks, drawn))
            ax.set_ylim(*y_domain(measure, [v for vs in lines.values() for v in vs]))
            ax.set_title(measure.title, fontsize=10)
            ax.set_xlabel("week", fontsize=9)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
    handles = [
        _line(colours[f], f)
        for f in firms  # the legend holds even before week 1, when no line is drawn
    ]
    figure.legend(handles=handles, loc="outside lower center", ncols=len(firms), frameon=False)
    description = (
        f"serviceprofit {__version__} classroom demo, backend {BACKEND}, seed {seed}, "
        f"week {week} of {weeks}; " + "; ".join(names)
    )
    title = "The service-profit chain: classroom demo"
    meta = {"Title": title, "Description": description}
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=100, metadata=meta)
    return buffer.getvalue()


def _scenario_name(firm: Any) -> str:
    changes = len(firm.changes)
    suffix = f" + {changes} change{'s' * (changes != 1)} made in class" if changes else ""
    return f"{firm.base.name}{suffix}"


def _line(colour: str, label: str) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([], [], color=colour, lw=2, label=label)
