"""The arithmetic of spend forecasts: a level, a signed trend, and errors measured out of sample.

Pure functions over a list of complete calendar days (zeros included), so they can be tested
and benchmarked without a tracker.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Days of history a trend is fitted on (at most), and the fewest it needs.
TREND_WINDOW = 28
TREND_MIN_DAYS = 7
#: Origins of the rolling backtest that measures the forecast errors (the latest ones).
BACKTEST_ORIGINS = 45
#: The fewest complete days a backtest needs; below it the interval is a wide fallback.
BACKTEST_MIN_DAYS = 3

# Two-sided 95% Student-t quantiles by degrees of freedom: few errors, wider intervals.
_T95 = (12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23)
_OVERLAP = 2.5 / 1.96


@dataclass(frozen=True, slots=True)
class Fit:
    """A level (USD per day) centred ``age`` days before the last day, and a slope per day."""

    level: float
    age: float
    slope: float

    def day(self, ahead: int) -> float:
        """The forecast for the day ``ahead`` days after the last one (never below 0)."""
        return max(0.0, self.level + self.slope * (self.age + ahead))

    def path(self, days: int, start: int = 1) -> list[float]:
        """Forecasts for ``days`` consecutive days from ``start`` days ahead."""
        return [self.day(ahead) for ahead in range(start, start + days)]


def fit(values: Sequence[float], alpha: float) -> Fit:
    """Level and trend of ``values`` (oldest first, one per calendar day).

    The level is a mean weighted by week (``alpha`` for the latest week, decaying by
    ``1 - alpha`` per older week), so a weekly pattern averages out and recent weeks count
    most. The slope is a least-squares line over the last :data:`TREND_WINDOW` days, with
    its sign (a declining user is forecast below their level).
    """
    n = len(values)
    if n == 0:
        return Fit(0.0, 0.0, 0.0)
    total_weight = weighted = weighted_age = 0.0
    for index, value in enumerate(values):
        age = n - 1 - index
        weight = (1.0 - alpha) ** (age // 7)
        total_weight += weight
        weighted += weight * value
        weighted_age += weight * age
    slope = 0.0
    if n >= TREND_MIN_DAYS:
        window = values[-TREND_WINDOW:]
        m = len(window)
        x_mean = (m - 1) / 2.0
        y_mean = sum(window) / m
        numerator = sum((x - x_mean) * (y - y_mean) for x, y in enumerate(window))
        denominator = m * (m * m - 1) / 12.0
        slope = numerator / denominator
    return Fit(weighted / total_weight, weighted_age / total_weight, slope)


def backtest_errors(values: Sequence[float], horizon: int, alpha: float) -> list[float]:
    """Out-of-sample errors of the ``horizon``-day sum, each scaled to the full horizon.

    For each origin t, the model fitted on ``values[:t]`` forecasts the next
    ``m = min(horizon, n - t)`` days, and ``(actual - forecast) * (horizon / m) ** 1.5`` is
    kept: errors are extrapolated to the horizon as a drifting level's would grow (faster
    than noise's), so a short history widens the interval instead of narrowing it.
    """
    n = len(values)
    first = max(BACKTEST_MIN_DAYS, n - BACKTEST_ORIGINS)
    errors: list[float] = []
    for origin in range(first, n):
        span = min(horizon, n - origin)
        model = fit(values[:origin], alpha)
        predicted = sum(model.path(span))
        actual = sum(values[origin:origin + span])
        errors.append((actual - predicted) * (horizon / span) ** 1.5)
    return errors


def half_width(errors: Sequence[float]) -> float | None:
    """Half the width of a 95% interval from out-of-sample ``errors`` (None: too few)."""
    if len(errors) < 2:
        return None
    rms = math.sqrt(sum(error * error for error in errors) / len(errors))
    # Student's t for few errors, times 2.5/1.96: the errors overlap (consecutive origins
    # share days), so they are fewer independent draws than they look. Measured coverage on
    # the synthetic families stays >= 90% (tests and benchmarks).
    quantile = _T95[len(errors) - 2] if len(errors) <= len(_T95) + 1 else 1.96
    return quantile * _OVERLAP * rms


def trend_name(model: Fit) -> str:
    """``"increasing"``, ``"decreasing"`` or ``"stable"`` (a week's change under 5%)."""
    if abs(model.slope) * 7.0 <= 0.05 * max(model.level, 1e-12):
        return "stable"
    return "increasing" if model.slope > 0 else "decreasing"
