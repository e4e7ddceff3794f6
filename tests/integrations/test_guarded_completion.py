"""The guarded completion/acompletion: enforce before, settle after, streams however they end."""

from __future__ import annotations

import asyncio
import gc

import litellm
import pytest

from cascadeflow import BudgetExceededError
from cascadeflow.integrations.litellm import (
    RetryPolicy,
    acompletion,
    completion,
    register,
)
from cascadeflow.telemetry import BudgetConfig, CostTracker

NO_WAIT = RetryPolicy(max_attempts=3, sleep=lambda seconds: None)
LONG_ANSWER = " ".join(f"word{index}" for index in range(60))


def test_sync_guarded_completion_is_metered_once(tracker, messages):
    response = completion(model="gpt-4o-mini", messages=messages, user="alice",
                          tracker=tracker, mock_response="Hello!")
    assert response.choices[0].message.content == "Hello!"
    [entry] = tracker.get_entries_by_user("alice")
    assert (entry.prompt_tokens, entry.completion_tokens) == (10, 20)
    assert entry.metadata["source"] == "guarded_completion"


def test_guarded_call_is_not_counted_again_by_the_registered_callback(tracker, messages,
                                                                        wait_until):
    callback = register(tracker)
    completion(model="gpt-4o-mini", messages=messages, user="bob", mock_response="Hi")
    completion(model="gpt-4o-mini", messages=messages, user="bob", mock_response="Hi")
    wait_until(lambda: callback.stats.left_to_guard == 2, message=lambda: repr(callback.stats))
    assert len(tracker.get_entries_by_user("bob")) == 2
    assert callback.stats.recorded == 2 and callback.stats.duplicates == 0


async def test_async_guarded_completion_is_metered_once(tracker, messages):
    await acompletion(model="gpt-4o-mini", messages=messages, user="carol", tracker=tracker,
                      mock_response="Hello!")
    [entry] = tracker.get_entries_by_user("carol")
    assert entry.completion_tokens == 20
    assert tracker.get_user_summary("carol")["reserved"] == 0.0


def test_sync_guarded_completion_blocks_before_sending(tracker, messages):
    tracker.set_user_budget("dan", BudgetConfig(daily=0.0))
    with pytest.raises(BudgetExceededError) as raised:
        completion(model="gpt-4o", messages=messages, user="dan", tracker=tracker,
                   mock_response="never")
    assert raised.value.period == "daily" and raised.value.limit == 0.0
    assert tracker.get_entries_by_user("dan") == []


def test_sync_guarded_completion_degrades(messages):
    tracker = CostTracker(enforcement_mode="degrade", degradation_map={"gpt-4o": "gpt-4o-mini"})
    tracker.set_user_budget("erin", BudgetConfig(daily=0.0002))
    response = completion(model="gpt-4o", messages=messages, user="erin", max_tokens=100,
                          tracker=tracker, mock_response="cheaper")
    assert response.model == "gpt-4o-mini"
    assert tracker.get_entries_by_user("erin")[0].model == "gpt-4o-mini"


def test_completed_stream_settles_from_the_delivered_tokens(tracker, messages):
    tracker.set_user_budget("fay", BudgetConfig(daily=1.0))
    stream = completion(model="gpt-4o-mini", messages=messages, user="fay", stream=True,
                        tracker=tracker, mock_response=LONG_ANSWER)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text == LONG_ANSWER
    [entry] = tracker.get_entries_by_user("fay")
    assert entry.metadata["stream_outcome"] == "completed"
    assert entry.completion_tokens == litellm.token_counter(model="gpt-4o-mini",
                                                            text=LONG_ANSWER)
    assert entry.prompt_tokens > 0
    assert tracker.get_user_summary("fay")["reserved"] == 0.0


