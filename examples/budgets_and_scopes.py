"""Budgets as data: team, org, tag and key budgets, a model cap, quotas, a rate limit, rollover.

Offline (no model is called: costs are recorded directly). Two trackers stand for two
workers sharing one SQLite ledger; limits set through one apply in the other. Run with
``.venv/bin/python examples/budgets_and_scopes.py``.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker, RateLimit, Scope
from cascadeflow.cli import main as cascadeflow_command
from cascadeflow.storage import SQLiteStore

BERLIN = ZoneInfo("Europe/Berlin")


class Clock:
    """A clock this example moves by hand (to show a month boundary without waiting)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def refused(action: str, call: object) -> None:
    try:
        call()  # type: ignore[operator]
        print(f"{action}: allowed")
    except BudgetExceededError as exc:
        extra = f", retry after {exc.retry_after:.0f}s" if exc.retry_after is not None else ""
        print(f"{action}: refused by {exc.scope} ({exc.period}){extra}")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="cascadeflow-scopes-"))
    ledger = folder / "ledger.db"
    clock = Clock(datetime(2026, 11, 30, 18, 0, tzinfo=BERLIN))
    admin = CostTracker(store=SQLiteStore(ledger), timezone="Europe/Berlin", clock=clock,
                        enforcement_mode="degrade")
    worker = CostTracker(store=SQLiteStore(ledger), timezone="Europe/Berlin", clock=clock,
                         enforcement_mode="degrade")

    # 1. Limits are stored in the ledger: set by the admin, enforced by the worker.
    admin.set_budget("org:acme", BudgetConfig(monthly=20.0))
    admin.set_budget(Scope.team("search"), BudgetConfig(daily=1.0, requests={"daily": 500}))
    admin.set_budget(Scope.tag("batch"), BudgetConfig(daily=0.30))
    admin.set_budget(Scope.key("sk-live-123"), BudgetConfig(daily=5.0))
    admin.set_budget("team:search", BudgetConfig(daily=0.05), model="gpt-4o")
    admin.set_rate_limit("user:carol", RateLimit(rpm=2, max_parallel=4))
    admin.set_user_budget("alice", BudgetConfig(monthly=3.0, rollover=True, rollover_cap=1.0))
    for user in ("alice", "bob"):
        admin.set_user_team(user, "search")
        admin.set_user_org(user, "acme")
    print("stored limits:", len(admin.budgets()), "budgets and caps,",
          len(admin.rate_limits()), "rate limit")

    # 2. Every scope that applies is checked in one step; the refusal names the one that said no.
    worker.add_cost("gpt-4o-mini", "openai", 2_000, 0.25, user_id="alice", tags=["batch"])
    refused("bob, a batch job for $0.10", lambda: worker.reserve("bob", 0.10, tags=["batch"]))
    refused("bob, an interactive request for $0.10",
            lambda: worker.reserve("bob", 0.10).release())

    # 3. The team's cap on gpt-4o: spent, so DEGRADE walks down to a model that fits.
    worker.add_cost("gpt-4o", "openai", 3_000, 0.05, user_id="bob")
    decision = worker.enforce("bob", "gpt-4o", prompt_tokens=800, max_output_tokens=400)
    print(f"bob asks for gpt-4o: {decision.action.value} to {decision.model} ({decision.reason})")

    # 4. A rate limit: two requests a minute for carol, the third is told when to retry.
    for number in (1, 2, 3):
        refused(f"carol request {number}", lambda: worker.reserve("carol", 0.0).release())

    # 5. Rollover: alice spent $0.25 of $3 in November; December starts with $3 + $1 carried.
    clock.moment = datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)
    print("alice in December:", worker.remaining("alice"))
    print("report:", worker.budget_report("user:alice")[0])

    # 6. The ops surface reads the same ledger.
    cascadeflow_command(["budgets", "show", "team:search", "--db", str(ledger),
                         "--timezone", "Europe/Berlin"])
    admin.store.close()
    worker.store.close()


if __name__ == "__main__":
    main()
