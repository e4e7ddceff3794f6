"""A tier set by one worker on a shared store is honoured by every other worker."""

from __future__ import annotations

from cascadeflow import BudgetConfig, CostTracker
from cascadeflow.storage import RedisStore, SQLiteStore


def test_a_worker_started_earlier_sees_a_tier_set_later_elsewhere(redis_url: str) -> None:
    budgets = {"free": BudgetConfig(daily=0.10)}
    started_first = CostTracker(user_budgets=budgets, store=RedisStore(redis_url))
    started_first.TIER_REFRESH_SECONDS = 0.0
    other = CostTracker(user_budgets=budgets, store=RedisStore(redis_url))
    other.set_user_tier("bob", "free")
    other.add_cost("gpt-4o-mini", "openai", 10, 0.10, user_id="bob")
    assert not other.can_afford("bob", 0.05)
    assert not started_first.can_afford("bob", 0.05)
    assert started_first.get_user_tier("bob") == "free"


def test_sqlite_workers_share_tiers_too(tmp_path: object) -> None:
    path = f"{tmp_path}/ledger.db"
    budgets = {"free": BudgetConfig(daily=0.10)}
    first = CostTracker(user_budgets=budgets, store=SQLiteStore(path))
    first.TIER_REFRESH_SECONDS = 0.0
    second = CostTracker(user_budgets=budgets, store=SQLiteStore(path))
    second.set_user_tier("bob", "free")
    second.add_cost("gpt-4o-mini", "openai", 10, 0.10, user_id="bob")
    assert not first.can_afford("bob", 0.01)
