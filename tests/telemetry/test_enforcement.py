"""Enforcement: modes, callbacks, the tightest period and degradation to a model that fits."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from cascadeflow.telemetry import (
    BudgetConfig,
    CostTracker,
    EnforcementAction,
    EnforcementCallbacks,
    EnforcementContext,
    graceful_degradation,
    strict_budget_enforcement,
    tier_based_enforcement,
)

CHAIN = {"gpt-4o": "gpt-4o-mini", "gpt-4o-mini": None}


def test_warn_mode_never_blocks(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker(enforcement_mode="warn")
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    tracker.add_cost("gpt-4o", "openai", 10, 1.0, user_id="u1")
    result = tracker.enforce("u1", "gpt-4o", 0.5)
    assert result.action is EnforcementAction.WARN
    assert result.model == "gpt-4o"


def test_block_mode_blocks_what_cannot_be_afforded(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker(enforcement_mode="block")
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    tracker.add_cost("gpt-4o", "openai", 10, 0.5, user_id="u1")
    assert tracker.enforce("u1", "gpt-4o", 0.1).action is EnforcementAction.ALLOW
    blocked = tracker.enforce("u1", "gpt-4o", 0.6)
    assert blocked.action is EnforcementAction.BLOCK
    assert blocked.context.budget_exceeded
    assert blocked.context.period_name == "daily"
    assert "daily" in blocked.reason


def test_block_mode_warns_past_the_threshold(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker(enforcement_mode="block", warn_threshold=0.8)
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    tracker.add_cost("gpt-4o", "openai", 10, 0.85, user_id="u1")
    result = tracker.enforce("u1", "gpt-4o", 0.01)
    assert result.action is EnforcementAction.WARN
    assert result.context.budget_used_pct == pytest.approx(85.0)


def test_degrade_mode_moves_to_the_first_model_that_fits(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker(enforcement_mode="degrade", degradation_map=CHAIN)
    tracker.set_user_budget("u1", BudgetConfig(daily=0.01))
    # gpt-4o: 1000 in + 500 out = $0.0075; gpt-4o-mini: $0.00045.
    tracker.add_cost("gpt-4o", "openai", 10, 0.005, user_id="u1")
    result = tracker.enforce("u1", "gpt-4o", prompt_tokens=1000, max_output_tokens=500)
    assert result.action is EnforcementAction.DEGRADE
    assert result.model == "gpt-4o-mini"
    assert result.estimated_cost == pytest.approx(0.00045)
    assert result.context.estimated_cost == pytest.approx(0.0075)


def test_degrade_mode_blocks_when_no_model_fits(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker(enforcement_mode="degrade", degradation_map=CHAIN)
    tracker.set_user_budget("u1", BudgetConfig(daily=0.01))
    tracker.add_cost("gpt-4o", "openai", 10, 0.01, user_id="u1")
    result = tracker.enforce("u1", "gpt-4o", prompt_tokens=1000, max_output_tokens=500)
    assert result.action is EnforcementAction.BLOCK
    assert result.model == "gpt-4o"


def test_degrade_scales_a_usd_estimate_by_price_when_no_tokens_are_given(
    make_tracker: Callable[..., CostTracker],
) -> None:
    tracker = make_tracker(enforcement_mode="degrade", degradation_map=CHAIN)
    tracker.set_user_budget("u1", BudgetConfig(daily=0.01))
    result = tracker.enforce("u1", "gpt-4o", 0.02)
    assert result.action is EnforcementAction.DEGRADE
    assert result.model == "gpt-4o-mini"
    assert result.estimated_cost == pytest.approx(0.02 * 7.5e-07 / 1.25e-05)


def test_tightest_period_is_reported(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker(enforcement_mode="block")
    tracker.set_user_budget("u1", BudgetConfig(daily=10.0, monthly=2.0))
    tracker.add_cost("gpt-4o", "openai", 10, 1.5, user_id="u1")
    context = tracker.enforce("u1", "gpt-4o", 0.1).context
    assert context.period_name == "monthly"
    assert context.budget_limit == 2.0
    assert context.current_cost == 1.5
    assert context.budget_used_pct == pytest.approx(75.0)
    assert context.total_cost == 1.5


def test_callbacks_replace_the_mode_and_first_non_allow_wins(
    make_tracker: Callable[..., CostTracker],
) -> None:
    callbacks = EnforcementCallbacks()
    seen: list[EnforcementContext] = []

    def observe(context: EnforcementContext) -> EnforcementAction:
        seen.append(context)
        return EnforcementAction.ALLOW

    callbacks.register(observe)
    callbacks.register(graceful_degradation)
    callbacks.register(strict_budget_enforcement)
    tracker = make_tracker(enforcement_callbacks=callbacks, degradation_map=CHAIN)
    tracker.set_user_budget("u1", BudgetConfig(daily=1.0))
    tracker.add_cost("gpt-4o", "openai", 10, 0.95, user_id="u1")
    result = tracker.enforce("u1", "gpt-4o", prompt_tokens=100, max_output_tokens=100)
    assert result.action is EnforcementAction.DEGRADE
    assert result.model == "gpt-4o-mini"
    assert len(seen) == 1 and seen[0].user_id == "u1"
    assert callbacks.get_stats()["total_checks"] == 1


def test_failing_and_ill_typed_callbacks_are_skipped_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    callbacks = EnforcementCallbacks()

    def explode(context: EnforcementContext) -> EnforcementAction:
        raise RuntimeError("boom")

    def wrong(context: EnforcementContext) -> EnforcementAction:
        return "block"  # type: ignore[return-value]

    callbacks.register(explode)
    callbacks.register(wrong)
    callbacks.register(strict_budget_enforcement)
    with caplog.at_level(logging.ERROR, logger="cascadeflow.enforcement"):
        action = callbacks.check(EnforcementContext(user_id="u1", budget_exceeded=True))
    assert action is EnforcementAction.BLOCK
    stats = callbacks.get_stats()
    assert stats["callback_errors"] == 1 and stats["invalid_results"] == 1
    assert "explode" in caplog.text and "wrong" in caplog.text
    callbacks.unregister(explode)
    callbacks.clear()
    assert callbacks.get_stats()["registered_callbacks"] == 0


@pytest.mark.parametrize(
    ("pct", "exceeded", "strict", "graceful"),
    [
        (10.0, False, "allow", "allow"),
        (80.0, False, "warn", "warn"),
        (90.0, False, "warn", "degrade"),
        (100.0, True, "block", "block"),
    ],
)
def test_builtin_thresholds_match_1_2_0(pct: float, exceeded: bool, strict: str,
                                        graceful: str) -> None:
    context = EnforcementContext(user_id="u", budget_used_pct=pct, budget_exceeded=exceeded)
    assert strict_budget_enforcement(context).value == strict
    assert graceful_degradation(context).value == graceful


@pytest.mark.parametrize(
    ("tier", "pct", "exceeded", "expected"),
    [
        ("free", 79.0, False, "allow"), ("free", 80.0, False, "warn"), ("free", 100, True, "block"),
        ("pro", 89.0, False, "allow"), ("pro", 90.0, False, "warn"), ("pro", 100, True, "degrade"),
        ("enterprise", 95.0, False, "warn"), ("enterprise", 150.0, True, "warn"),
        ("mystery", 150.0, True, "allow"),
    ],
)
def test_tier_based_enforcement(tier: str, pct: float, exceeded: bool, expected: str) -> None:
    context = EnforcementContext(user_id="u", user_tier=tier, budget_used_pct=pct,
                                 budget_exceeded=exceeded)
    assert tier_based_enforcement(context).value == expected


def test_user_without_budget_is_allowed(make_tracker: Callable[..., CostTracker]) -> None:
    tracker = make_tracker(enforcement_mode="block")
    result = tracker.enforce("nobody", "gpt-4o", 100.0)
    assert result.action is EnforcementAction.ALLOW
    assert result.context.budget_limit is None


def test_invalid_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="enforcement_mode"):
        CostTracker(enforcement_mode="panic")
