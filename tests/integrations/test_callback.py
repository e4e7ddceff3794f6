"""CascadeFlowLiteLLMCallback: every LiteLLM call metered once, against the right user."""

from __future__ import annotations

import litellm
import pytest
from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

from cascadeflow import BudgetExceededError
from cascadeflow.integrations.litellm import CascadeFlowLiteLLMCallback, register
from cascadeflow.telemetry import BudgetConfig, CostTracker

# LiteLLM's mock completion reports 10 prompt and 20 completion tokens.
MOCK_PROMPT, MOCK_COMPLETION = 10, 20


def test_sync_completion_is_recorded_once_for_the_user(tracker, messages, wait_until):
    callback = register(tracker)
    litellm.completion(model="gpt-4o-mini", messages=messages, user="alice",
                       mock_response="Hello!")
    wait_until(lambda: tracker.get_user_summary("alice")["total_entries"] == 1)
    [entry] = tracker.get_entries_by_user("alice")
    assert (entry.model, entry.provider) == ("gpt-4o-mini", "openai")
    assert (entry.prompt_tokens, entry.completion_tokens) == (MOCK_PROMPT, MOCK_COMPLETION)
    assert entry.cost == pytest.approx(tracker.pricing.estimate_cost("gpt-4o-mini", 10, 20))
    assert entry.query_id is not None
    assert entry.metadata["latency_ms"] >= 0
    assert callback.stats.recorded == 1


def test_user_comes_from_metadata_when_no_user_is_given(tracker, messages, wait_until):
    register(tracker, user_key="customer")
    litellm.completion(model="gpt-4o-mini", messages=messages, mock_response="Hi",
                       metadata={"customer": "bob", "user_tier": "pro"})
    wait_until(lambda: tracker.get_user_summary("bob")["total_entries"] == 1)
    [entry] = tracker.get_entries_by_user("bob")
    assert entry.user_tier == "pro"


def test_tier_falls_back_to_the_one_the_tracker_remembers(tracker, messages, wait_until):
    tracker.set_user_tier("carol", "enterprise")
    register(tracker)
    litellm.completion(model="gpt-4o-mini", messages=messages, user="carol", mock_response="Hi")
    wait_until(lambda: tracker.get_user_summary("carol")["total_entries"] == 1)
    assert tracker.get_entries_by_user("carol")[0].user_tier == "enterprise"


async def test_async_completion_is_recorded_once(tracker, messages, await_until):
    callback = register(tracker)
    await litellm.acompletion(model="gpt-4o-mini", messages=messages, user="alice",
                              mock_response="Hello!")
    await await_until(lambda: callback.stats.recorded == 1)
    [entry] = tracker.get_entries_by_user("alice")
    assert (entry.prompt_tokens, entry.completion_tokens) == (MOCK_PROMPT, MOCK_COMPLETION)
    assert tracker.get_user_summary("alice")["reserved"] == 0.0


async def test_async_stream_is_recorded_once_with_its_tokens(tracker, messages, await_until):
    callback = register(tracker)
    stream = await litellm.acompletion(model="gpt-4o-mini", messages=messages, user="dan",
                                       stream=True, mock_response="one two three four five")
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
    assert text == "one two three four five"
    await await_until(lambda: callback.stats.recorded == 1)
    [entry] = tracker.get_entries_by_user("dan")
    assert entry.completion_tokens > 0 and entry.prompt_tokens > 0
    assert entry.metadata["stream"] is True


def test_sync_stream_is_recorded_once(tracker, messages, wait_until):
    callback = register(tracker)
    stream = litellm.completion(model="gpt-4o-mini", messages=messages, user="erin",
                                stream=True, mock_response="a streamed answer")
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    wait_until(lambda: callback.stats.recorded == 1)
    assert tracker.get_entries_by_user("erin")[0].completion_tokens > 0


def test_sync_and_async_events_of_one_call_count_once(tracker, messages, wait_until):
    callback = register(tracker)
    response = litellm.completion(model="gpt-4o-mini", messages=messages, user="frank",
                                  mock_response="Hi")
    wait_until(lambda: callback.stats.recorded == 1)
    kwargs = {"model": "gpt-4o-mini", "user": "frank", "messages": messages,
              "litellm_call_id": tracker.get_entries_by_user("frank")[0].query_id}
    # LiteLLM delivering the same call again (its sync and async paths) must not double it.
    callback.log_success_event(kwargs, response, None, None)
    assert len(tracker.get_entries_by_user("frank")) == 1
    assert callback.stats.duplicates == 1


def test_register_twice_counts_once(tracker, messages, wait_until):
    first = register(tracker)
    second = register(tracker)
    assert first is second
    assert sum(isinstance(cb, CascadeFlowLiteLLMCallback) for cb in litellm.callbacks) == 1
    litellm.completion(model="gpt-4o-mini", messages=messages, user="gina", mock_response="Hi")
    wait_until(lambda: first.stats.recorded >= 1)
    litellm.completion(model="gpt-4o-mini", messages=messages, user="gina", mock_response="Hi")
    wait_until(lambda: first.stats.recorded >= 2)
    assert len(tracker.get_entries_by_user("gina")) == 2


