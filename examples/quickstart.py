"""Quick start: per-user budgets, a check before work, a reservation, and a report.

Run: python examples/quickstart.py   (offline; no LiteLLM call is made)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker, SQLiteStore


def main() -> None:
    ledger = Path(tempfile.mkdtemp()) / "ledger.db"
    tracker = CostTracker(
        user_budgets={"free": BudgetConfig(daily=0.05), "pro": BudgetConfig(daily=2.0)},
        enforcement_mode="block",
        store=SQLiteStore(ledger),   # survives restarts; several processes may share it
        timezone="Europe/Berlin",    # days start at local midnight, weeks on Monday
    )

    # 1. Record what a completion cost (LiteLLM's callback does this for you).
    tracker.add_cost("gpt-4o-mini", "openai", 1_200, 0.0009, user_id="alice", user_tier="free")

    # 2. Check before expensive work.
    print("alice can afford $0.01:", tracker.can_afford("alice", 0.01))
    print("alice can afford $0.10:", tracker.can_afford("alice", 0.10))

    # 3. Reserve the estimate, call the model, settle the real cost (race-free).
    try:
        with tracker.reserve("alice", 0.02, model="gpt-4o") as held:
            held.settle(0.013, provider="openai", prompt_tokens=900, completion_tokens=400)
    except BudgetExceededError as exc:
        print("refused:", exc)

    # 4. Enforcement decides per request: allow, warn, block or degrade.
    decision = tracker.enforce("alice", "gpt-4o", prompt_tokens=2_000, max_output_tokens=4_000)
    print("decision:", decision.action.value, "->", decision.model, "|", decision.reason)

    print("remaining:", tracker.remaining("alice"))
    tracker.print_summary()


if __name__ == "__main__":
    main()
