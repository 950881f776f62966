"""The state of the array model: customers and staff as structures of arrays.

One array per attribute, in the narrowest dtype that holds it, so that a week's pass over
ten million customers streams as few bytes as possible through memory (28 bytes a
customer). Customer yes/no attributes share one byte of bit flags (``week.OPEN`` ...).
Satisfaction, expectation and lifetime revenue are float32 by default: the rules compute
in float64 and the result is rounded once per week on store, far below the model's noise.
With ``precision="float64"`` they are float64 (40 bytes a customer), and a run is then
bit for bit the Mesa model's.

Customers are stored in uid order (uid = creation order, as in the Mesa backend). Churned
customers keep their slot, marked inactive, until :func:`kernel.compact` squeezes them
out. Staff are few (at most 100,000), float64, kept in uid order in arrays with room to
grow (``n`` of them in use).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "CUSTOMER_DTYPES",
    "PRECISIONS",
    "Customers",
    "Staff",
    "allocate_customers",
    "allocate_staff",
    "bytes_per_customer",
]

PRECISIONS = ("float32", "float64")


class Customers(NamedTuple):
    """Customer attributes, one array each, slot ``i`` of every array is one customer."""

    uid: np.ndarray  # uint32: creation order, keys the customer's draws
    flags: np.ndarray  # uint8: bits of week.py
    segment: np.ndarray  # uint8
    channel: np.ndarray  # uint8
    department: np.ndarray  # uint8: department the open issue is routed to
    new_handoffs: np.ndarray  # uint8: handoffs of this week's routing (0..2)
    issue_age: np.ndarray  # uint8: weeks the open issue has waited (<= 53)
    handoffs: np.ndarray  # uint8: handoffs of the open issue so far (<= 2 a week)
    outcome: np.ndarray  # uint8: outcome of the last closed issue
    tenure: np.ndarray  # uint16: weeks (initial tenure < 260, plus at most 5,200 weeks)
    outcome_week: np.ndarray  # uint16: week the last issue closed
    satisfaction: np.ndarray  # float32 (float64 with precision="float64")
    expectation: np.ndarray  # float32 (float64): fixed when the customer arrives
    lifetime_revenue: np.ndarray  # float32 (float64)


CUSTOMER_DTYPES: dict[str, type] = {
    "uid": np.uint32,
    "flags": np.uint8,
    "segment": np.uint8,
    "channel": np.uint8,
    "department": np.uint8,
    "new_handoffs": np.uint8,
    "issue_age": np.uint8,
    "handoffs": np.uint8,
    "outcome": np.uint8,
    "tenure": np.uint16,
    "outcome_week": np.uint16,
    "satisfaction": np.float32,
    "expectation": np.float32,
    "lifetime_revenue": np.float32,
}


def bytes_per_customer(precision: str = "float32") -> int:
    """Bytes of state one customer slot holds."""
    wide = precision == "float64"
    return sum(
        8 if wide and t is np.float32 else np.dtype(t).itemsize for t in CUSTOMER_DTYPES.values()
    )


def allocate_customers(capacity: int, precision: str = "float32") -> Customers:
    """Empty customer arrays with room for ``capacity`` customers (all inactive)."""
    wide = precision == "float64"
    return Customers(
        **{
            name: np.zeros(capacity, np.float64 if wide and dtype is np.float32 else dtype)
            for name, dtype in CUSTOMER_DTYPES.items()
        }
    )


class Staff(NamedTuple):
    """Staff attributes, one array each, in uid order; the first ``n`` slots are in use."""

    uid: np.ndarray  # int64
    department: np.ndarray  # int64
    skill: np.ndarray
    satisfaction: np.ndarray
    standard: np.ndarray  # time per contact taken as normal (hours)
    time_taken: np.ndarray  # time per contact actually taken this week
    tenure: np.ndarray
    mirror: np.ndarray  # mean satisfaction of the customers served last time any were
    served_fixed: np.ndarray  # int64: satisfaction of customers served this week, fixed point
    served_n: np.ndarray  # int64: customers served this week


def allocate_staff(capacity: int) -> Staff:
    """Empty staff arrays with room for ``capacity`` staff."""
    ints = ("uid", "department", "served_fixed", "served_n")
    return Staff(
        **{
            name: np.zeros(capacity, np.int64 if name in ints else np.float64)
            for name in Staff._fields
        }
    )
