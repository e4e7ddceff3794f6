"""cascadeflow 1.2.0's forecaster and anomaly detector on given series (run in .venv-peers).

Usage: ``python cascadeflow_1_2_0_intelligence.py CASES.json``, where the file holds
``{"forecast": [{"history": [...], "horizon": h}], "anomaly": [{"series": [...]}],
"scale": {"entries": N, "users": U}}``. Prints JSON: each forecast's interval, the days
each anomaly run flagged (as offsets from the series' end), and the timings at scale.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta

from cascadeflow.telemetry.cost_tracker import CostEntry, CostTracker

from cascadeflow.telemetry.anomaly import AnomalyDetector
from cascadeflow.telemetry.forecasting import CostForecaster


def _tracker(series: list[float], user: str = "u1") -> CostTracker:
    # 1.2.0's add_cost stamps datetime.now(): the history is appended as add_cost would.
    tracker = CostTracker()
    now = datetime.now().replace(hour=12, minute=0, second=0, microsecond=0)
    for index, value in enumerate(series):
        if value <= 0:
            continue  # no spend that day: 1.2.0 has no entry for it
        entry = CostEntry(timestamp=now - timedelta(days=len(series) - 1 - index),
                          model="gpt-4o", provider="openai", tokens=10, cost=value,
                          metadata={"user_id": user})
        tracker.entries.append(entry)
        tracker.user_entries[user].append(entry)
        tracker.by_user[user] += value
    return tracker


def main() -> None:
    with open(sys.argv[1]) as handle:
        cases = json.load(handle)
    forecasts = []
    for case in cases["forecast"]:
        prediction = CostForecaster(_tracker(case["history"])).forecast_user(
            "u1", days=case["horizon"])
        forecasts.append([prediction.predicted_cost, prediction.lower_bound,
                          prediction.upper_bound])
    flagged: dict[str, list[list[int]]] = {"default": [], "long": []}
    for case in cases["anomaly"]:
        series = case["series"]
        tracker = _tracker(series)
        today = datetime.now().date()
        for name, lookback in (("default", 7), ("long", len(series) + 1)):
            found = AnomalyDetector(tracker).detect_user_anomalies("u1", lookback_days=lookback)
            flagged[name].append(sorted({(today - a.timestamp.date()).days for a in found}))
    timings = {}
    scale = cases.get("scale")
    if scale:
        tracker = CostTracker()
        now = datetime.now()
        users, entries = scale["users"], scale["entries"]
        for number in range(entries):
            user = f"user-{number % users}"
            entry = CostEntry(timestamp=now - timedelta(seconds=(entries - number) * 5),
                              model="gpt-4o", provider="openai", tokens=10, cost=0.001,
                              metadata={"user_id": user})
            tracker.entries.append(entry)
            tracker.user_entries[user].append(entry)
            tracker.by_user[user] += 0.001
        start = time.perf_counter()
        CostForecaster(tracker).forecast_daily(days=7)
        timings["forecast_ms"] = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        AnomalyDetector(tracker).detect_all_users(lookback_days=7)
        timings["detect_all_users_ms"] = (time.perf_counter() - start) * 1e3
    print(json.dumps({"forecast": forecasts, "anomaly": flagged, "timings": timings}))


if __name__ == "__main__":
    main()
