"""Code written against cascadeflow 1.2.0's telemetry API runs unchanged."""

from __future__ import annotations

from datetime import datetime, timezone

import cascadeflow
from cascadeflow.telemetry import (
    BudgetConfig,
    CostEntry,
    CostTracker,
    EnforcementAction,
    EnforcementCallbacks,
    EnforcementContext,
    tier_based_enforcement,
)


def test_1_2_0_style_session() -> None:
    tracker = CostTracker(budget_limit=10.0, warn_threshold=0.8, verbose=False,
                          user_budgets={"free": BudgetConfig(daily=0.10),
                                        "pro": BudgetConfig(daily=1.00, weekly=5.00)},
                          enforcement_mode="warn")
    tracker.add_cost(model="gpt-4", provider="openai", tokens=100, cost=0.003)
    tracker.add_cost("gpt-4o-mini", "openai", 50, 0.0002, "q-1", {"k": "v"}, "u1", "free")
    tracker.add_cost(model="claude-3-haiku", provider="anthropic", tokens=10, cost=0.05,
                     user_id="u2", user_tier="pro")
    assert tracker.total_cost == 0.0532
    assert tracker.by_model["gpt-4"] == 0.003
    assert tracker.by_provider == {"openai": 0.0032, "anthropic": 0.05}
    assert tracker.by_user == {"u1": 0.0002, "u2": 0.05}

    summary = tracker.get_summary()
    assert summary["total_entries"] == 3
    assert summary["budget_limit"] == 10.0
    assert summary["budget_remaining"] == 10.0 - 0.0532

    user = tracker.get_user_summary("u1", "free")
    assert user["total_cost"] == 0.0002
    assert user["period_costs"]["daily"]["limit"] == 0.10
    assert user["period_costs"]["daily"]["remaining"] == 0.0998
    assert not user["budget_exceeded"]

    assert tracker.can_afford("u1", 0.05, "free")
    assert not tracker.can_afford("u1", 0.2, "free")
    assert tracker.get_all_users() == ["u1", "u2"]
    assert tracker.get_users_by_tier("pro") == ["u2"]
    assert [e.model for e in tracker.get_recent_entries(2)] == ["gpt-4o-mini", "claude-3-haiku"]
    assert len(tracker.get_entries_by_model("gpt-4")) == 1
    assert len(tracker.get_entries_by_provider("openai")) == 2
    tracker.print_summary()
    tracker.reset()
    assert tracker.total_cost == 0.0 and tracker.entries == []


def test_1_2_0_cost_entry_constructor() -> None:
    entry = CostEntry(timestamp=datetime.now(timezone.utc), model="gpt-4", provider="openai",
                      tokens=10, cost=0.1, query_id="q", metadata={"a": 1})
    assert entry.user_id is None and entry.id


def test_1_2_0_callbacks_session() -> None:
    callbacks = EnforcementCallbacks(verbose=True)
    callbacks.register(tier_based_enforcement)
    context = EnforcementContext(user_id="u", user_tier="free", budget_used_pct=85.0)
    assert callbacks.check(context) is EnforcementAction.WARN
    assert callbacks.get_stats()["registered_callbacks"] == 1


def test_names_are_reexported_from_the_package_root() -> None:
    for name in cascadeflow.__all__:
        assert getattr(cascadeflow, name) is not None
