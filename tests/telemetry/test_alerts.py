"""Budget alerts: once per threshold and period key, again next period, thresholds stored per
tier and scope, sinks that fail, forecast alerts, and enforce() acting on a forecast."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from cascadeflow import BudgetAlert, BudgetConfig, CostTracker
from cascadeflow.telemetry import EnforcementAction, LoggingSink
from tests.telemetry.conftest import FakeClock
from tests.telemetry.spend_history import at, record_days


def _thresholds(alerts: list[BudgetAlert]) -> list[tuple[str, str, float]]:
    return [(alert.kind, alert.period_key, alert.threshold) for alert in alerts]


def test_each_threshold_fires_once_per_period_and_again_next_period(
        make_tracker: Callable[..., CostTracker], clock: FakeClock) -> None:
    got: list[BudgetAlert] = []
    tracker = make_tracker(alert_thresholds=(0.5, 1.0), on_alert=got.append)
    tracker.set_user_budget("alice", BudgetConfig(daily=1.0))
    for _ in range(30):
        tracker.add_cost("gpt-4o", "openai", 10, 0.1, user_id="alice")
    assert _thresholds(got) == [("threshold", "daily:2026-11-24", 0.5),
                                ("threshold", "daily:2026-11-24", 1.0)]
    assert got[0].scope == "user:alice" and got[0].limit == 1.0
    assert got[0].spent == pytest.approx(0.5) and got[0].used_pct == pytest.approx(50.0)
    clock.advance(days=1)
    tracker.add_cost("gpt-4o", "openai", 10, 0.6, user_id="alice")
    assert _thresholds(got)[-1] == ("threshold", "daily:2026-11-25", 0.5)
    # Another tracker on the same store does not deliver them again.
    again: list[BudgetAlert] = []
    other = make_tracker(store=tracker.store, alert_thresholds=(0.5, 1.0), on_alert=again.append)
    other.add_cost("gpt-4o", "openai", 10, 0.01, user_id="alice")
    assert again == []


def test_thresholds_are_stored_per_tier_and_user(make_tracker: Callable[..., CostTracker]) -> None:
    got: list[BudgetAlert] = []
    tracker = make_tracker(user_budgets={"pro": BudgetConfig(daily=10.0)},
                           on_alert=got.append)
    tracker.set_alert_thresholds("tier:pro", (0.9,))
    tracker.set_alert_thresholds("user:carol", (0.1,))
    assert tracker.get_alert_thresholds("tier:pro") == (0.9,)
    tracker.add_cost("gpt-4o", "openai", 10, 5.0, user_id="bob", user_tier="pro")
    tracker.add_cost("gpt-4o", "openai", 10, 5.0, user_id="carol", user_tier="pro")
    assert [(a.user_id, a.threshold) for a in got] == [("carol", 0.1)]
    tracker.add_cost("gpt-4o", "openai", 10, 4.5, user_id="bob", user_tier="pro")
    assert [(a.user_id, a.threshold) for a in got][-1] == ("bob", 0.9)
    with pytest.raises(ValueError, match="fractions"):
        tracker.set_alert_thresholds("tier:pro", (0.5, -1.0))


def test_team_scope_alerts(make_tracker: Callable[..., CostTracker]) -> None:
    got: list[BudgetAlert] = []
    tracker = make_tracker(on_alert=got.append)
    tracker.set_budget("team:search", BudgetConfig(daily=2.0))
    tracker.set_user_team("alice", "search")
    tracker.set_user_team("bob", "search")
    tracker.set_alert_thresholds("team:search", (0.75,))
    tracker.add_cost("gpt-4o", "openai", 10, 1.0, user_id="alice")
    tracker.add_cost("gpt-4o", "openai", 10, 0.6, user_id="bob")
    tracker.add_cost("gpt-4o", "openai", 10, 0.1, user_id="alice")
    assert [(a.scope, a.user_id, a.threshold) for a in got] == [("team:search", "bob", 0.75)]


def test_a_failing_sink_never_breaks_recording(make_tracker: Callable[..., CostTracker],
                                               caplog: pytest.LogCaptureFixture) -> None:
    def broken(alert: BudgetAlert) -> None:
        raise RuntimeError("sink down")

    got: list[BudgetAlert] = []
    tracker = make_tracker(alert_thresholds=(0.5,), on_alert=[broken, got.append,
                                                                LoggingSink()])
    tracker.set_user_budget("alice", BudgetConfig(daily=1.0))
    with caplog.at_level(logging.WARNING, logger="cascadeflow.alerts"):
        tracker.add_cost("gpt-4o", "openai", 10, 0.7, user_id="alice")
    assert tracker.total_cost == pytest.approx(0.7)
    assert tracker.alert_failures == 1 and len(got) == 1
    assert "sink down" in caplog.text
    assert "70% of the daily budget used" in caplog.text


def test_a_forecast_alert_fires_once_with_the_projected_date(
        make_tracker: Callable[..., CostTracker], clock: FakeClock) -> None:
    got: list[BudgetAlert] = []
    tracker = make_tracker(alert_thresholds=(1.0,), on_alert=got.append)
    tracker.set_user_budget("alice", BudgetConfig(monthly=250.0))
    record_days(tracker, clock, [10.0] * 20)
    clock.set(at(clock, 12))
    tracker.add_cost("gpt-4o", "openai", 10, 5.0, user_id="alice")
    tracker.add_cost("gpt-4o", "openai", 10, 1.0, user_id="alice")
    forecasts = [a for a in got if a.kind == "forecast"]
    assert len(forecasts) == 1
    alert = forecasts[0]
    assert alert.period_key == "monthly:2026-11" and alert.limit == 250.0
    assert alert.projected is not None and alert.projected > 250.0
    # From $10 a day since the 4th (fired as soon as three days stood behind it): past
    # $250 on the 28th, while only $40 was spent.
    assert alert.runs_out_on is not None and alert.runs_out_on.isoformat() == "2026-11-28"
    assert alert.spent == pytest.approx(40.0)
    assert alert.details["lower"] <= alert.projected <= alert.details["upper"]
    assert "runs out on 2026-11-28" in alert.to_dict()["text"]


@pytest.mark.parametrize("action", ["warn", "degrade"])
def test_enforce_acts_on_a_forecast_while_budget_is_left(
        make_tracker: Callable[..., CostTracker], clock: FakeClock, action: str) -> None:
    tracker = make_tracker(forecast_action=action)
    # $12 a day since the 1st: $276 of $350 spent (79%, no warning yet), heading for $355.
    tracker.set_user_budget("alice", BudgetConfig(monthly=350.0))
    tracker.set_user_budget("bob", BudgetConfig(monthly=1000.0))
    record_days(tracker, clock, [12.0] * 23, user_id="alice")
    record_days(tracker, clock, [12.0] * 23, user_id="bob")
    clock.set(at(clock, 0))
    assert tracker.forecaster.forecast_period_end("alice").runs_out_on.isoformat() == (
        "2026-11-30")
    result = tracker.enforce("alice", "gpt-4o", 0.01)
    expected = EnforcementAction.WARN if action == "warn" else EnforcementAction.DEGRADE
    assert result.action is expected
    assert result.context.metadata["forecast"]["runs_out_on"] is not None
    assert "projection" in result.reason
    if action == "degrade":
        assert result.model != "gpt-4o"
    # Bob is projected to stay within his limit: allowed as before.
    assert tracker.enforce("bob", "gpt-4o", 0.01).action is EnforcementAction.ALLOW


def test_bad_alert_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="forecast_action"):
        CostTracker(forecast_action="panic")
    with pytest.raises(ValueError, match="on_alert"):
        CostTracker(on_alert=[42])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="alert_thresholds"):
        CostTracker(alert_thresholds="0.5")  # type: ignore[arg-type]


def test_new_anomalies_are_delivered_once_as_alerts(make_tracker: Callable[..., CostTracker],
                                                    clock: FakeClock) -> None:
    from cascadeflow.telemetry import AnomalyDetector

    got: list[BudgetAlert] = []
    tracker = make_tracker(on_alert=got.append)
    record_days(tracker, clock, [1.0] * 30 + [25.0])
    detector = AnomalyDetector(tracker)
    assert len(detector.alert_new_anomalies()) == 1
    assert detector.alert_new_anomalies() == []
    assert [(a.kind, a.period_key, a.spent) for a in got] == [
        ("anomaly", "daily:2026-11-23", 25.0)]
    assert "expected $1.00" in got[0].text() and got[0].details["severity"] == "critical"
