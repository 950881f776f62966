"""The service-profit chain as a diagram whose boxes show each firm's current values.

Heskett, Jones, Loveman, Sasser and Schlesinger (HBR 1994) drew the chain as links from
internal service quality to staff, service value, customer satisfaction, loyalty and
profit. The page draws the same links with this week's numbers for both firms, so a
class can follow a change along the chain. The diagram is plain SVG: no chart library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from serviceprofit.demo.charts import FIRM_COLOURS, History, measure_series

__all__ = ["LINKS", "Link", "chain_svg", "chain_values"]


def _last(measure: str, scale: float = 1.0) -> Callable[[History], float]:
    def value(history: History) -> float:
        return scale * measure_series(history, measure)[-1]

    return value


def _training(history: History) -> float:
    row = history[-1]
    return row["cost_training"] / row["staff_active"] if row["staff_active"] else 0.0


@dataclass(frozen=True)
class Link:
    """A box of the chain: its name, what is measured, and the value from a history."""

    title: str
    measure: str
    value: Callable[[History], float]
    fmt: str


LINKS: tuple[Link, ...] = (
    Link("Internal quality", "training a head, a week", _training, "{:,.0f}"),
    Link("Staff", "satisfaction, 0-100", _last("staff_satisfaction"), "{:.0f}"),
    Link("Service", "fixed at first contact", _last("fcr"), "{:.0f}%"),
    Link("Customers", "satisfaction, 0-100", _last("customer_satisfaction"), "{:.0f}"),
    Link("Loyalty", "customers leaving a year", _last("churn"), "{:.0f}%"),
    Link("Profit", "profit so far", _last("cumulative_profit"), "{:,.0f}"),
)


def chain_values(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> list[list[str]]:
    """Formatted values, one row per link, one column per firm; a dash before week 1."""
    return [
        [link.fmt.format(link.value(h)) if h else "–" for h in histories.values()] for link in LINKS
    ]


def chain_svg(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> str:
    """The chain as an SVG document that scales to the width of the page."""
    box_w, box_h, gap, pad = 150, 118, 34, 6
    firms = list(histories)
    values = chain_values(histories)
    width = len(LINKS) * box_w + (len(LINKS) - 1) * gap + 2 * pad
    height = box_h + 2 * pad
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="The service-profit chain" '
        f'style="max-width:{width}px;font-family:sans-serif">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#666"/></marker>'
        "</defs>",
    ]
    for i, (link, row) in enumerate(zip(LINKS, values, strict=True)):
        x = pad + i * (box_w + gap)
        parts.append(
            f'<rect x="{x}" y="{pad}" width="{box_w}" height="{box_h}" rx="10" '
            'fill="#f7f7f7" stroke="#999"/>'
        )
        centre = x + box_w / 2
        parts.append(_text(centre, pad + 22, link.title, size=15, weight="bold"))
        parts.append(_text(centre, pad + 40, link.measure, size=11, colour="#555"))
        for j, (firm, value) in enumerate(zip(firms, row, strict=True)):
            colour = FIRM_COLOURS[j % len(FIRM_COLOURS)]
            parts.append(
                _text(centre, pad + 66 + 24 * j, f"{firm}: {value}", size=16, colour=colour)
            )
        if i + 1 < len(LINKS):
            y = pad + box_h / 2
            parts.append(
                f'<line x1="{x + box_w + 2}" y1="{y}" x2="{x + box_w + gap - 2}" y2="{y}" '
                'stroke="#666" stroke-width="2" marker-end="url(#arrow)"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _text(
    x: float, y: float, text: str, size: int, colour: str = "#222", weight: str = "normal"
) -> str:
    return (
        f'<text x="{x}" y="{y}" text-anchor="middle" font-size="{size}" '
        f'font-weight="{weight}" fill="{colour}">{escape(text)}</text>'
    )
