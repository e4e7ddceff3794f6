"""A separate process recording spend on a shared ledger and printing the alerts it delivers.

Usage: ``python alert_worker.py STORE COUNT COST`` (STORE is ``sqlite:PATH`` or
``redis:URL``): prints ``ready``, waits for a line, records COUNT costs of COST for user
``alice``, printing ``alert KIND SCOPE PERIOD_KEY THRESHOLD`` for each alert delivered
here, then ``done``.
"""

from __future__ import annotations

import sys

from cascadeflow import BudgetAlert, CostTracker
from tests.storage.budget_worker import open_store


def main() -> None:
    spec, count, cost = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    delivered: list[BudgetAlert] = []
    tracker = CostTracker(store=open_store(spec), alert_thresholds=(0.5, 0.8, 0.95, 1.0),
                          on_alert=delivered.append)
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(count):
        tracker.add_cost("gpt-4o-mini", "openai", 100, cost, user_id="alice")
    for alert in delivered:
        print(f"alert {alert.kind} {alert.scope} {alert.period_key} {alert.threshold}",
              flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
