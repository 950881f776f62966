"""Every outcome a run reports, declared once: its name, label, unit and which way is better.

Two registries, read by the tables, the comparison report and its figures, sweeps and
experiments (the outcomes they allow), analysis, claims, the CLI and the demo:

- :data:`SUMMARY`: the run summary (:func:`serviceprofit.model.result.summarise`), one value
  per run, in the order a summary lists them. The first four (``scenario``, ``backend``,
  ``seed``, ``weeks``) say which run it was; the others are outcomes (:data:`OUTCOMES`).
- :data:`WEEKLY`: the weekly metrics (``firm.METRICS``), one row per week, each with how
  it aggregates over weeks (``sum`` for flows, ``mean`` for rates and levels, ``last``
  for stocks).

``direction`` follows the EMA Workbench's outcome kinds: ``MAXIMIZE`` (higher is better
for the firm), ``MINIMIZE`` (lower is better), ``INFO`` (neither on its own: total cost
buys revenue; who complains is a description, not a goal). ``unit`` is how people read
the value after multiplying by ``scale`` (satisfaction 0-1 reads 0-100, shares read as
percent); ``{currency}`` in a unit stands for the scenario's ``economics.currency``.
``group`` ranks what the comparison's reading leads with: 0 profit (the question's bottom
line), 1 the customer base and how it feels, 2 the chain's other links, 3 descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "INFO",
    "MARKET",
    "MARKET_OUTCOMES",
    "MAXIMIZE",
    "MINIMIZE",
    "OUTCOMES",
    "RUN_FIELDS",
    "SUMMARY",
    "SUMMARY_FIELDS",
    "WEEKLY",
    "WEEKLY_METRICS",
    "Outcome",
    "outcome",
]

MAXIMIZE, MINIMIZE, INFO = 1, -1, 0

Aggregate = Literal["sum", "mean", "last", "none"]


@dataclass(frozen=True)
class Outcome:
    """One reported quantity and how it is read (see the module docstring)."""

    name: str
    label: str
    unit: str = ""
    scale: float = 1.0
    direction: int = INFO
    group: int = 3
    aggregate: Aggregate = "none"

    def unit_in(self, currency: str) -> str:
        """The unit with the scenario's currency in place of ``{currency}``."""
        return self.unit.replace("{currency}", currency)


def _registry(*items: Outcome) -> dict[str, Outcome]:
    names = [o.name for o in items]
    if len(set(names)) != len(names):
        raise ValueError(f"an outcome is declared twice in {names}")
    return {o.name: o for o in items}


_M = "{currency}"

SUMMARY: dict[str, Outcome] = _registry(
    Outcome("scenario", "scenario"),
    Outcome("backend", "backend"),
    Outcome("seed", "seed"),
    Outcome("weeks", "weeks", "weeks"),
    Outcome("customers_final", "customers at the end", "customers", 1.0, MAXIMIZE, 1),
    Outcome("churn_rate_annual", "annual churn rate", "%", 100.0, MINIMIZE, 1),
    Outcome(
        "customer_satisfaction_final", "customer satisfaction at the end", "0-100", 100.0,
        MAXIMIZE, 1,
    ),
    Outcome("nps_final", "NPS at the end", "-100 to 100", 1.0, MAXIMIZE, 3),
    Outcome("fcr_mean", "first-contact resolution", "%", 100.0, MAXIMIZE, 2),
    Outcome("staff_turnover_annual", "annual staff turnover", "%", 100.0, MINIMIZE, 2),
    Outcome(
        "staff_satisfaction_final", "staff satisfaction at the end", "0-100", 100.0,
        MAXIMIZE, 2,
    ),
    Outcome("revenue_total", "total revenue", _M, 1.0, MAXIMIZE, 2),
    Outcome("cost_total", "total cost", _M, 1.0, INFO, 3),
    Outcome("profit_total", "total profit", _M, 1.0, MAXIMIZE, 0),
    Outcome("profit_first_13_weeks", "profit over the first 13 weeks", _M, 1.0, MAXIMIZE, 2),
    Outcome(
        "cost_to_serve_mean", "cost to serve per contact", f"{_M} per contact", 1.0,
        MINIMIZE, 2,
    ),
    Outcome(
        "complaint_share_of_churners", "share of churners who complained", "%", 100.0, INFO, 3
    ),
    Outcome("customer_lifetime_value", "customer lifetime value", _M, 1.0, MAXIMIZE, 2),
)  # fmt: skip

