"""Draw the README's spend chart (docs/spend-forecast.png) from a generated ledger.

A user on a $400 monthly budget has spent about $14 a day, rising, since November 1st;
the chart is what ``cascadeflow report --only alice --chart`` draws for them on the 24th.
Run: ``python scripts/make_spend_chart.py [OUT.png]`` (needs the ``plot`` extra).
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cascadeflow import BudgetConfig, CostTracker
from cascadeflow._cli_chart import draw_chart


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/spend-forecast.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    now = [datetime(2026, 10, 10, 12, tzinfo=timezone.utc)]
    tracker = CostTracker(clock=lambda: now[0])
    tracker.set_user_budget("alice", BudgetConfig(monthly=400.0))
    rng = random.Random(4)
    for day in range(45):
        now[0] = datetime(2026, 10, 10, 12, tzinfo=timezone.utc) + timedelta(days=day)
        level = 9.0 + 0.15 * day + (6.0 if day == 38 else 0.0) * 4
        for _ in range(6):
            tracker.add_cost("gpt-4o", "openai", 1000, round(level / 6 * rng.uniform(0.6, 1.4), 6),
                             user_id="alice")
    now[0] = datetime(2026, 11, 24, 10, tzinfo=timezone.utc)
    tracker.add_cost("gpt-4o", "openai", 1000, 7.0, user_id="alice")
    draw_chart(tracker, str(out), user_id="alice", limit=400.0)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
