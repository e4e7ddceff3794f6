"""Recording spend and checking what a user can afford, period by period."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from cascadeflow.telemetry import BudgetConfig, CostTracker


def test_every_configured_period_is_enforced_by_can_afford(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker()
    # Daily is generous; the weekly limit is the one that binds.
    tracker.set_user_budget("u1", BudgetConfig(daily=10.0, weekly=2.0, monthly=50.0))
    tracker.add_cost("gpt-4o", "openai", 100, 1.5, user_id="u1")
    assert tracker.can_afford("u1", 0.5)
    assert not tracker.can_afford("u1", 0.51)
    tracker.add_cost("gpt-4o", "openai", 100, 0.5, user_id="u1")
    assert not tracker.can_afford("u1", 0.0)
    assert tracker.remaining("u1") == {"daily": 8.0, "weekly": 0.0, "monthly": 48.0}


def test_monthly_limit_binds_even_when_a_daily_limit_is_set(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=5.0, monthly=1.0))
    tracker.add_cost("gpt-4o", "openai", 100, 0.9, user_id="u1")
    assert not tracker.can_afford("u1", 0.2)


def test_a_new_user_cannot_afford_more_than_the_limit(
    make_tracker: Callable[..., CostTracker], tiers: dict[str, BudgetConfig]
) -> None:
    tracker = make_tracker(user_budgets=tiers)
    assert tracker.can_afford("newcomer", 1.0, user_tier="free")
    assert not tracker.can_afford("newcomer", 1.01, user_tier="free")


def test_user_without_limits_can_always_afford(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker()
    tracker.add_cost("gpt-4o", "openai", 100, 1000.0, user_id="u1")
    assert tracker.can_afford("u1", 1e6)
    assert tracker.remaining("u1") == {}


def test_zero_budget_allows_nothing(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker(user_budgets={"blocked": BudgetConfig(daily=0.0)})
    assert not tracker.can_afford("u1", 0.0, user_tier="blocked")
    assert not tracker.can_afford("u1", 0.000001, user_tier="blocked")


def test_per_user_budget_wins_over_the_tier(
    make_tracker: Callable[..., CostTracker], tiers: dict[str, BudgetConfig]
) -> None:
    tracker = make_tracker(user_budgets=tiers)
    tracker.set_user_tier("vip", "free")
    tracker.set_user_budget("vip", BudgetConfig(daily=3.0))
    tracker.add_cost("gpt-4o", "openai", 100, 2.0, user_id="vip")
    assert tracker.can_afford("vip", 1.0)
    assert not tracker.can_afford("other", 1.5, user_tier="free")
    tracker.set_user_budget("vip", None)
    assert not tracker.can_afford("vip", 0.0)


def test_tier_passed_once_is_remembered(
    make_tracker: Callable[..., CostTracker], tiers: dict[str, BudgetConfig]
) -> None:
    tracker = make_tracker(user_budgets=tiers)
    tracker.add_cost("gpt-4o", "openai", 100, 0.9, user_id="u1", user_tier="free")
    assert tracker.get_user_tier("u1") == "free"
    assert not tracker.can_afford("u1", 0.2)
    assert tracker.get_users_by_tier("free") == ["u1"]


def test_refund_lowers_spend(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    tracker.add_cost("gpt-4o", "openai", 100, 1.0, user_id="u1")
    assert not tracker.can_afford("u1")
    refund = tracker.add_cost("gpt-4o", "openai", 0, -0.25, user_id="u1",
                              metadata={"reason": "refund"})
    assert refund.cost == -0.25
    assert tracker.remaining("u1") == {"daily": 0.25}
    assert tracker.total_cost == pytest.approx(0.75)


@pytest.mark.parametrize("bad_cost", [math.nan, math.inf, -math.inf, "0.1", None, True])
def test_bad_cost_is_rejected_and_nothing_is_recorded(
    make_tracker: Callable[..., CostTracker], bad_cost: object
) -> None:
    tracker = make_tracker()
    with pytest.raises(ValueError, match="cost"):
        tracker.add_cost("gpt-4o", "openai", 100, bad_cost, user_id="u1")  # type: ignore[arg-type]
    assert tracker.entries == []
    assert tracker.total_cost == 0.0
    assert tracker.by_user == {}


@pytest.mark.parametrize("field", ["tokens", "prompt_tokens", "completion_tokens"])
def test_negative_token_counts_are_rejected(
    make_tracker: Callable[..., CostTracker], field: str
) -> None:
    tracker = make_tracker()
    kwargs: dict[str, object] = {"tokens": 10}
    kwargs[field] = -1
    with pytest.raises(ValueError, match=field):
        tracker.add_cost("gpt-4o", "openai", cost=0.1, user_id="u1", **kwargs)  # type: ignore[arg-type]
    assert tracker.entries == []


def test_sums_are_exact_over_many_small_costs(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker()
    for _ in range(10_000):
        tracker.add_cost("gpt-4o-mini", "openai", 10, 0.1, user_id="u1")
    assert tracker.total_cost == 1000.0
    assert tracker.by_user == {"u1": 1000.0}


def test_estimated_cost_must_be_a_number(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker()
    with pytest.raises(ValueError, match="estimated_cost"):
        tracker.can_afford("u1", math.nan)


async def test_async_twins_read_and_write_the_same_ledger(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker()
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    await tracker.aadd_cost("gpt-4o", "openai", 10, 0.75, user_id="u1")
    assert await tracker.acan_afford("u1", 0.25)
    assert not await tracker.acan_afford("u1", 0.26)
    assert await tracker.aremaining("u1") == {"daily": 0.25}


def test_overall_budget_limit_warns_once_when_passed(
    make_tracker: Callable[..., CostTracker], caplog: pytest.LogCaptureFixture
) -> None:
    tracker = make_tracker(budget_limit=1.0)
    with caplog.at_level("WARNING", logger="cascadeflow.tracker"):
        for _ in range(12):
            tracker.add_cost("gpt-4o", "openai", 10, 0.1, user_id="u1")
    assert tracker.budget_warned and tracker.budget_exceeded
    assert caplog.text.count("overall budget exceeded") == 1
    assert tracker.get_summary()["budget_exceeded"] is True
