"""The page's two firms as rivals in one market: one pool of people, shared between them.

Side by side, the two firms each have their own customers, and a churner simply leaves.
Made rivals (the page's switch), they share one market (:mod:`serviceprofit.model.market`):
the customers of both at week 0, split by each firm's starting customers; a pool of
prospects; the choice model and network at their documented defaults (docs/ODD.md).
A churner may now go to the rival, a prospect chooses between them, and one firm's
critics are heard by the other's customers. Each firm is its scenario with the changes
made in class (as events from their week), so the market is what ``serviceprofit run``
gives for the market file :func:`rivals_market` describes.

The market is run over the whole horizon at once (:func:`serviceprofit.simulate_market`,
numba), from the page's seed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from serviceprofit.model.market import Market, load_market

if TYPE_CHECKING:
    from serviceprofit.backends.market_run import MarketResult
    from serviceprofit.demo.classroom import Classroom

__all__ = [
    "ARRIVALS_PER_CUSTOMER",
    "PROSPECTS_PER_CUSTOMER",
    "firm_key",
    "rivals_market",
    "run_rivals",
    "switching_rows",
]

#: Prospects at week 0 per customer, and new prospects a week per customer: the shipped
#: two-firm market's proportions (2,000 and 10 for 10,000 customers), an assumption.
PROSPECTS_PER_CUSTOMER = 0.2
ARRIVALS_PER_CUSTOMER = 0.001


def firm_key(label: str) -> str:
    """A firm's page label as a market's firm name (one part of a dotted key)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", label).strip("_")[:40] or "firm"


def rivals_market(room: Classroom) -> Market:
    """The room's firms, as they stand (changes made in class included), as one market.

    Raises :class:`~serviceprofit.model.scenario.ScenarioError` when the firms cannot share
    one market (they describe different customer segments).
    """
    firms: dict[str, Any] = {}
    customers: dict[str, int] = {}
    for firm in room.firms:
        name = firm_key(firm.label)
        data = firm.scenario().to_dict()
        customers[name] = data["population"].pop("customers")
        data.pop("weeks")
        firms[name] = data
    total = sum(customers.values())
    data = {
        "name": "classroom_rivals",
        "description": "The page's firms as rivals in one market.",
        "weeks": room.weeks,
        "firms": firms,
        "market": {
            "customers": total,
            "shares": {name: count / total for name, count in customers.items()},
            "prospects": {
                "initial": round(PROSPECTS_PER_CUSTOMER * total),
                "arrivals_per_week": ARRIVALS_PER_CUSTOMER * total,
            },
        },
    }
    return load_market(data)


def run_rivals(room: Classroom, backend: str = "numba") -> MarketResult:
    """The room's firms as rivals, over the whole horizon, from the room's seed."""
    from serviceprofit.backends.simulate import simulate_market

    with room.lock:
        market, seed = rivals_market(room), room.seed
    return simulate_market(market, backend=backend, seed=seed)


def switching_rows(result: MarketResult, labels: dict[str, str]) -> pd.DataFrame:
    """Who went where, per year, with the page's firm labels: ``year, from, to, people``
    (from the prospects or a firm, to a firm or out of the category)."""
    from serviceprofit.backends.market_run import switching_table

    table = switching_table(list(result.firms), result.flows)
    names = {"prospect": "prospects", "outside": "left the category", **labels}
    table["from"] = table["from"].map(lambda n: names.get(n, n))
    table["to"] = table["to"].map(lambda n: names.get(n, n))
    return table
