"""Measures cascadeflow 1.2.0's CostTracker (run in .venv-peers); prints JSON medians in µs."""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import datetime

from cascadeflow.telemetry.cost_tracker import BudgetConfig, CostEntry, CostTracker


def main() -> None:
    history = int(sys.argv[1])
    calls = int(sys.argv[2])
    tracker = CostTracker(user_budgets={"pro": BudgetConfig(daily=1e9, monthly=1e9)})
    tracker.add_cost("gpt-4o-mini", "openai", 10, 1e-7, user_id="u1", user_tier="pro")
    # Build the history directly: its add_cost is O(n) per call, so n calls would take
    # minutes; the lists below are exactly what add_cost appends to.
    now = datetime.now()
    for _ in range(history - 1):
        entry = CostEntry(timestamp=now, model="gpt-4o-mini", provider="openai", tokens=10,
                          cost=1e-7, metadata={"user_id": "u1", "user_tier": "pro"})
        tracker.entries.append(entry)
        tracker.user_entries["u1"].append(entry)
        tracker.by_user["u1"] += 1e-7
        tracker.total_cost += 1e-7
    add, afford = [], []
    for _ in range(calls):
        start = time.perf_counter()
        tracker.add_cost("gpt-4o-mini", "openai", 10, 1e-7, user_id="u1", user_tier="pro")
        add.append(time.perf_counter() - start)
        start = time.perf_counter()
        tracker.can_afford("u1", 1e-4, "pro")
        afford.append(time.perf_counter() - start)
    print(json.dumps({"add_cost_us": statistics.median(add) * 1e6,
                      "can_afford_us": statistics.median(afford) * 1e6,
                      "history": len(tracker.entries)}))


if __name__ == "__main__":
    main()
