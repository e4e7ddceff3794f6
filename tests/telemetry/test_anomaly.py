"""Anomaly detection: each of cascadeflow 1.2.0's measured failures as a test that passes here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from cascadeflow.telemetry import AnomalyDetector, AnomalySeverity, CostTracker
from tests.telemetry.conftest import FakeClock
from tests.telemetry.spend_history import at, record_days


@pytest.fixture
def tracker(make_tracker: Callable[..., CostTracker]) -> CostTracker:
    return make_tracker()


def test_defaults_fire_on_a_spike_today(tracker: CostTracker, clock: FakeClock) -> None:
    # 1.2.0: a 7-day lookback gives at most 8 points, under its minimum of 10: nothing.
    record_days(tracker, clock, [1.0] * 30)
    clock.set(at(clock, 20))
    tracker.add_cost("gpt-4o", "openai", 100, 50.0, user_id="alice")
    anomalies = AnomalyDetector(tracker).detect_user_anomalies("alice")
    assert len(anomalies) == 1
    spike = anomalies[0]
    assert spike.value == pytest.approx(50.0)
    assert spike.severity is AnomalySeverity.CRITICAL
    assert spike.metadata["day"] == "2026-11-24" and spike.metadata["partial"]


def test_severity_does_not_depend_on_the_lookback(tracker: CostTracker, clock: FakeClock) -> None:
    # 1.2.0 scored the same spike 2.65, 3.16 or 5.39 depending on the window length.
    record_days(tracker, clock, [1.0 + 0.1 * (day % 3) for day in range(40)] + [8.0])
    clock.set(at(clock, 0, 1))
    detector = AnomalyDetector(tracker)
    scores = {lookback: [a.z_score for a in detector.detect_user_anomalies("alice", lookback)]
              for lookback in (3, 7, 10)}
    assert scores[3] == scores[7] == scores[10]
    assert len(scores[7]) == 1


def test_one_spike_does_not_mask_the_next(tracker: CostTracker, clock: FakeClock) -> None:
    # 1.2.0: $100 on day 5 hid a $20 spike today.
    history = [2.0 + 0.2 * (day % 4) for day in range(30)]
    history[4] = 100.0
    record_days(tracker, clock, history)
    clock.set(at(clock, 23, 30))
    tracker.add_cost("gpt-4o", "openai", 100, 20.0, user_id="alice")
    days = [a.metadata["day"] for a in AnomalyDetector(tracker).detect_user_anomalies(
        "alice", lookback_days=30)]
    assert "2026-11-24" in days
    assert (clock.current.date() - timedelta(days=26)).isoformat() in days


def test_a_normal_morning_is_not_flagged(tracker: CostTracker, clock: FakeClock) -> None:
    # 1.2.0 compared the partial day with full days: a normal morning was CRITICAL (a drop).
    record_days(tracker, clock, [24.0] * 30)
    clock.set(at(clock, 9))
    tracker.add_cost("gpt-4o", "openai", 100, 9.0, user_id="alice")
    detector = AnomalyDetector(tracker, include_drops=True)
    assert detector.detect_user_anomalies("alice") == []
    # The same $9 by 01:00 is a $216/day pace: a spike.
    clock.set(at(clock, 1))
    assert [a.severity for a in detector.detect_user_anomalies("alice")] == [
        AnomalySeverity.CRITICAL]


def test_drops_are_optional(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [10.0 + (day % 3) for day in range(30)] + [0.5])
    assert AnomalyDetector(tracker).detect_user_anomalies("alice") == []
    drops = AnomalyDetector(tracker, include_drops=True).detect_user_anomalies("alice")
    assert [a.metadata["direction"] for a in drops] == ["down"]
    assert drops[0].z_score < 0


def test_each_anomaly_is_reported_once_with_new_only(tracker: CostTracker,
                                                     clock: FakeClock) -> None:
    # 1.2.0 re-reported old spikes on every run.
    record_days(tracker, clock, [1.0] * 30 + [40.0])
    detector = AnomalyDetector(tracker)
    assert len(detector.detect_user_anomalies("alice", new_only=True)) == 1
    assert detector.detect_user_anomalies("alice", new_only=True) == []
    # Another detector on the same store remembers it too; without new_only it is there.
    assert AnomalyDetector(tracker).detect_all_users(new_only=True) == {}
    assert len(detector.detect_user_anomalies("alice")) == 1


def test_days_are_calendar_days_in_the_tracker_timezone(
        make_tracker: Callable[..., CostTracker], clock: FakeClock) -> None:
    # 1.2.0 bucketed by the server's naive local time and crashed on aware timestamps.
    tracker = make_tracker(timezone="America/New_York")
    record_days(tracker, clock, [1.0] * 30)
    # 2026-11-24 02:00 UTC is still the 23rd in New York.
    clock.set(datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc))
    tracker.add_cost("gpt-4o", "openai", 100, 30.0, user_id="alice")
    spend = dict(tracker.daily_spend("alice", days=2))
    assert spend[datetime(2026, 11, 23).date()] == pytest.approx(31.0)
    anomalies = AnomalyDetector(tracker).detect_user_anomalies("alice")
    assert [a.timestamp.isoformat() for a in anomalies] == ["2026-11-23T00:00:00-05:00"]


def test_a_sparse_user_spending_as_usual_is_not_an_anomaly(tracker: CostTracker,
                                                           clock: FakeClock) -> None:
    record_days(tracker, clock, [10.0 if day % 5 == 0 else 0.0 for day in range(41)])
    assert AnomalyDetector(tracker).detect_user_anomalies("alice", lookback_days=14) == []


def test_global_tier_and_all_users(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [1.0] * 30 + [30.0], user_id="alice", user_tier="pro")
    record_days(tracker, clock, [1.0] * 31, user_id="bob")
    detector = AnomalyDetector(tracker)
    assert list(detector.detect_all_users()) == ["alice"]
    assert len(detector.detect_global_anomalies()) == 1
    assert len(detector.detect_global_anomalies(scope="tier:pro")) == 1
    assert detector.detect_global_anomalies(scope="model:gpt-4o-mini") == []


def test_bad_arguments_are_named(tracker: CostTracker) -> None:
    with pytest.raises(ValueError, match="sensitivity"):
        AnomalyDetector(tracker, sensitivity=0)
    with pytest.raises(ValueError, match="lookback_days"):
        AnomalyDetector(tracker).detect_user_anomalies("alice", lookback_days=0)
    with pytest.raises(ValueError, match="scope"):
        AnomalyDetector(tracker).detect_global_anomalies(scope="nonsense")


def test_hourly_granularity_judges_each_hour_against_the_same_hour(
        make_tracker: Callable[..., CostTracker], clock: FakeClock) -> None:
    tracker = make_tracker(hourly_rollups=True)
    today = at(clock, 0)
    for back in range(30, 0, -1):
        day = today - timedelta(days=back)
        clock.set(day.replace(hour=3, minute=10))
        tracker.add_cost("gpt-4o", "openai", 100, 0.1, user_id="alice")  # quiet nights
        clock.set(day.replace(hour=14, minute=10))
        tracker.add_cost("gpt-4o", "openai", 100, 5.0, user_id="alice")  # busy afternoons
    # $5 at 03:00 is an ordinary afternoon's spend, but a spike for the night.
    clock.set(today.replace(hour=3, minute=30))
    tracker.add_cost("gpt-4o", "openai", 100, 5.0, user_id="alice")
    assert tracker.hourly_spend("alice", hours=2)[0][1] == 0.0
    assert tracker.hourly_spend("alice", hours=1)[0][1] == pytest.approx(5.0)
    hourly = AnomalyDetector(tracker, granularity="hourly")
    found = hourly.detect_user_anomalies("alice", lookback_days=1)
    assert [a.metadata["hour"] for a in found] == [today.replace(hour=3).isoformat()]
    assert found[0].severity is AnomalySeverity.CRITICAL
    assert hourly.detect_user_anomalies("alice", lookback_days=1, new_only=True) == found
    assert hourly.detect_user_anomalies("alice", lookback_days=1, new_only=True) == []
    with pytest.raises(ValueError, match="granularity"):
        AnomalyDetector(tracker, granularity="weekly")
