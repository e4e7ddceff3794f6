"""Exact money: the ledger and stores count integer nano-dollars; floats only at the edge."""

from __future__ import annotations

import math
from numbers import Real

NANOS_PER_USD = 1_000_000_000


def to_nanos(usd: float, *, field: str = "cost") -> int:
    """Convert a USD amount to integer nano-dollars, rejecting what is not a finite number.

    Example:
        >>> to_nanos(0.0015)
        1500000
    """
    kind = type(usd)
    if kind is float:
        if usd - usd == 0.0:  # finite: inf - inf and nan - nan are nan
            return round(float(usd) * NANOS_PER_USD)
        raise ValueError(f"{field} must be a finite number of USD, got {usd!r}")
    if kind is int:
        return int(usd) * NANOS_PER_USD
    if isinstance(usd, bool) or not isinstance(usd, Real):
        raise ValueError(f"{field} must be a number of USD, got {type(usd).__name__} {usd!r}")
    value = float(usd)
    if not math.isfinite(value):
        raise ValueError(f"{field} must be a finite number of USD, got {value!r}")
    return round(value * NANOS_PER_USD)


def to_usd(nanos: int) -> float:
    """Convert integer nano-dollars back to a USD float for the public API."""
    return nanos / NANOS_PER_USD
