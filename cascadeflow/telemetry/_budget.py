"""Budget limits per calendar period, quotas and rate limits, validated when they are made."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from cascadeflow._money import to_nanos

PERIODS: tuple[str, ...] = ("daily", "weekly", "monthly", "total")
#: Every period a limit or quota may name (``hourly`` is a calendar hour).
ALL_PERIODS: tuple[str, ...] = ("hourly", *PERIODS)


def _usd(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"BudgetConfig.{name} must be a number of USD or None, "
                         f"got {type(value).__name__} {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"BudgetConfig.{name} must be finite, got {value!r}")
    if value < 0:
        raise ValueError(f"BudgetConfig.{name} must not be negative, got {value!r}")
    return float(value)


def _quota(name: str, value: object) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise ValueError(f"BudgetConfig.{name} must map periods to counts, e.g. "
                         f"{{'daily': 500}}, got {value!r}")
    quota: dict[str, int] = {}
    for period, count in value.items():
        if period not in ALL_PERIODS:
            raise ValueError(f"BudgetConfig.{name}: unknown period {period!r}; expected one "
                             f"of {', '.join(ALL_PERIODS)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"BudgetConfig.{name}[{period!r}] must be a non-negative int, "
                             f"got {count!r}")
        quota[period] = count
    return {period: quota[period] for period in ALL_PERIODS if period in quota}


def _count(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"RateLimit.{name} must be a non-negative int or None, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests per minute, tokens per minute and requests in flight for one scope.

    Checked by the same atomic reservation as the budgets. ``rpm`` and ``tpm`` count what
    is admitted in each minute of the tracker's clock (``tpm`` counts the reservation's
    token estimate); ``max_parallel`` counts open reservations, freed by settle, release
    or expiry (so a crashed worker frees its slots after the reservation ttl). A refusal
    carries ``retry_after`` seconds.

    Example:
        >>> RateLimit(rpm=60, max_parallel=2)
        RateLimit(rpm=60, tpm=None, max_parallel=2)

    .. versionadded:: 0.2.0
    """

    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None

    def __post_init__(self) -> None:
        for name in ("rpm", "tpm", "max_parallel"):
            _count(name, getattr(self, name))

    def to_dict(self) -> dict[str, int]:
        """The limits that are set, e.g. ``{"rpm": 60}``."""
        return {name: value for name in ("rpm", "tpm", "max_parallel")
                if (value := getattr(self, name)) is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RateLimit:
        """The inverse of :meth:`to_dict`."""
        unknown = set(data) - {"rpm", "tpm", "max_parallel"}
        if unknown:
            raise ValueError(f"unknown RateLimit field(s): {sorted(unknown)}")
        return cls(**dict(data))


@dataclass(frozen=True)
class BudgetConfig:
    """USD limits per period; ``None`` means no limit for that period.

    ``0.0`` is a real limit: nothing may be spent. Negative, NaN or infinite values are
    rejected with a ``ValueError`` naming the field. Periods are calendar periods in the
    tracker's timezone (hour, day from 00:00, week from Monday, month from the 1st);
    ``total`` never resets.

    ``requests`` and ``tokens`` are quotas per period (``{"daily": 500}``). With
    ``rollover=True`` the unused part of the previous period's base limit is added to
    each period's limit (``total`` excepted), at most ``rollover_cap`` USD.

    Example:
        >>> BudgetConfig(daily=1.0, monthly=20.0)
        BudgetConfig(daily=$1.00, monthly=$20.00)
        >>> BudgetConfig(monthly=100.0, rollover=True, rollover_cap=50.0, requests={"daily": 500})
        BudgetConfig(monthly=$100.00, requests={'daily': 500}, rollover up to $50.00)
    """

    daily: float | None = None
    weekly: float | None = None
    monthly: float | None = None
    total: float | None = None
    hourly: float | None = None
    requests: Mapping[str, int] | None = None
    tokens: Mapping[str, int] | None = None
    rollover: bool = False
    rollover_cap: float | None = None
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
            object.__setattr__(self, name, _usd(name, value))
            limits.append((name, to_nanos(float(value), field=f"BudgetConfig.{name}")))
        object.__setattr__(self, "_limits_nanos", tuple(limits))
        object.__setattr__(self, "_indexed_limits",
                           tuple((PERIODS.index(name), nanos) for name, nanos in limits))
        if self.hourly is not None:
            object.__setattr__(self, "hourly", _usd("hourly", self.hourly))
        for name in ("requests", "tokens"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _quota(name, value) or None)
        if not isinstance(self.rollover, bool):
            raise ValueError(f"BudgetConfig.rollover must be True or False, got {self.rollover!r}")
        if self.rollover_cap is not None:
            if not self.rollover:
                raise ValueError("BudgetConfig.rollover_cap needs rollover=True")
            object.__setattr__(self, "rollover_cap", _usd("rollover_cap", self.rollover_cap))

    def __hash__(self) -> int:
        return hash((self._limits_nanos, self.hourly, tuple((self.requests or {}).items()),
                     tuple((self.tokens or {}).items()), self.rollover, self.rollover_cap))

    def has_any_limit(self) -> bool:
        """True when at least one period has a limit or quota (``0.0`` counts as a limit)."""
        return bool(self._limits_nanos) or self.hourly is not None or (
            self.requests is not None or self.tokens is not None)

    def money_limits(self) -> dict[str, int]:
        """Every USD limit in nano-dollars by period, ``hourly`` included."""
        limits = dict(self._limits_nanos)
        if self.hourly is not None:
            limits = {"hourly": to_nanos(self.hourly), **limits}
        return limits

    def has_extras(self) -> bool:
        """True when the budget uses more than the four USD periods (hourly, quotas, rollover)."""
        return (self.hourly is not None or self.requests is not None or self.tokens is not None
                or self.rollover)

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set, as JSON-ready values (stored limits use this form)."""
        data: dict[str, Any] = {name: getattr(self, name) for name in ALL_PERIODS
                                if getattr(self, name) is not None}
        for name in ("requests", "tokens"):
            if getattr(self, name) is not None:
                data[name] = dict(getattr(self, name))
        if self.rollover:
            data["rollover"] = True
            if self.rollover_cap is not None:
                data["rollover_cap"] = self.rollover_cap
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BudgetConfig:
        """The inverse of :meth:`to_dict`; unknown fields are a ``ValueError``.

        Example:
            >>> BudgetConfig.from_dict({"daily": 1.0})
            BudgetConfig(daily=$1.00)
        """
        allowed = {*ALL_PERIODS, "requests", "tokens", "rollover", "rollover_cap"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown BudgetConfig field(s): {sorted(unknown)}")
        return cls(**dict(data))

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
        if self.hourly is not None:
            parts.insert(0, f"hourly=${self.hourly:.2f}")
        for name in ("requests", "tokens"):
            if getattr(self, name) is not None:
                parts.append(f"{name}={dict(getattr(self, name))}")
        if self.rollover:
            parts.append("rollover" if self.rollover_cap is None
                         else f"rollover up to ${self.rollover_cap:.2f}")
        return f"BudgetConfig({', '.join(parts) or 'no limits'})"