async def test_failed_call_records_no_cost_and_counts_the_failure(tracker, messages,
                                                                   await_until):
    callback = register(tracker)
    with pytest.raises(litellm.RateLimitError):
        await litellm.acompletion(model="gpt-4o-mini", messages=messages, user="hank",
                                  mock_response="litellm.RateLimitError")
    await await_until(lambda: callback.stats.failures.get(("hank", "gpt-4o-mini")) == 1)
    assert tracker.get_entries_by_user("hank") == []
    assert callback.stats.recorded == 0


async def test_reservation_is_released_when_the_call_fails(tracker, messages, await_until):
    tracker.set_user_budget("ivy", BudgetConfig(daily=1.0))
    callback = register(tracker)
    with pytest.raises(litellm.RateLimitError):
        await litellm.acompletion(model="gpt-4o", messages=messages, user="ivy",
                                  max_tokens=100, mock_response="litellm.RateLimitError")
    await await_until(lambda: callback.stats.released == 1)
    assert tracker.get_user_summary("ivy")["reserved"] == 0.0
    assert tracker.remaining("ivy")["daily"] == pytest.approx(1.0)


async def test_reservation_is_settled_by_the_success_event(tracker, messages, await_until):
    tracker.set_user_budget("jay", BudgetConfig(daily=1.0))
    callback = register(tracker)
    await litellm.acompletion(model="gpt-4o", messages=messages, user="jay", max_tokens=500,
                              mock_response="Hi")
    await await_until(lambda: callback.stats.recorded == 1)
    summary = tracker.get_user_summary("jay")
    assert summary["reserved"] == 0.0
    [entry] = tracker.get_entries_by_user("jay")
    assert summary["total_cost"] == pytest.approx(entry.cost)
    assert entry.cost == pytest.approx(tracker.pricing.estimate_cost("gpt-4o", 10, 20))


async def test_pre_call_hook_blocks_a_user_over_budget(tracker, messages, await_until):
    tracker.set_user_budget("kim", BudgetConfig(daily=0.0))
    callback = register(tracker)
    with pytest.raises(BudgetExceededError) as raised:
        await litellm.acompletion(model="gpt-4o", messages=messages, user="kim",
                                  mock_response="never sent")
    assert (raised.value.user_id, raised.value.period) == ("kim", "daily")
    assert callback.stats.blocked == 1
    await GLOBAL_LOGGING_WORKER.flush()
    assert tracker.get_entries_by_user("kim") == []
    assert callback.stats.failures == {}


async def test_pre_call_hook_degrades_to_the_cheaper_model(messages, await_until):
    tracker = CostTracker(enforcement_mode="degrade",
                          degradation_map={"gpt-4o": "gpt-4o-mini"})
    # Room for a gpt-4o-mini call of 100 output tokens, not for gpt-4o's.
    tracker.set_user_budget("lee", BudgetConfig(daily=0.0002))
    callback = register(tracker)
    response = await litellm.acompletion(model="gpt-4o", messages=messages, user="lee",
                                         max_tokens=100, mock_response="cheaper")
    assert response.model == "gpt-4o-mini"
    await await_until(lambda: callback.stats.recorded == 1)
    [entry] = tracker.get_entries_by_user("lee")
    assert entry.model == "gpt-4o-mini"
    assert callback.stats.degraded == 1


def test_errors_inside_the_callback_never_break_the_call(messages, wait_until, caplog):
    class BrokenTracker(CostTracker):
        def add_cost(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("ledger down")

        def reserve(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("ledger down before the call")

    tracker = BrokenTracker()
    callback = register(tracker)
    response = litellm.completion(model="gpt-4o-mini", messages=messages, user="max",
                                  mock_response="still answered")
    assert response.choices[0].message.content == "still answered"
    # The pre-call hold and the success event each failed; the call was answered.
    wait_until(lambda: callback.stats.callback_errors == 2)
    assert "ledger down before the call" in caplog.text and "ledger down" in caplog.text


def test_unregister_leaves_other_callbacks_alone(tracker, messages):
    from litellm.integrations.custom_logger import CustomLogger

    from cascadeflow.integrations.litellm import unregister

    other = CustomLogger()
    litellm.callbacks.append(other)
    callback = register(tracker)
    litellm.completion(model="gpt-4o-mini", messages=messages, user="ned", mock_response="x")
    unregister(callback)
    lists = [getattr(litellm, name) for name in ("callbacks", "success_callback",
                                                 "_async_success_callback")]
    assert all(callback not in entries for entries in lists)
    assert other in litellm.callbacks


async def test_warn_mode_lets_an_over_budget_call_through_and_meters_it(messages, await_until,
                                                                        caplog):
    tracker = CostTracker(enforcement_mode="warn")
    tracker.set_user_budget("olga", BudgetConfig(daily=0.0))
    callback = register(tracker)
    response = await litellm.acompletion(model="gpt-4o-mini", messages=messages, user="olga",
                                         mock_response="allowed with a warning")
    assert response.choices[0].message.content == "allowed with a warning"
    await await_until(lambda: callback.stats.recorded == 1)
    stats = callback.stats
    assert (stats.warned, stats.unreserved, stats.blocked) == (1, 1, 0)
    assert "olga" in caplog.text
    assert len(tracker.get_entries_by_user("olga")) == 1
