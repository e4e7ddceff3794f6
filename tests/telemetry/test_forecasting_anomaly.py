"""cascadeflow 1.2.0's ``tests/test_forecasting_anomaly.py`` cases, against our public API.

The original filled ``tracker.user_entries`` in place; these record through ``add_cost``
with the injectable clock, so the store's rollups see the same history.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cascadeflow.telemetry import (
    Anomaly,
    AnomalyDetector,
    AnomalySeverity,
    CostForecaster,
    CostPrediction,
    CostTracker,
    create_anomaly_alerts,
)
from tests.telemetry.conftest import FakeClock
from tests.telemetry.spend_history import at, record_days


@pytest.fixture
def tracker(make_tracker: Callable[..., CostTracker], clock: FakeClock) -> CostTracker:
    clock.set(at(clock, 0))
    return make_tracker()


# -- CostForecaster ------------------------------------------------------------------------
def test_forecaster_initialization(tracker: CostTracker) -> None:
    forecaster = CostForecaster(tracker, alpha=0.5, min_data_points=10)
    assert (forecaster.tracker, forecaster.alpha, forecaster.min_data_points) == (
        tracker, 0.5, 10)


def test_forecast_with_no_history_is_zero_with_no_confidence(tracker: CostTracker) -> None:
    prediction = CostForecaster(tracker).forecast_daily(days=7)
    assert prediction.predicted_cost == 0.0 and prediction.confidence == 0.0
    assert prediction.method == "no_data"


def test_forecast_with_insufficient_data_still_answers(tracker: CostTracker,
                                                       clock: FakeClock) -> None:
    record_days(tracker, clock, [1.0] * 3)
    prediction = CostForecaster(tracker, min_data_points=7).forecast_daily(days=7)
    assert prediction.method == "few_days"
    assert prediction.predicted_cost == pytest.approx(7.0)
    assert prediction.metadata["data_points"] == 3


def test_forecast_daily_with_stable_costs(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [1.0] * 30)
    prediction = CostForecaster(tracker).forecast_daily(days=7)
    assert prediction.predicted_cost == pytest.approx(7.0)
    assert prediction.trend == "stable"
    assert prediction.period_days == 7
    assert prediction.historical_average == pytest.approx(1.0)
    assert prediction.confidence > 0.7


def test_forecast_detects_an_increasing_trend(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [1.0 + 0.1 * day for day in range(30)])
    prediction = CostForecaster(tracker).forecast_daily(days=7)
    assert prediction.trend == "increasing"
    assert prediction.predicted_cost > 7 * 3.9


def test_forecast_detects_a_decreasing_trend(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [5.0 - 0.1 * day for day in range(30)])
    prediction = CostForecaster(tracker).forecast_daily(days=7)
    assert prediction.trend == "decreasing"
    assert prediction.predicted_cost < 7 * 2.1


def test_forecast_user(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [2.0] * 20, user_id="user_1")
    record_days(tracker, clock, [9.0] * 20, user_id="user_2")
    assert CostForecaster(tracker).forecast_user("user_1", days=7).predicted_cost == (
        pytest.approx(14.0))


def test_budget_runway(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [1.0] * 30, user_id="user_1")
    days, confidence = CostForecaster(tracker).calculate_budget_runway(10.0, user_id="user_1")
    assert days == pytest.approx(10.0)
    assert 0.0 < confidence <= 1.0


def test_prediction_bounds_hold_the_prediction(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [1.0 + 0.5 * (day % 3) for day in range(30)])
    prediction = CostForecaster(tracker).forecast_daily(days=7)
    assert 0.0 <= prediction.lower_bound <= prediction.predicted_cost <= prediction.upper_bound


def test_prediction_confidence_is_clamped() -> None:
    assert CostPrediction(1.0, 0.5, 1.5, 1.7, 7).confidence == 1.0
    assert CostPrediction(1.0, 0.5, 1.5, -0.2, 7).confidence == 0.0


# -- AnomalyDetector ------------------------------------------------------------------------
def test_detector_initialization(tracker: CostTracker) -> None:
    detector = AnomalyDetector(tracker, sensitivity=3.0, min_data_points=5)
    assert (detector.sensitivity, detector.min_data_points) == (3.0, 5)


def test_no_anomalies_in_normal_data(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [1.0 + 0.05 * (day % 5) for day in range(30)])
    assert AnomalyDetector(tracker).detect_global_anomalies(lookback_days=30) == []


def test_a_cost_spike_is_detected(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [1.0] * 29 + [10.0])
    anomalies = AnomalyDetector(tracker).detect_global_anomalies(lookback_days=7)
    assert len(anomalies) == 1
    assert anomalies[0].value == pytest.approx(10.0)
    assert anomalies[0].expected == pytest.approx(1.0)


def test_user_anomalies_and_all_users(tracker: CostTracker, clock: FakeClock) -> None:
    record_days(tracker, clock, [1.0] * 29 + [20.0], user_id="user_1")
    record_days(tracker, clock, [1.0] * 30, user_id="user_2")
    detector = AnomalyDetector(tracker)
    assert len(detector.detect_user_anomalies("user_1")) == 1
    assert detector.detect_user_anomalies("user_2") == []
    assert set(detector.detect_all_users()) == {"user_1"}


def test_severity_grows_with_the_deviation(tracker: CostTracker, clock: FakeClock) -> None:
    from cascadeflow.telemetry.anomaly import severity_of

    assert [severity_of(z, 2.5) for z in (3.0, 4.0, 6.0, 9.0)] == [
        AnomalySeverity.LOW, AnomalySeverity.MEDIUM, AnomalySeverity.HIGH,
        AnomalySeverity.CRITICAL]


def _anomaly(severity: AnomalySeverity, value: float = 15.0) -> Anomaly:
    from datetime import datetime, timezone

    return Anomaly(datetime(2026, 11, 24, tzinfo=timezone.utc), value, 10.0, 3.0, severity,
                   user_id="user_1")


def test_anomaly_deviation_percent_and_text() -> None:
    anomaly = _anomaly(AnomalySeverity.HIGH)
    assert anomaly.deviation_percent == pytest.approx(50.0)
    assert str(anomaly).startswith("HIGH: cost anomaly (user: user_1)")
    assert _anomaly(AnomalySeverity.LOW).__class__(
        anomaly.timestamp, 1.0, 0.0, 1.0, AnomalySeverity.LOW).deviation_percent == 0.0


def test_create_alerts_filters_by_severity() -> None:
    anomalies = [_anomaly(severity) for severity in AnomalySeverity]
    alerts = create_anomaly_alerts(anomalies, min_severity=AnomalySeverity.HIGH)
    assert [alert["severity"] for alert in alerts] == ["high", "critical"]
    assert alerts[0]["user_id"] == "user_1"
    assert alerts[0]["title"] == "HIGH Cost Anomaly Detected"


def test_create_alerts_default_is_medium() -> None:
    anomalies = [_anomaly(severity) for severity in AnomalySeverity]
    assert len(create_anomaly_alerts(anomalies)) == 3