#: Summary fields that say which run it was rather than what happened in it.
RUN_FIELDS: tuple[str, ...] = ("scenario", "backend", "seed", "weeks")
#: Every summary field, in the order a run's summary lists them.
SUMMARY_FIELDS: tuple[str, ...] = tuple(SUMMARY)
#: The summary fields that are outcomes (numbers that differ between runs).
OUTCOMES: tuple[str, ...] = tuple(f for f in SUMMARY if f not in RUN_FIELDS)

#: What a firm's summary adds in a market
#: (:func:`serviceprofit.backends.market_run.add_market_columns`): read by a market
#: comparison's table and a market sweep's rows.
MARKET: dict[str, Outcome] = _registry(
    Outcome("market_share_final", "market share at the end", "%", 100.0, MAXIMIZE, 1),
    Outcome("won_from_rivals_total", "customers won from rivals", "customers", 1.0, MAXIMIZE, 1),
    Outcome("lost_to_rivals_total", "customers lost to rivals", "customers", 1.0, MINIMIZE, 1),
    Outcome(
        "lost_to_outside_total", "customers who left the category", "customers", 1.0, MINIMIZE, 1
    ),
)
MARKET_OUTCOMES: tuple[str, ...] = tuple(MARKET)

WEEKLY: dict[str, Outcome] = _registry(
    Outcome("week", "week", "week", aggregate="last"),
    Outcome("customers_active", "active customers", "customers", 1.0, MAXIMIZE, 1, "last"),
    Outcome("customers_acquired", "new customers", "customers", 1.0, MAXIMIZE, 1, "sum"),
    Outcome("customers_churned", "customers lost", "customers", 1.0, MINIMIZE, 1, "sum"),
    Outcome("churn_rate", "weekly churn rate", "%", 100.0, MINIMIZE, 1, "mean"),
    Outcome("customer_satisfaction", "customer satisfaction", "0-100", 100.0, MAXIMIZE, 1, "mean"),
    Outcome("nps", "NPS", "promoters - detractors, %", 1.0, MAXIMIZE, 3, "mean"),
    Outcome("contacts", "contacts", "contacts", 1.0, INFO, 3, "sum"),
    Outcome("fcr", "first-contact resolution", "% of first contacts", 100.0, MAXIMIZE, 2, "mean"),
    Outcome("handoffs_per_contact", "handoffs per contact", "handoffs", 1.0, MINIMIZE, 2, "mean"),
    Outcome("backlog", "backlog", "contacts", 1.0, MINIMIZE, 2, "last"),
    Outcome("complaints", "complaints", "complaints", 1.0, MINIMIZE, 2, "sum"),
    Outcome("staff_active", "active staff", "staff", 1.0, INFO, 3, "mean"),
    Outcome("staff_satisfaction", "staff satisfaction", "0-100", 100.0, MAXIMIZE, 2, "mean"),
    Outcome("staff_quits", "staff who quit", "staff", 1.0, MINIMIZE, 2, "sum"),
    Outcome("time_per_contact", "time per contact", "hours", 1.0, INFO, 3, "mean"),
    Outcome("revenue", "revenue per week", f"{_M} per week", 1.0, MAXIMIZE, 2, "sum"),
    Outcome("cost_wages", "wages", f"{_M} per week", 1.0, INFO, 3, "sum"),
    Outcome("cost_training", "training", f"{_M} per week", 1.0, INFO, 3, "sum"),
    Outcome("cost_technology", "technology", f"{_M} per week", 1.0, INFO, 3, "sum"),
    Outcome("cost_marketing", "marketing", f"{_M} per week", 1.0, INFO, 3, "sum"),
    Outcome("cost_turnover", "cost of staff turnover", f"{_M} per week", 1.0, MINIMIZE, 2, "sum"),
    Outcome("cost_contacts", "cost of contacts", f"{_M} per week", 1.0, INFO, 3, "sum"),
    Outcome("cost_total", "costs per week", f"{_M} per week", 1.0, INFO, 3, "sum"),
    Outcome("cost_to_serve", "cost to serve", f"{_M} per contact", 1.0, MINIMIZE, 2, "mean"),
    Outcome("profit", "profit per week", f"{_M} per week", 1.0, MAXIMIZE, 0, "sum"),
    Outcome("cumulative_profit", "profit so far", _M, 1.0, MAXIMIZE, 0, "last"),
    Outcome("cash", "cash", _M, 1.0, MAXIMIZE, 2, "last"),
)  # fmt: skip
#: The weekly metrics, in the column order of a run's time series.
WEEKLY_METRICS: tuple[str, ...] = tuple(WEEKLY)


def outcome(name: str) -> Outcome:
    """The declaration of a summary field, a market figure or a weekly metric (in that order)."""
    found = SUMMARY.get(name) or MARKET.get(name) or WEEKLY.get(name)
    if found is None:
        raise KeyError(f"unknown outcome {name!r}")
    return found
