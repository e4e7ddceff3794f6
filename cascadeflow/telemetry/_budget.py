"""Budget limits per calendar period, validated when they are made."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Real

from cascadeflow._money import to_nanos

PERIODS: tuple[str, ...] = ("daily", "weekly", "monthly", "total")


@dataclass(frozen=True)
class BudgetConfig:
    """USD limits per period; ``None`` means no limit for that period.

    ``0.0`` is a real limit: nothing may be spent. Negative, NaN or infinite values are
    rejected with a ``ValueError`` naming the field. Periods are calendar periods in the
    tracker's timezone (day from 00:00, week from Monday, month from the 1st); ``total``
    never resets.

    Example:
        >>> BudgetConfig(daily=1.0, monthly=20.0)
        BudgetConfig(daily=$1.00, monthly=$20.00)
    """

    daily: float | None = None
    weekly: float | None = None
    monthly: float | None = None
    total: float | None = None
    _limits_nanos: tuple[tuple[str, int], ...] = field(
        init=False, repr=False, compare=False, default=()
    )
    _indexed_limits: tuple[tuple[int, int], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        limits: list[tuple[str, int]] = []
        for name in PERIODS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, Real):
                raise ValueError(f"BudgetConfig.{name} must be a number of USD or None, "
                                 f"got {type(value).__name__} {value!r}")
            if not math.isfinite(float(value)):
                raise ValueError(f"BudgetConfig.{name} must be finite, got {value!r}")
            if value < 0:
                raise ValueError(f"BudgetConfig.{name} must not be negative, got {value!r}")
            object.__setattr__(self, name, float(value))
            limits.append((name, to_nanos(float(value), field=f"BudgetConfig.{name}")))
        object.__setattr__(self, "_limits_nanos", tuple(limits))
        object.__setattr__(self, "_indexed_limits",
                           tuple((PERIODS.index(name), nanos) for name, nanos in limits))

    def has_any_limit(self) -> bool:
        """True when at least one period has a limit (``0.0`` counts as a limit)."""
        return bool(self._limits_nanos)

    def limits(self) -> dict[str, float]:
        """The configured limits by period name, e.g. ``{"daily": 1.0}``."""
        return {name: float(getattr(self, name)) for name, _ in self._limits_nanos}

    def limits_nanos(self) -> tuple[tuple[str, int], ...]:
        """The configured limits as ``(period, nano-dollars)`` pairs, in period order."""
        return self._limits_nanos

    def indexed_limits(self) -> tuple[tuple[int, int], ...]:
        """``(index in PERIODS, nano-dollars)`` pairs: the hot path's view of the limits."""
        return self._indexed_limits

    def __repr__(self) -> str:
        parts = [f"{name}=${getattr(self, name):.2f}" for name, _ in self._limits_nanos]
        return f"BudgetConfig({', '.join(parts) or 'no limits'})"
