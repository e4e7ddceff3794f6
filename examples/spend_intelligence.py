"""Forecasts, anomalies and alerts on a simulated month (offline, in memory).

Alice spends about $14 a day against a $400 monthly budget; on the 24th a runaway job
spends $60 by noon. The tracker alerts once per threshold, warns of the projected overrun,
degrades her requests before the money is gone, and the detector reports the spike once.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from cascadeflow import BudgetAlert, BudgetConfig, CostTracker
from cascadeflow.telemetry import AnomalyDetector, CostForecaster


def main() -> None:
    now = [datetime(2026, 11, 1, 12, tzinfo=timezone.utc)]
    alerts: list[BudgetAlert] = []
    tracker = CostTracker(clock=lambda: now[0], alert_thresholds=(0.5, 0.8, 1.0),
                          on_alert=alerts.append, forecast_action="degrade")
    tracker.set_user_budget("alice", BudgetConfig(monthly=400.0))
    rng = random.Random(7)
    for day in range(23):
        now[0] = datetime(2026, 11, 1, 12, tzinfo=timezone.utc) + timedelta(days=day)
        tracker.add_cost("gpt-4o", "openai", 1200, round(rng.uniform(11.0, 17.0), 4),
                         user_id="alice")
    now[0] = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
    tracker.add_cost("gpt-4o", "openai", 9000, 60.0, user_id="alice")

    print("last 3 days:", [(str(day), round(usd, 2))
                           for day, usd in tracker.daily_spend("alice", days=3)])
    forecaster = CostForecaster(tracker)
    week = forecaster.forecast_daily(days=7, user_id="alice")
    print(f"next 7 days: ${week.predicted_cost:.2f} "
          f"(95%: ${week.lower_bound:.2f}-${week.upper_bound:.2f}, trend {week.trend})")
    outlook = forecaster.forecast_period_end("alice", "monthly")
    print(f"month end: ${outlook.projected:.2f} of ${outlook.limit:.2f}, "
          f"runs out on {outlook.runs_out_on}")
    for alert in alerts:
        print(f"alert ({alert.kind}): {alert.text()}")
    decision = tracker.enforce("alice", "gpt-4o", 0.05)
    print(f"enforce: {decision.action.value} -> {decision.model} ({decision.reason})")
    for anomaly in AnomalyDetector(tracker).detect_user_anomalies("alice", new_only=True):
        print(f"anomaly: {anomaly}")
    print("reported again:", AnomalyDetector(tracker).detect_user_anomalies("alice",
                                                                            new_only=True))


if __name__ == "__main__":
    main()
