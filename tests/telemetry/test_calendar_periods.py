"""Periods are calendar periods in the tracker's timezone, including across DST changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from cascadeflow.telemetry import BudgetConfig, CostTracker

from .conftest import BERLIN, FakeClock


def spend(tracker: CostTracker, amount: float, user: str = "u1") -> None:
    tracker.add_cost("gpt-4o-mini", "openai", 100, amount, user_id=user)


def test_daily_budget_resets_at_local_midnight_not_utc(
    clock: FakeClock, make_tracker: Callable[..., CostTracker]
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    clock.set(datetime(2026, 11, 24, 23, 30, tzinfo=BERLIN))  # 22:30 UTC
    spend(tracker, 1.0)
    assert not tracker.can_afford("u1", 0.01)
    clock.set(datetime(2026, 11, 24, 23, 59, 59, tzinfo=BERLIN))
    assert not tracker.can_afford("u1", 0.01)
    clock.set(datetime(2026, 11, 25, 0, 0, tzinfo=BERLIN))  # 23:00 UTC, still the 24th in UTC
    assert tracker.can_afford("u1", 0.99)
    assert tracker.remaining("u1") == {"daily": 1.0}


def test_weekly_budget_resets_on_monday_in_user_timezone(
    clock: FakeClock, make_tracker: Callable[..., CostTracker]
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(weekly=5.0))
    clock.set(datetime(2026, 11, 23, 0, 0, tzinfo=BERLIN))  # Monday 00:00
    spend(tracker, 3.0)
    clock.set(datetime(2026, 11, 29, 23, 59, tzinfo=BERLIN))  # Sunday night, same ISO week
    spend(tracker, 2.0)
    assert not tracker.can_afford("u1")
    clock.set(datetime(2026, 11, 30, 0, 0, tzinfo=BERLIN))  # next Monday
    assert tracker.remaining("u1") == {"weekly": 5.0}


def test_monthly_budget_resets_on_the_first(
    clock: FakeClock, make_tracker: Callable[..., CostTracker]
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(monthly=10.0, total=15.0))
    clock.set(datetime(2026, 11, 1, 0, 0, tzinfo=BERLIN))
    spend(tracker, 4.0)
    clock.set(datetime(2026, 11, 30, 23, 59, tzinfo=BERLIN))
    spend(tracker, 6.0)
    assert not tracker.can_afford("u1", 0.01)
    clock.set(datetime(2026, 12, 1, 0, 0, tzinfo=BERLIN))
    assert tracker.remaining("u1") == {"monthly": 10.0, "total": 5.0}
    clock.set(datetime(2027, 1, 1, 0, 0, tzinfo=BERLIN))  # year boundary: total never resets
    assert tracker.remaining("u1")["total"] == pytest.approx(5.0)


def test_day_is_23_hours_on_spring_forward(
    clock: FakeClock, make_tracker: Callable[..., CostTracker]
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    # 2027-03-28: Berlin jumps from 02:00 to 03:00.
    clock.set(datetime(2027, 3, 28, 0, 30, tzinfo=BERLIN))
    spend(tracker, 1.0)
    clock.set(datetime(2027, 3, 28, 23, 59, tzinfo=BERLIN))
    assert not tracker.can_afford("u1", 0.01)
    keys = tracker.period_keys()
    assert keys[0].key == "daily:2027-03-28"
    start = datetime(2027, 3, 28, 0, 0, tzinfo=BERLIN).timestamp()
    assert keys[0].ends_at is not None and keys[0].ends_at - start == 23 * 3600
    clock.set(datetime(2027, 3, 29, 0, 0, tzinfo=BERLIN))
    assert tracker.can_afford("u1", 1.0)


def test_day_is_25_hours_on_fall_back(
    clock: FakeClock, make_tracker: Callable[..., CostTracker]
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    # 2026-10-25: Berlin goes from 03:00 back to 02:00.
    clock.set(datetime(2026, 10, 25, 0, 30, tzinfo=BERLIN))
    spend(tracker, 0.6)
    clock.set(datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN))  # the second 02:30
    spend(tracker, 0.4)
    clock.set(datetime(2026, 10, 25, 23, 59, tzinfo=BERLIN))
    assert not tracker.can_afford("u1")
    assert tracker.period_keys()[0].key == "daily:2026-10-25"
    clock.set(datetime(2026, 10, 26, 0, 0, tzinfo=BERLIN))
    assert tracker.can_afford("u1", 1.0)


def test_period_keys_name_day_iso_week_and_month(
    clock: FakeClock, make_tracker: Callable[..., CostTracker]
) -> None:
    tracker = make_tracker()
    clock.set(datetime(2027, 1, 1, 12, 0, tzinfo=BERLIN))  # Friday of ISO week 2026-W53
    assert [k.key for k in tracker.period_keys()] == [
        "daily:2027-01-01", "weekly:2026-W53", "monthly:2027-01", "total",
    ]


def test_a_clock_returning_naive_datetimes_is_refused() -> None:
    tracker = CostTracker(clock=lambda: datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        tracker.add_cost("m", "p", 1, 0.1, user_id="u1")


def test_unknown_timezone_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        CostTracker(timezone="Mars/Olympus")
