"""The state of the array model: customers as one array of records, staff as arrays.

A customer is one record of :func:`customer_dtype` (28 bytes, packed), its attributes
fields in the narrowest type that holds them; the customers are an array of such
records. Compiled code reads and writes ``c[slot].field``: every field of a customer is
then one base address plus a constant, where an array per attribute (the earlier
layout) kept fourteen base addresses live through the week's passes, more than the
processor has registers, and reloaded them from the stack per customer: a 2,000-customer
run is 8% faster so, a million-customer run 5% (docs/performance.md).
Customer yes/no attributes share one byte of bit flags (``week.OPEN`` ...).
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
from numba.extending import register_jitable

__all__ = [
    "CUSTOMER_FIELDS",
    "PRECISIONS",
    "Staff",
    "allocate_customers",
    "bytes_per_customer",
    "customer_dtype",
    "customer_room",
    "staff_room",
]

PRECISIONS = ("float32", "float64")

# A customer's fields, in record order, with their types (np.float32: the precision's).
CUSTOMER_FIELDS: dict[str, type] = {
    "uid": np.uint32,  # creation order, keys the customer's draws
    "flags": np.uint8,  # bits of week.py
    "segment": np.uint8,
    "channel": np.uint8,
    "department": np.uint8,  # department the open issue is routed to
    "new_handoffs": np.uint8,  # handoffs of this week's routing (0..2)
    "issue_age": np.uint8,  # weeks the open issue has waited (<= 53)
    "handoffs": np.uint8,  # handoffs of the open issue so far (<= 2 a week)
    "outcome": np.uint8,  # outcome of the last closed issue
    "tenure": np.uint16,  # weeks (initial tenure < 260, plus at most 5,200 weeks)
    "outcome_week": np.uint16,  # week the last issue closed
    "satisfaction": np.float32,  # float64 with precision="float64"
    "expectation": np.float32,  # fixed when the customer arrives
    "lifetime_revenue": np.float32,
}


def customer_dtype(precision: str = "float32") -> np.dtype:
    """The record of one customer: :data:`CUSTOMER_FIELDS` packed, the float fields in
    ``precision`` (each field is still at an offset its size divides)."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}")
    wide = precision == "float64"
    return np.dtype(
        [
            (name, np.float64 if wide and t is np.float32 else t)
            for name, t in CUSTOMER_FIELDS.items()
        ],
        align=False,
    )


def bytes_per_customer(precision: str = "float32") -> int:
    """Bytes of state one customer slot holds."""
    return customer_dtype(precision).itemsize


@register_jitable
def customer_room(initial: int) -> int:
    """Customer slots a run starts with: its ``initial`` customers and a sixteenth more
    (at least 1,024) for newcomers before the first compaction or growth. (A function of
    Python and compiled code alike: a run alone and a run of an ensemble start alike.)"""
    return initial + max(1024, initial // 16)


@register_jitable
def staff_room(initial: int) -> int:
    """Staff slots a run starts with: its ``initial`` staff and room for 16 hires."""
    return initial + 16


def allocate_customers(capacity: int, precision: str = "float32") -> np.ndarray:
    """Empty customer records with room for ``capacity`` customers (all inactive)."""
    return np.zeros(capacity, customer_dtype(precision))


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
