"""Forecasts: calendar days with zeros, a signed trend, partial days, runway, period ends,
and intervals that cover the truth on synthetic families (1.2.0's failures as tests)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime

import pytest

from cascadeflow.telemetry import BudgetConfig, CostForecaster, CostTracker
from tests.telemetry.conftest import BERLIN, FakeClock
from tests.telemetry.spend_history import at, record_days

Family = Callable[[random.Random, int], list[float]]


def _iid(rng: random.Random, n: int) -> list[float]:
    return [max(0.0, rng.gauss(10.0, 3.0)) for _ in range(n)]


def _lognormal(rng: random.Random, n: int) -> list[float]:
    return [rng.lognormvariate(1.5, 0.8) for _ in range(n)]


def _trend(rng: random.Random, n: int) -> list[float]:
    return [10.0 * 1.02 ** day * max(0.1, rng.gauss(1.0, 0.2)) for day in range(n)]


def _random_walk(rng: random.Random, n: int) -> list[float]:
    level, out = 10.0, []
    for _ in range(n):
        level = max(0.5, level + rng.gauss(0.0, 1.0))
        out.append(level)
    return out


def _weekly(rng: random.Random, n: int) -> list[float]:
    return [max(0.0, (12.0 if day % 7 < 5 else 3.0) + rng.gauss(0.0, 1.5)) for day in range(n)]


FAMILIES: dict[str, Family] = {"iid": _iid, "lognormal": _lognormal, "trend": _trend,
                               "random_walk": _random_walk, "weekly": _weekly}
SERIES_PER_FAMILY = 60


@pytest.fixture
def forecaster(make_tracker: Callable[..., CostTracker]) -> tuple[CostTracker, CostForecaster]:
    tracker = make_tracker()
    return tracker, CostForecaster(tracker)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize(("history", "horizon"), [(14, 7), (14, 30), (30, 7), (30, 30)])
def test_interval_covers_the_truth_at_least_90_percent(family: str, history: int,
                                                       horizon: int) -> None:
    covered = 0
    for seed in range(SERIES_PER_FAMILY):
        rng = random.Random(f"{family}-{history}-{horizon}-{seed}")
        series = FAMILIES[family](rng, history + horizon)
        clock = FakeClock(datetime(2026, 11, 24, 0, 0, tzinfo=BERLIN))
        tracker = CostTracker(timezone="Europe/Berlin", clock=clock)
        record_days(tracker, clock, [round(value, 6) for value in series[:history]])
        # At midnight: the next `horizon` days are exactly the days after the history.
        prediction = CostForecaster(tracker).forecast_daily(days=horizon, user_id="alice")
        truth = sum(series[history:])
        covered += prediction.lower_bound <= truth <= prediction.upper_bound
    assert covered / SERIES_PER_FAMILY >= 0.90, (family, covered)


def test_zero_spend_days_count(forecaster: tuple[CostTracker, CostForecaster],
                               clock: FakeClock) -> None:
    tracker, model = forecaster
    # $10 every 5th day: about $14 a week (1.2.0 dropped the zeros and said $70, confidence 1).
    record_days(tracker, clock, [10.0 if day % 5 == 0 else 0.0 for day in range(40)])
    prediction = model.forecast_daily(days=7, user_id="alice")
    assert 10.0 <= prediction.predicted_cost <= 18.0
    assert prediction.confidence < 1.0
    assert prediction.historical_average == pytest.approx(2.0, rel=0.2)


def test_declining_spend_is_forecast_below_its_level(
        forecaster: tuple[CostTracker, CostForecaster], clock: FakeClock) -> None:
    tracker, model = forecaster
    record_days(tracker, clock, [100.0 - 3.0 * day for day in range(30)])
    prediction = model.forecast_daily(days=7, user_id="alice")
    last_week = sum(100.0 - 3.0 * day for day in range(23, 30))
    assert prediction.trend == "decreasing"
    assert prediction.metadata["trend_per_day"] < 0
    assert prediction.predicted_cost < last_week


def test_few_days_still_answer_with_low_confidence_and_a_wide_interval(
        forecaster: tuple[CostTracker, CostForecaster], clock: FakeClock) -> None:
    tracker, model = forecaster
    record_days(tracker, clock, [50.0, 50.0, 50.0])
    prediction = model.forecast_daily(days=7, user_id="alice")
    assert prediction.method == "few_days"
    assert prediction.predicted_cost == pytest.approx(350.0, rel=0.01)
    assert prediction.confidence < 0.5
    assert prediction.upper_bound - prediction.lower_bound >= prediction.predicted_cost


def test_runway_of_a_new_user_is_days_not_a_sentinel(
        forecaster: tuple[CostTracker, CostForecaster], clock: FakeClock) -> None:
    tracker, model = forecaster
    record_days(tracker, clock, [50.0, 50.0, 50.0])
    clock.set(at(clock, 0))
    days, confidence = model.calculate_budget_runway(100.0, user_id="alice")
    assert days == pytest.approx(2.0, abs=0.05)
    assert 0.0 < confidence < 1.0


def test_runway_is_infinite_only_when_nothing_is_spent(
        forecaster: tuple[CostTracker, CostForecaster]) -> None:
    _, model = forecaster
    assert model.calculate_budget_runway(10.0, user_id="nobody")[0] == math.inf
    with pytest.raises(ValueError, match="budget_remaining"):
        model.calculate_budget_runway(-1.0, user_id="nobody")


def test_the_partial_day_counts_at_its_pace_not_as_a_full_day(
        forecaster: tuple[CostTracker, CostForecaster], clock: FakeClock) -> None:
    tracker, model = forecaster
    # A brand-new user: $5 by 06:00 is a $20/day pace (1.2.0 forecast 0 under 7 days).
    clock.set(at(clock, 6))
    tracker.add_cost("gpt-4o", "openai", 100, 5.0, user_id="alice")
    prediction = model.forecast_daily(days=1, user_id="alice")
    assert prediction.predicted_cost == pytest.approx(20.0, rel=0.01)


def test_period_end_projection_and_the_day_it_runs_out(
        make_tracker: Callable[..., CostTracker], clock: FakeClock) -> None:
    tracker = make_tracker(user_budgets={"pro": BudgetConfig(monthly=300.0)})
    tracker.set_user_tier("alice", "pro")
    # November 2026: 23 days at $10 so far, then the 24th at midnight.
    record_days(tracker, clock, [10.0] * 23)
    clock.set(at(clock, 0))
    outlook = CostForecaster(tracker).forecast_period_end("alice", "monthly")
    assert outlook.period_key == "monthly:2026-11"
    assert outlook.spent == pytest.approx(230.0)
    assert outlook.projected == pytest.approx(300.0 + 0.0, abs=1.0)
    assert outlook.limit == 300.0
    assert outlook.lower <= outlook.projected <= outlook.upper
    tracker.add_cost("gpt-4o", "openai", 100, 30.0, user_id="alice")
    outlook = CostForecaster(tracker).forecast_period_end("alice", "monthly")
    assert outlook.exceeds_limit
    assert outlook.runs_out_on is not None and outlook.runs_out_on.month == 11


def test_forecasts_read_rollups_not_history(make_tracker: Callable[..., CostTracker],
                                            clock: FakeClock) -> None:
    from cascadeflow.storage import MemoryStore

    tracker = make_tracker(store=MemoryStore(max_entries=5))
    record_days(tracker, clock, [1.0] * 20)
    assert len(tracker.entries) == 5
    assert tracker.daily_spend("alice", days=20)[0][1] == 1.0
    assert CostForecaster(tracker).forecast_daily(days=7, user_id="alice").predicted_cost == (
        pytest.approx(7.0))


def test_bad_arguments_are_named() -> None:
    tracker = CostTracker()
    with pytest.raises(ValueError, match="alpha"):
        CostForecaster(tracker, alpha=0.0)
    with pytest.raises(ValueError, match="days"):
        CostForecaster(tracker).forecast_daily(days=0)
    with pytest.raises(ValueError, match="period"):
        CostForecaster(tracker).forecast_period_end("alice", "yearly")


def test_every_declining_series_is_forecast_below_its_level() -> None:
    # 1.2.0 forecast every one of 200 declining series above its level.
    below = 0
    for seed in range(200):
        rng = random.Random(f"decline-{seed}")
        series = [max(0.0, 20.0 * 0.97 ** day * rng.gauss(1.0, 0.1)) for day in range(30)]
        clock = FakeClock(datetime(2026, 11, 24, 0, 0, tzinfo=BERLIN))
        tracker = CostTracker(timezone="Europe/Berlin", clock=clock)
        record_days(tracker, clock, [round(value, 6) for value in series])
        prediction = CostForecaster(tracker).forecast_daily(days=7, user_id="alice")
        below += prediction.predicted_cost < sum(series[-7:])
    assert below == 200
