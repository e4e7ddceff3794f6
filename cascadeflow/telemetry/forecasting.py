"""Spend forecasts with honest intervals, read from the store's daily rollups.

cascadeflow 1.2.0's names (``CostForecaster``, ``CostPrediction``, ``forecast_daily``,
``forecast_user``, ``calculate_budget_runway``) with calendar days (zeros kept), the partial
current day scaled by the elapsed fraction, a signed trend, and 95% intervals built from the
model's own out-of-sample errors. New: :meth:`CostForecaster.forecast_period_end`.

Example:
    >>> forecaster = CostForecaster(tracker)
    >>> forecaster.forecast_daily(days=7).predicted_cost
    68.4
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cascadeflow._money import to_usd
from cascadeflow.telemetry._forecast_math import (
    BACKTEST_MIN_DAYS,
    Fit,
    backtest_errors,
    fit,
    half_width,
    trend_name,
)
from cascadeflow.telemetry._rollups import day_bounds, read_daily

if TYPE_CHECKING:
    from cascadeflow.telemetry._tracker import CostTracker

__all__ = ["CostForecaster", "CostPrediction", "PeriodForecast"]

_PERIODS = ("daily", "weekly", "monthly")
# A day counts as started for at least this fraction, so an early-morning spend is not
# divided by almost nothing.
_MIN_ELAPSED = 1.0 / 24.0


@dataclass
class CostPrediction:
    """A forecast of the spend over the next ``period_days`` days (``period_days`` x 24 hours
    from now: the rest of today, then the following days).

    Attributes:
        predicted_cost: USD expected over the period.
        lower_bound: lower end of the 95% interval (never below 0).
        upper_bound: upper end of the 95% interval.
        confidence: 0..1, higher with more history and a narrower interval.
        period_days: the number of days forecast.
        method: how it was made (``"level_trend"``, ``"few_days"`` or ``"no_data"``).
        historical_average: mean USD per calendar day over the history used (zeros kept).
        trend: ``"increasing"``, ``"decreasing"`` or ``"stable"``.
        metadata: ``daily_level``, ``trend_per_day`` (signed USD/day), ``data_points``,
            ``errors`` (backtest size), ``today_spent`` and ``elapsed``.

    Example:
        >>> prediction = forecaster.forecast_daily(days=7)
        >>> prediction.lower_bound <= prediction.predicted_cost <= prediction.upper_bound
        True
    """

    predicted_cost: float
    lower_bound: float
    upper_bound: float
    confidence: float
    period_days: int
    method: str = "level_trend"
    historical_average: float = 0.0
    trend: str = "stable"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.confidence = min(1.0, max(0.0, self.confidence))


@dataclass(frozen=True, slots=True)
class PeriodForecast:
    """Where the current budget period is heading.

    Attributes:
        period_key: the period's key (``"monthly:2026-11"``).
        spent: USD spent in the period so far.
        projected: USD expected by the period's end; ``lower``/``upper`` its 95% interval.
        limit: the period's USD limit for the user (``None`` without one).
        exceeds_limit: True when ``projected`` passes ``limit``.
        runs_out_on: the day the projection reaches ``limit`` within the period, else None.
        history_days: complete days of history the projection stands on.

    Example:
        >>> forecaster.forecast_period_end("alice").exceeds_limit
        False
    """

    period_key: str
    spent: float
    projected: float
    lower: float
    upper: float
    limit: float | None
    exceeds_limit: bool
    runs_out_on: date | None
    history_days: int = 0


@dataclass(frozen=True, slots=True)
class _History:
    days: list[float]  # complete days, oldest first, from the first active one
    today: date
    today_spent: float
    elapsed: float  # fraction of today gone, in [_MIN_ELAPSED, 1] (a pace divides by it)
    elapsed_exact: float  # fraction of today gone, in [0, 1]


class CostForecaster:
    """Forecasts spend (global, per user or per scope) from the daily rollups.

    Args:
        tracker: the :class:`~cascadeflow.CostTracker` whose store is read.
        alpha: weight of the latest week in the level (older weeks decay by ``1 - alpha``).
        min_data_points: complete days below which a forecast is marked ``"few_days"``,
            made from what there is, with low confidence and a wide interval.
        history_days: calendar days read (one counter each).

    Example:
        >>> forecaster = CostForecaster(tracker)
        >>> days, confidence = forecaster.calculate_budget_runway(100.0, user_id="alice")
    """

    def __init__(self, tracker: CostTracker, alpha: float = 0.3, min_data_points: int = 7,
                 *, history_days: int = 90) -> None:
        if not (isinstance(alpha, (int, float)) and 0.0 < alpha <= 1.0):
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        if isinstance(min_data_points, bool) or not isinstance(min_data_points, int) or (
                min_data_points < 1):
            raise ValueError(f"min_data_points must be a positive int, got {min_data_points!r}")
        if isinstance(history_days, bool) or not isinstance(history_days, int) or (
                history_days < 2):
            raise ValueError(f"history_days must be an int >= 2, got {history_days!r}")
        self.tracker = tracker
        self.alpha = float(alpha)
        self.min_data_points = min_data_points
        self.history_days = history_days

    # -- history --------------------------------------------------------------
    def _history(self, user_id: str | None, scope: str | None) -> _History:
        tracker = self.tracker
        owner = tracker._rollup_owner(user_id, scope)
        moment = tracker.now()
        zone = tracker._zone
        today = moment.astimezone(zone).date()
        series = read_daily(tracker.store, owner, today - timedelta(days=self.history_days - 1),
                            today, moment.timestamp())
        values = [to_usd(nanos) for _, nanos in series]
        first = next((index for index, value in enumerate(values) if value != 0.0),
                     len(values))
        start, end = day_bounds(today, zone)
        elapsed = (moment - start).total_seconds() / (end - start).total_seconds()
        elapsed = min(1.0, max(0.0, elapsed))
        return _History(values[first:-1], today, values[-1], max(_MIN_ELAPSED, elapsed),
                        elapsed)

    def _fit(self, history: _History) -> Fit:
        if history.days:
            return fit(history.days, self.alpha)
        # Only today so far: its pace is the best guess there is.
        return Fit(history.today_spent / history.elapsed, 0.0, 0.0)

    def _interval(self, history: _History, model: Fit, horizon: int,
                  predicted: float) -> tuple[float, float, int]:
        width = None
        errors: list[float] = []
        if len(history.days) > BACKTEST_MIN_DAYS:
            errors = backtest_errors(history.days, horizon, self.alpha)
            width = half_width(errors)
        if width is None:
            # Too few days to measure errors: as wide as the forecast itself, both ways.
            width = max(predicted, model.level * horizon)
        return max(0.0, predicted - width), predicted + width, len(errors)

    def _confidence(self, history: _History, predicted: float, lower: float,
                    upper: float) -> float:
        if predicted <= 0.0 and upper <= 0.0:
            return 0.0 if not history.days else min(1.0, len(history.days) / 28.0)
        spread = (upper - lower) / (2.0 * max(predicted, 1e-12))
        days = len(history.days)
        return (days / (days + self.min_data_points)) / (1.0 + spread)

    # -- 1.2.0 API --------------------------------------------------------------
    def forecast_daily(self, days: int = 7, user_id: str | None = None, *,
                       scope: str | None = None) -> CostPrediction:
        """Forecast the spend of the next ``days`` full days (global, a user or a scope).

        Example:
            >>> forecaster.forecast_daily(days=7, user_id="alice").trend
            'decreasing'
        """
        if isinstance(days, bool) or not isinstance(days, int) or days <= 0:
            raise ValueError(f"days must be a positive int, got {days!r}")
        history = self._history(user_id, scope)
        if not history.days and history.today_spent == 0.0:
            return CostPrediction(0.0, 0.0, 0.0, 0.0, days, "no_data", 0.0, "stable",
                                  {"data_points": 0, "today_spent": 0.0})
        model = self._fit(history)
        # The next `days` x 24 hours: the rest of today (day 1 after the last complete one),
        # the full days after it, and the share of the last day that falls inside.
        gone = history.elapsed_exact
        predicted = (model.day(1) * (1.0 - gone) + sum(model.path(days - 1, start=2))
                     + model.day(days + 1) * gone)
        lower, upper, errors = self._interval(history, model, days, predicted)
        method = "level_trend" if len(history.days) >= self.min_data_points else "few_days"
        average = (sum(history.days) / len(history.days) if history.days
                   else history.today_spent / history.elapsed)
        return CostPrediction(
            predicted, lower, upper, self._confidence(history, predicted, lower, upper),
            days, method, average, trend_name(model),
            {"daily_level": model.level, "trend_per_day": model.slope,
             "data_points": len(history.days), "errors": errors,
             "today_spent": history.today_spent, "elapsed": history.elapsed,
             "starts": tracker_now_iso(self.tracker)})

    def forecast_user(self, user_id: str, days: int = 7) -> CostPrediction:
        """:meth:`forecast_daily` for one user.

        Example:
            >>> forecaster.forecast_user("alice", days=30).upper_bound
            412.0
        """
        return self.forecast_daily(days=days, user_id=user_id)

    def calculate_budget_runway(self, budget_remaining: float,
                                user_id: str | None = None) -> tuple[float, float]:
        """Days (fractional, from now) until ``budget_remaining`` USD is spent, and a confidence.

        The rest of today counts at today's pace, then each forecast day. No sentinel: a
        user with 3 days of $50 and $100 left gets about 2; only when nothing is being
        spent (and the forecast stays at zero) is the answer ``math.inf``.

        Example:
            >>> forecaster.calculate_budget_runway(100.0, user_id="new-user")
            (2.0, 0.2)
        """
        if not isinstance(budget_remaining, (int, float)) or not math.isfinite(
                budget_remaining) or budget_remaining < 0:
            raise ValueError(f"budget_remaining must be a finite USD amount >= 0, "
                             f"got {budget_remaining!r}")
        history = self._history(user_id, None)
        model = self._fit(history)
        prediction = self.forecast_daily(days=7, user_id=user_id)
        days = _days_until(float(budget_remaining), model, history)
        return days, prediction.confidence

    # -- new ------------------------------------------------------------------
    def forecast_period_end(self, user_id: str | None, period: str = "monthly", *,
                            scope: str | None = None,
                            limit: float | None = None) -> PeriodForecast:
        """Spend by the end of the current ``period`` (daily, weekly or monthly) and its limit.

        ``limit`` defaults to the user's own (or tier's) limit for the period.

        Example:
            >>> outlook = forecaster.forecast_period_end("alice", "monthly")
            >>> outlook.exceeds_limit, outlook.runs_out_on
            (True, datetime.date(2026, 11, 27))

        .. versionadded:: 0.3.0
        """
        if period not in _PERIODS:
            raise ValueError(f"period must be one of {_PERIODS}, got {period!r}")
        tracker = self.tracker
        keys = tracker.period_keys()
        key = keys[_PERIODS.index(period)]
        history = self._history(user_id, scope)
        if limit is None and user_id is not None:
            budget = tracker.get_user_budget(user_id)
            limit = getattr(budget, period) if budget is not None else None
        assert key.ends_at is not None
        last_day = datetime.fromtimestamp(key.ends_at - 1.0, tracker._zone).date()
        spent = _spent_in(tracker, user_id, scope, period, history.today)
        model = self._fit(history)
        full_days = (last_day - history.today).days
        rest_today = model.day(1) * (1.0 - history.elapsed_exact)
        future = model.path(full_days, start=2)
        projected = spent + rest_today + sum(future)
        if full_days > 0 or rest_today > 0:
            lower, upper, _ = self._interval(history, model, max(1, full_days),
                                             rest_today + sum(future))
        else:
            lower = upper = 0.0
        runs_out_on: date | None = None
        if limit is not None:
            running = spent + rest_today
            if spent >= limit or running > limit:
                runs_out_on = history.today
            else:
                for offset, value in enumerate(future, start=1):
                    running += value
                    if running > limit:
                        runs_out_on = history.today + timedelta(days=offset)
                        break
        return PeriodForecast(key.key, spent, projected, spent + lower, spent + upper, limit,
                              limit is not None and projected > limit, runs_out_on,
                              len(history.days))


def tracker_now_iso(tracker: CostTracker) -> str:
    """The tracker's current time, ISO 8601 (where a forecast starts)."""
    return tracker.now().isoformat()


def _spent_in(tracker: CostTracker, user_id: str | None, scope: str | None, period: str,
              today: date) -> float:
    if period == "daily":
        first = today
    elif period == "weekly":
        first = today - timedelta(days=today.weekday())
    else:
        first = today.replace(day=1)
    owner = tracker._rollup_owner(user_id, scope)
    series = read_daily(tracker.store, owner, first, today, tracker.now().timestamp())
    return to_usd(sum(nanos for _, nanos in series))


def _days_until(budget: float, model: Fit, history: _History) -> float:
    pace_today = model.day(1)
    rest_today = pace_today * (1.0 - history.elapsed_exact)
    if rest_today >= budget:
        return budget / pace_today if pace_today > 0 else math.inf
    left = budget - rest_today
    days = 1.0 - history.elapsed_exact
    for ahead in range(2, 3652):
        value = model.day(ahead)
        if value >= left:
            return days + left / value
        left -= value
        days += 1.0
    return math.inf
