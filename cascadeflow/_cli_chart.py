"""The chart of ``cascadeflow report --chart``: daily spend, and the period's cumulative spend
with its forecast band and limit (matplotlib, from the ``plot`` extra, imported here only)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cascadeflow.telemetry import CostTracker

#: Colours the tests look for in the PNG: the forecast band and the limit line.
BAND_COLOR = "#9ecae1"
LIMIT_COLOR = "#d62728"


def draw_chart(tracker: CostTracker, path: str, *, user_id: str | None = None,
               scope: str | None = None, period: str = "monthly", limit: float | None = None,
               since: date | None = None) -> None:
    """Write a PNG: daily spend (last 30 days or since ``since``) above, the current period's
    cumulative spend, its projection, the 95% band to the period end and the limit below.

    Example:
        >>> draw_chart(tracker, "spend.png", user_id="alice", limit=300.0)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cascadeflow.telemetry.forecasting import CostForecaster

    today = tracker.now().astimezone(tracker._zone).date()
    days = 30 if since is None else max(1, (today - since).days + 1)
    history = tracker.daily_spend(user_id, days=days, scope=scope)
    forecaster = CostForecaster(tracker)
    outlook = forecaster.forecast_period_end(user_id, period, scope=scope, limit=limit)
    prediction = forecaster.forecast_daily(days=1, user_id=user_id, scope=scope)
    end_key = tracker.period_keys()[("daily", "weekly", "monthly").index(period)]
    assert end_key.ends_at is not None
    from datetime import datetime

    last_day = datetime.fromtimestamp(end_key.ends_at - 1.0, tracker._zone).date()
    figure, (daily_axis, period_axis) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=False)
    daily_axis.bar([day for day, _ in history], [value for _, value in history],
                   color="#4c72b0", label="daily spend")
    daily_axis.axhline(prediction.predicted_cost, color="#555555", linestyle=":",
                       label="forecast, next 24 h")
    daily_axis.set_ylabel("USD per day")
    daily_axis.legend(loc="upper left")
    title = user_id or scope or "all users"
    daily_axis.set_title(f"cascadeflow: {title}")

    start = _period_start(period, today)
    spent_days = tracker.daily_spend(user_id, days=(today - start).days + 1, scope=scope)
    running, cumulative = 0.0, []
    for _, value in spent_days:
        running += value
        cumulative.append(running)
    future = [today + timedelta(days=offset) for offset in range((last_day - today).days + 1)]
    steps = max(1, len(future) - 1)
    spent = outlook.spent
    projection = [spent + (outlook.projected - spent) * k / steps for k in range(len(future))]
    lower = [spent + (outlook.lower - spent) * k / steps for k in range(len(future))]
    upper = [spent + (outlook.upper - spent) * k / steps for k in range(len(future))]
    period_axis.plot([day for day, _ in spent_days], cumulative, color="#4c72b0",
                     linewidth=2, label=f"{period} spend")
    period_axis.fill_between(future, lower, upper, color=BAND_COLOR, alpha=1.0,
                             label="95% forecast band")
    period_axis.plot(future, projection, color="#08519c", linestyle="--", label="forecast")
    if limit is not None:
        period_axis.axhline(limit, color=LIMIT_COLOR, linewidth=2, label=f"limit ${limit:,.2f}")
    period_axis.set_ylabel(f"USD this {period[:-2] if period != 'daily' else 'day'}")
    period_axis.legend(loc="upper left")
    figure.autofmt_xdate()
    daily_axis.tick_params(labelbottom=True)  # autofmt_xdate hides all but the last axis's
    for label in daily_axis.get_xticklabels():
        label.set_rotation(30)
        label.set_horizontalalignment("right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _period_start(period: str, today: date) -> date:
    if period == "daily":
        return today
    if period == "weekly":
        return today - timedelta(days=today.weekday())
    return today.replace(day=1)