def test_abandoned_sync_stream_is_settled_from_what_was_read(tracker, messages):
    tracker.set_user_budget("gus", BudgetConfig(daily=1.0))
    stream = completion(model="gpt-4o-mini", messages=messages, user="gus", stream=True,
                        tracker=tracker, mock_response=LONG_ANSWER)
    read = []
    for chunk in stream:
        read.append(chunk.choices[0].delta.content or "")
        if len(read) == 5:
            break
    del stream, chunk
    gc.collect()
    [entry] = tracker.get_entries_by_user("gus")
    assert entry.metadata["stream_outcome"] == "abandoned"
    delivered = litellm.token_counter(model="gpt-4o-mini", text="".join(read))
    assert entry.completion_tokens == delivered > 0
    assert entry.completion_tokens < litellm.token_counter(model="gpt-4o-mini",
                                                           text=LONG_ANSWER)
    assert tracker.get_user_summary("gus")["reserved"] == 0.0


async def test_abandoned_async_stream_is_settled_on_aclose(tracker, messages):
    stream = await acompletion(model="gpt-4o-mini", messages=messages, user="hal",
                               stream=True, tracker=tracker, mock_response=LONG_ANSWER)
    read = []
    async for chunk in stream:
        read.append(chunk.choices[0].delta.content or "")
        if len(read) == 3:
            break
    await stream.aclose()
    await stream.aclose()  # closing twice settles once
    [entry] = tracker.get_entries_by_user("hal")
    assert entry.metadata["stream_outcome"] == "abandoned"
    assert entry.completion_tokens == litellm.token_counter(model="gpt-4o-mini",
                                                            text="".join(read))


async def test_async_stream_settles_from_the_usage_chunk(tracker, messages):
    stream = await acompletion(model="gpt-4o-mini", messages=messages, user="ida",
                               stream=True, stream_options={"include_usage": True},
                               tracker=tracker, mock_response="short answer")
    usages = [chunk.usage async for chunk in stream if getattr(chunk, "usage", None)]
    assert usages, "the provider sent a usage chunk"
    [entry] = tracker.get_entries_by_user("ida")
    assert entry.metadata["tokens_from_usage"] is True
    assert (entry.prompt_tokens, entry.completion_tokens) == (
        usages[-1].prompt_tokens, usages[-1].completion_tokens)


def test_rate_limited_attempts_are_retried_and_each_metered(tracker, messages):
    register(tracker)
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_wait=0.25, sleep=waits.append)
    with pytest.raises(litellm.RateLimitError):
        completion(model="gpt-4o-mini", messages=messages, user="jo", tracker=tracker,
                   retry=policy, mock_response="litellm.RateLimitError")
    stats = register(tracker).stats
    assert stats.failures[("jo", "gpt-4o-mini")] == 3
    assert waits == [0.25, 0.5]
    assert tracker.get_entries_by_user("jo") == []


async def test_fifty_concurrent_calls_never_spend_past_a_budget_for_ten(messages):
    tracker = CostTracker(enforcement_mode="block")
    one_call = tracker.pricing.estimate_cost("gpt-4o-mini", 10, 20)
    # Every call reserves its prompt plus max_tokens=20 output, at least what it costs.
    estimate = tracker.pricing.estimate_cost(
        "gpt-4o-mini", litellm.token_counter(model="gpt-4o-mini", messages=messages), 20)
    assert estimate >= one_call
    tracker.set_user_budget("kai", BudgetConfig(daily=10 * estimate))

    async def one() -> bool:
        try:
            await acompletion(model="gpt-4o-mini", messages=messages, user="kai",
                              max_tokens=20, tracker=tracker, mock_response="Hi")
        except BudgetExceededError:
            return False
        return True

    results = await asyncio.gather(*(one() for _ in range(50)))
    summary = tracker.get_user_summary("kai")
    assert summary["total_cost"] <= 10 * estimate + 1e-12
    assert sum(results) == len(tracker.get_entries_by_user("kai")) >= 10
    assert results.count(False) > 0
    assert summary["reserved"] == 0.0


def test_a_call_without_a_tracker_is_a_clear_error(messages):
    with pytest.raises(ValueError, match="register"):
        completion(model="gpt-4o-mini", messages=messages, user="x", mock_response="Hi")
