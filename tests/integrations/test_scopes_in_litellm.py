"""Team, org, key and tag budgets through LiteLLM: read from metadata as LiteLLM carries them."""

from __future__ import annotations

import litellm
import pytest

from cascadeflow import BudgetConfig, BudgetExceededError, RateLimit, Scope
from cascadeflow.integrations.litellm import acompletion, completion, register
from cascadeflow.integrations.litellm._usage import scopes_of
from cascadeflow.telemetry import CostTracker


def one_call(tracker: CostTracker) -> float:
    # LiteLLM's mock answer: 10 prompt and 20 completion tokens.
    return tracker.pricing.estimate_cost("gpt-4o-mini", 10, 20)


def test_scopes_are_read_where_litellm_spend_tracking_keeps_them() -> None:
    found = scopes_of({"metadata": {"team_id": "search", "org_id": "acme",
                                    "tags": ["batch", "night"]}})
    assert (found.team, found.org, found.key, found.tags) == (
        "search", "acme", None, ("batch", "night"))
    proxy = scopes_of({"litellm_params": {"metadata": {
        "user_api_key_team_id": "t1", "user_api_key_org_id": "o1",
        "user_api_key_hash": "ab" * 32}}})
    assert (proxy.team, proxy.org, proxy.key) == ("t1", "o1", "ab" * 32)
    assert scopes_of({"metadata": {"squad": "x"}}, team_key="squad").team == "x"


async def test_a_team_budget_blocks_the_callbacks_acompletion_and_counts_its_spend(
    tracker: CostTracker, messages: list[dict[str, str]], await_until,
) -> None:
    tracker.set_budget("team:search", BudgetConfig(daily=2.5 * one_call(tracker)))
    callback = register(tracker)
    for user in ("alice", "bob"):
        await litellm.acompletion(model="gpt-4o-mini", messages=messages, user=user,
                                  mock_response="Hi", max_tokens=20,
                                  metadata={"team_id": "search"})
    await await_until(lambda: callback.stats.recorded == 2)

    with pytest.raises(BudgetExceededError) as refused:
        await litellm.acompletion(model="gpt-4o-mini", messages=messages, user="carol",
                                  mock_response="Hi", max_tokens=20,
                                  metadata={"team_id": "search"})
    assert refused.value.scope == "team:search"
    left = tracker.remaining("dan", team="search")["team:search daily"]
    assert left == pytest.approx(0.5 * one_call(tracker))


def test_a_tag_budget_and_a_rate_limit_apply_to_guarded_completions(
    tracker: CostTracker, messages: list[dict[str, str]],
) -> None:
    tracker.set_budget(Scope.tag("batch"), BudgetConfig(daily=1.5 * one_call(tracker)))
    tracker.set_rate_limit("org:acme", RateLimit(rpm=3))
    completion(model="gpt-4o-mini", messages=messages, user="alice", mock_response="Hi",
               max_tokens=20, metadata={"tags": ["batch"]}, tracker=tracker)
    with pytest.raises(BudgetExceededError) as over_tag:
        completion(model="gpt-4o-mini", messages=messages, user="bob", mock_response="Hi",
                   max_tokens=20, metadata={"tags": ["batch"]}, tracker=tracker)
    assert over_tag.value.scope == "tag:batch"

    for _ in range(3):
        completion(model="gpt-4o-mini", messages=messages, user="carol", mock_response="Hi",
                   max_tokens=20, metadata={"org_id": "acme"}, tracker=tracker)
    with pytest.raises(BudgetExceededError) as limited:
        completion(model="gpt-4o-mini", messages=messages, user="dan", mock_response="Hi",
                   max_tokens=20, metadata={"org_id": "acme"}, tracker=tracker)
    assert (limited.value.scope, limited.value.period) == ("org:acme", "rpm")
    assert limited.value.retry_after is not None and 0 < limited.value.retry_after <= 60


async def test_an_api_key_hash_in_proxy_metadata_counts_toward_the_key(
    tracker: CostTracker, messages: list[dict[str, str]],
) -> None:
    key_hash = Scope.key("sk-virtual-1").id
    tracker.set_budget(Scope.key("sk-virtual-1"), BudgetConfig(daily=2 * one_call(tracker)))
    await acompletion(model="gpt-4o-mini", messages=messages, user="alice",
                      mock_response="Hi", max_tokens=20, tracker=tracker,
                      metadata={"user_api_key_hash": key_hash})

    spent_once = 1.5 * one_call(tracker)
    assert tracker.can_afford("zoe", spent_once, key="sk-virtual-1") is False
    assert tracker.can_afford("zoe", spent_once, key=key_hash) is False
    assert tracker.can_afford("zoe", 0.5 * one_call(tracker), key=key_hash) is True
