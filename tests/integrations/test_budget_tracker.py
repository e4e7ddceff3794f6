"""LiteLLMBudgetTracker: the simple per-user budget API, persisted in the tracker's store."""

from __future__ import annotations

import litellm
import pytest

from cascadeflow.integrations.litellm import LiteLLMBudgetTracker
from cascadeflow.storage import SQLiteStore
from cascadeflow.telemetry import CostTracker


def test_update_cost_prices_tokens_and_reduces_what_remains():
    budgets = LiteLLMBudgetTracker()
    budgets.set_user_budget("ann", 0.01)
    cost = budgets.update_cost("ann", "gpt-4o-mini", prompt_tokens=1000, completion_tokens=200)
    assert cost == pytest.approx(budgets.tracker.pricing.estimate_cost("gpt-4o-mini", 1000, 200))
    state = budgets.get_user_budget("ann")
    assert state["max_budget"] == 0.01
    assert state["current_cost"] == pytest.approx(cost)
    assert state["remaining"] == pytest.approx(0.01 - cost)
    assert state["exceeded"] is False


def test_update_cost_uses_the_responses_usage(messages):
    budgets = LiteLLMBudgetTracker()
    response = litellm.completion(model="gpt-4o", messages=messages, mock_response="Hi")
    cost = budgets.update_cost("bo", "gpt-4o", prompt_tokens=99_999, response=response)
    [entry] = budgets.tracker.get_entries_by_user("bo")
    assert (entry.prompt_tokens, entry.completion_tokens) == (10, 20)
    assert cost == pytest.approx(response._hidden_params["response_cost"])


def test_can_user_afford_and_exceeded():
    budgets = LiteLLMBudgetTracker()
    budgets.set_user_budget("cy", 0.001)
    assert budgets.can_user_afford("cy", 0.0009)
    budgets.update_cost("cy", "gpt-4o", prompt_tokens=400, completion_tokens=0)
    assert budgets.get_user_budget("cy")["exceeded"] is True
    assert not budgets.can_user_afford("cy", 0.0001)


def test_user_without_budget_has_no_limit():
    state = LiteLLMBudgetTracker().get_user_budget("nobody")
    assert state == {"max_budget": None, "current_cost": 0.0, "remaining": None,
                     "exceeded": False}


def test_reset_starts_from_zero_and_keeps_the_history():
    budgets = LiteLLMBudgetTracker()
    budgets.set_user_budget("di", 0.001)
    budgets.update_cost("di", "gpt-4o", prompt_tokens=400)
    budgets.reset_user_budget("di")
    assert budgets.get_user_budget("di")["current_cost"] == pytest.approx(0.0)
    assert budgets.can_user_afford("di", 0.0009)
    assert len(budgets.tracker.get_entries_by_user("di")) == 2


def test_state_persists_with_the_trackers_store(tmp_path):
    path = tmp_path / "ledger.db"
    first = LiteLLMBudgetTracker(CostTracker(store=SQLiteStore(path)))
    first.update_cost("ed", "gpt-4o-mini", prompt_tokens=1000, completion_tokens=100)
    again = LiteLLMBudgetTracker(CostTracker(store=SQLiteStore(path)))
    assert again.get_user_budget("ed")["current_cost"] == pytest.approx(
        first.get_user_budget("ed")["current_cost"])
