"""The state of the array model: customers and staff as structures of arrays.

One array per attribute, in the narrowest dtype that holds it, so that a week's pass over
ten million customers streams as few bytes as possible through memory (28 bytes a
customer). Customer yes/no attributes share one byte of bit flags. Satisfaction,
expectation and lifetime revenue are float32: the rules compute in float64 and the result
is rounded once per week on store, far below the model's noise (a draw lands within 1e-7
of a threshold about once per ten million decisions).

Customers are stored in uid order (uid = creation order, as in the Mesa backend). Churned
customers keep their slot, marked inactive, until :func:`compact` squeezes them out, which
keeps the loops short and makes room for newcomers without reallocating. Staff are few
(at most 100,000), so their arrays are float64 and rebuilt each week as people leave and
join, always in uid order.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "ACTIVE",
    "COMPLAINED",
    "EVER_COMPLAINED",
    "FRESH",
    "HOPPED",
    "MOMENT_OF_TRUTH",
    "OPEN",
    "Customers",
    "Staff",
    "allocate_customers",
    "bytes_per_customer",
    "grow_customers",
    "staff_from_columns",
]

# Bits of Customers.flags.
OPEN = 1  # an issue is open
FRESH = 2  # the open issue has not yet had its first contact with staff
COMPLAINED = 4  # the customer has complained about the open issue (one complaint per issue)
HOPPED = 8  # the customer changed channel after an unresolved contact
MOMENT_OF_TRUTH = 16  # the open issue is a moment of truth
EVER_COMPLAINED = 32
ACTIVE = 64  # not churned


class Customers(NamedTuple):
    """Customer attributes, one array each, slot ``i`` of every array is one customer."""

    uid: np.ndarray  # uint32: creation order, keys the customer's draws
    flags: np.ndarray  # uint8: bits above
    segment: np.ndarray  # uint8
    channel: np.ndarray  # uint8
    department: np.ndarray  # uint8: department the open issue is routed to
    new_handoffs: np.ndarray  # uint8: handoffs of this week's routing (0..2)
    issue_age: np.ndarray  # uint8: weeks the open issue has waited (<= 53)
    handoffs: np.ndarray  # uint8: handoffs of the open issue so far (<= 2 a week)
    outcome: np.ndarray  # uint8: outcome of the last closed issue
    tenure: np.ndarray  # uint16: weeks (initial tenure < 260, plus at most 5,200 weeks)
    outcome_week: np.ndarray  # uint16: week the last issue closed
    satisfaction: np.ndarray  # float32
    expectation: np.ndarray  # float32: fixed when the customer arrives
    lifetime_revenue: np.ndarray  # float32


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


def bytes_per_customer() -> int:
    """Bytes of state one customer slot holds."""
    return sum(np.dtype(t).itemsize for t in CUSTOMER_DTYPES.values())


def allocate_customers(capacity: int) -> Customers:
    """Empty customer arrays with room for ``capacity`` customers (all inactive)."""
    return Customers(**{name: np.zeros(capacity, dtype) for name, dtype in CUSTOMER_DTYPES.items()})


def grow_customers(customers: Customers, stored: int, capacity: int) -> Customers:
    """New arrays of ``capacity`` slots holding the first ``stored`` customers."""
    grown = allocate_customers(capacity)
    for old, new in zip(customers, grown, strict=True):
        new[:stored] = old[:stored]
    return grown


class Staff(NamedTuple):
    """Staff attributes, one float64 or int array each, in uid order."""

    uid: np.ndarray  # int64
    department: np.ndarray  # int64
    skill: np.ndarray
    satisfaction: np.ndarray
    standard: np.ndarray  # time per contact taken as normal (hours)
    time_taken: np.ndarray  # time per contact actually taken this week
    tenure: np.ndarray
    mirror: np.ndarray  # mean satisfaction of the customers served last time any were


STAFF_DTYPES: dict[str, type] = {
    "uid": np.int64,
    "department": np.int64,
    "skill": np.float64,
    "satisfaction": np.float64,
    "standard": np.float64,
    "time_taken": np.float64,
    "tenure": np.float64,
    "mirror": np.float64,
}


def staff_from_columns(**columns: np.ndarray) -> Staff:
    """Staff arrays from columns (converted to the staff dtypes, contiguous)."""
    return Staff(
        **{
            name: np.ascontiguousarray(columns[name], dtype=dtype)
            for name, dtype in STAFF_DTYPES.items()
        }
    )
