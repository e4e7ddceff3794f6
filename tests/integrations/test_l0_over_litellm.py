"""L0 over LiteLLM: every attempt (guardrail retry, timeout, broken stream, fallback) is one
entry billed for what it delivered, whichever path meters it: the registered callback, the
guarded ``acompletion`` or ``l0_completion``. A fake provider over HTTP (respx)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import respx
from pydantic import BaseModel

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker
from cascadeflow._money import to_nanos
from cascadeflow.integrations.litellm import (
    RetryPolicy,
    acompletion,
    l0_completion,
    l0_structured,
    register,
)
from cascadeflow.l0 import RetryConfig, TimeoutConfig, l0
from cascadeflow.l0.guardrails import custom_pattern_rule
from cascadeflow.pricing import default_price_book
from tests.integrations._sse import API_BASE, ROUTE, FakeProvider, Reply

PRIMARY, BACKUP = "gpt-4o", "gpt-4o-mini"
# Common words are one token each: chunk counts and token counts agree on every path.
WORDS = [" the", " cat", " sat", " on", " the", " mat", " and", " the", " dog", " ran",
         " far", " away"]
RETRY = RetryConfig(attempts=1, max_retries=3, base_delay=0.0, max_delay=0.0)
TIMEOUT = TimeoutConfig(initial_token=5.0, inter_token=0.2)


@pytest.fixture(autouse=True)
def httpx_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """Async LiteLLM calls go through httpx (which respx intercepts), not aiohttp."""
    import litellm

    monkeypatch.setattr(litellm, "disable_aiohttp_transport", True, raising=False)


def guardrail() -> Any:
    return custom_pattern_rule([r"\bFORBIDDEN\b"], "forbidden word", "error")


def scripts() -> dict[str, list[Reply]]:
    """Primary: a guardrail violation, a stall, two broken streams; then the backup answers."""
    return {
        PRIMARY: [Reply([" FORBIDDEN", *WORDS[:2]]), Reply(WORDS[:3], "stall"),
                  Reply(WORDS[:4], "reset"), Reply(WORDS[:2], "reset")],
        BACKUP: [Reply(WORDS[:6])],
    }


def delivered(prompt: int) -> list[tuple[str, int, int]]:
    """(model, prompt tokens, completion tokens) each attempt delivered: the two streams
    that ended with the provider's usage report are billed from it (11 prompt tokens), the
    others from the prompt as counted before the call and the chunks delivered."""
    return sorted([(PRIMARY, 11, 3), (PRIMARY, prompt, 3), (PRIMARY, prompt, 4),
                   (PRIMARY, prompt, 2), (BACKUP, 11, 6)])


def nanos(model: str, prompt: int, completion: int) -> int:
    return to_nanos(default_price_book().estimate_cost(model, prompt, completion))


def assert_billed_as_delivered(tracker: CostTracker, user: str, prompt: int) -> None:
    entries = [entry for entry in tracker.entries if entry.user_id == user]
    assert len({entry.id for entry in entries}) == len(entries)
    assert sorted((e.model.split("/")[-1], e.prompt_tokens or 0, e.completion_tokens or 0)
                  for e in entries) == delivered(prompt)
    billed = sum(to_nanos(entry.cost) for entry in entries)
    assert billed == pytest.approx(sum(nanos(*row) for row in delivered(prompt)), abs=5)


async def _run_l0(factory_for: Callable[[str], Any]) -> str:
    result = await l0(factory_for(PRIMARY), fallback_streams=[factory_for(BACKUP)],
                      retry=RETRY, timeout=TIMEOUT, guardrails=[guardrail()])
    return await result.text()


async def _plain(**kwargs: Any) -> Any:
    import litellm

    return await litellm.acompletion(max_retries=0, **kwargs)


async def _guarded(**kwargs: Any) -> Any:
    return await acompletion(stream_options={"include_usage": True},
                             retry=RetryPolicy(max_attempts=1), **kwargs)


@respx.mock
@pytest.mark.parametrize("send", [_plain, _guarded], ids=["registered callback", "guarded"])
async def test_l0_over_litellm_bills_every_attempt_once_as_delivered(messages, send):
    """Plain ``litellm.acompletion`` (the registered callback meters it) or the guarded
    ``acompletion`` (it meters itself) as the factory of ``l0()``."""
    provider = FakeProvider(scripts())
    respx.post(ROUTE).mock(side_effect=provider)
    tracker = CostTracker(enforcement_mode="block")
    callback = register(tracker)

    def factory_for(model: str) -> Any:
        async def factory() -> Any:
            return await send(model=model, messages=messages, user="ana", stream=True,
                              api_base=API_BASE, api_key="sk-test")
        return factory

    assert await _run_l0(factory_for) == "".join(WORDS[:6])
    assert await callback.aflush()
    assert provider.requests == [PRIMARY] * 4 + [BACKUP]
    assert_billed_as_delivered(tracker, "ana", callback.meter.prompt_tokens(PRIMARY, messages))
    assert tracker.get_user_summary("ana")["reserved"] == 0.0


@respx.mock
async def test_l0_completion_bills_every_attempt_once_and_names_it(messages):
    provider = FakeProvider(scripts())
    respx.post(ROUTE).mock(side_effect=provider)
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("cy", BudgetConfig(daily=5.0))
    callback = register(tracker)
    result = await l0_completion(model=PRIMARY, messages=messages, user="cy",
                                 fallbacks=[BACKUP], retry=RETRY, timeout=TIMEOUT,
                                 guardrails=[guardrail()], api_base=API_BASE,
                                 api_key="sk-test")
    assert await result.text() == "".join(WORDS[:6])
    assert await callback.aflush()
    assert_billed_as_delivered(tracker, "cy", callback.meter.prompt_tokens(PRIMARY, messages))
    rows = [(e.metadata["l0_attempt"], e.metadata["l0_fallback_index"], e.metadata["l0_outcome"])
            for e in tracker.entries]
    assert rows == [(1, 0, "retried"), (2, 0, "retried"), (3, 0, "retried"), (4, 0, "retried"),
                    (5, 1, "completed")]
    assert to_nanos(result.telemetry.cost_usd or 0.0) == sum(
        to_nanos(entry.cost) for entry in tracker.entries)
    assert tracker.get_user_summary("cy")["reserved"] == 0.0
    assert callback.stats.recorded == 0  # the callback left every attempt to the guard


@respx.mock
async def test_degrade_fallbacks_move_a_rate_limited_primary_to_a_cheaper_model(messages):
    provider = FakeProvider({PRIMARY: [Reply(end="429")], BACKUP: [Reply(WORDS[:5])],
                             "gpt-5-nano": [Reply(WORDS[:5])]})
    respx.post(ROUTE).mock(side_effect=provider)
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("dee", BudgetConfig(daily=5.0))
    result = await l0_completion(model=PRIMARY, messages=messages, user="dee",
                                 tracker=tracker, fallbacks="degrade",
                                 retry=RetryConfig(max_retries=0), api_base=API_BASE,
                                 api_key="sk-test")
    assert await result.text() == "".join(WORDS[:5])
    assert provider.requests == [PRIMARY, BACKUP]
    assert result.state.fallback_index == 1
    failed, answered = tracker.entries
    assert (failed.model, failed.cost, failed.metadata["l0_outcome"]) == (PRIMARY, 0.0, "retried")
    assert answered.model == BACKUP and answered.metadata["l0_outcome"] == "completed"
    book = default_price_book()
    assert book.get(BACKUP).output_cost_per_token < book.get(PRIMARY).output_cost_per_token


@respx.mock
async def test_a_budget_that_fits_only_the_cheapest_model_starts_there(messages):
    provider = FakeProvider({"gpt-5-nano": [Reply(WORDS[:4])]})
    respx.post(ROUTE).mock(side_effect=provider)
    tracker = CostTracker(enforcement_mode="degrade")
    from cascadeflow.integrations.litellm._guard import _meter_for

    prompt = _meter_for(tracker)[0].prompt_tokens(PRIMARY, messages)
    book = default_price_book()
    cheapest = book.estimate_cost("gpt-5-nano", prompt, 200)
    next_up = book.estimate_cost(BACKUP, prompt, 200)
    assert cheapest < next_up
    tracker.set_user_budget("eve", BudgetConfig(daily=(cheapest + next_up) / 2))
    result = await l0_completion(model=PRIMARY, messages=messages, user="eve",
                                 tracker=tracker, fallbacks="degrade", max_tokens=200,
                                 api_base=API_BASE, api_key="sk-test")
    assert await result.text() == "".join(WORDS[:4])
    assert provider.requests == ["gpt-5-nano"]
    [entry] = tracker.entries
    assert entry.model == "gpt-5-nano"
    assert entry.metadata["requested_model"] == PRIMARY
    assert entry.metadata["enforcement"] == "degrade"


@respx.mock
async def test_l0_completion_with_nothing_left_sends_nothing(messages):
    route = respx.post(ROUTE).mock(side_effect=FakeProvider({PRIMARY: [Reply(WORDS)]}))
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("fay", BudgetConfig(daily=0.001))
    tracker.add_cost(PRIMARY, "openai", 10, 0.001, user_id="fay")
    result = await l0_completion(model=PRIMARY, messages=messages, user="fay",
                                 tracker=tracker, fallbacks="degrade", api_base=API_BASE,
                                 api_key="sk-test")
    with pytest.raises(BudgetExceededError) as refused:
        await result.text()
    assert refused.value.user_id == "fay"
    assert route.call_count == 0


@respx.mock
async def test_l0_completion_cuts_a_long_answer_at_what_the_user_has_left(messages):
    long_answer = WORDS * 400
    respx.post(ROUTE).mock(side_effect=FakeProvider({PRIMARY: [Reply(long_answer)]}))
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("gus", BudgetConfig(daily=0.002))
    result = await l0_completion(model=PRIMARY, messages=messages, user="gus",
                                 tracker=tracker, max_tokens=8_000, api_base=API_BASE,
                                 api_key="sk-test")
    with pytest.raises(BudgetExceededError):
        await result.text()
    [entry] = tracker.entries
    assert (entry.metadata["l0_outcome"], entry.metadata["enforcement"]) == ("budget", "capped")
    assert 0 < entry.completion_tokens < len(long_answer)
    assert to_nanos(entry.cost) <= to_nanos(0.002)
    affordable = 0
    while nanos(PRIMARY, entry.prompt_tokens, affordable + 1) <= to_nanos(0.002):
        affordable += 1
    assert entry.completion_tokens >= 0.9 * affordable
    assert result.state.content == "".join(long_answer[:entry.completion_tokens])


class Person(BaseModel):
    name: str
    age: int


@respx.mock
async def test_l0_structured_repairs_broken_json_and_bills_each_attempt(messages):
    broken = ['```json\n{"name": "Ada",', ' "age": 36,', ' }']
    provider = FakeProvider({BACKUP: [Reply(["not json at all"]), Reply(broken)]})
    respx.post(ROUTE).mock(side_effect=provider)
    tracker = CostTracker()
    tracker.set_user_budget("hal", BudgetConfig(daily=1.0))
    result = await l0_structured(Person, model=BACKUP, messages=messages, user="hal",
                                 tracker=tracker, retry=RetryConfig(attempts=2),
                                 api_base=API_BASE, api_key="sk-test")
    assert result.data == Person(name="Ada", age=36)
    assert result.corrected
    assert len(tracker.entries) == len(provider.requests) == 2
    assert all(entry.metadata["l0_outcome"] == "completed" for entry in tracker.entries)


@respx.mock
async def test_a_plain_stream_that_breaks_midway_is_billed_once_for_what_it_delivered(messages):
    import litellm

    respx.post(ROUTE).mock(side_effect=FakeProvider({PRIMARY: [Reply(WORDS[:5], "reset")]}))
    tracker = CostTracker(enforcement_mode="block")
    callback = register(tracker)
    stream = await litellm.acompletion(model=PRIMARY, messages=messages, user="ivy",
                                       stream=True, api_base=API_BASE, api_key="sk-test",
                                       max_retries=0)
    received = []
    with pytest.raises(Exception):  # noqa: B017 - LiteLLM maps the reset to its own type
        async for chunk in stream:
            received.append(chunk)
    await stream.aclose()
    del stream
    assert await callback.aflush()
    [entry] = tracker.entries
    assert len(received) == 5 and entry.completion_tokens == 5
    assert entry.metadata["stream_outcome"] in ("failed", "abandoned")
    assert entry.prompt_tokens == callback.meter.prompt_tokens(PRIMARY, messages)
    assert tracker.get_user_summary("ivy")["reserved"] == 0.0


async def test_l0_completion_uses_the_registered_tracker_and_the_metadata_user(messages):
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("jon", BudgetConfig(daily=1.0))
    callback = register(tracker)
    result = await l0_completion(model=BACKUP, messages=messages,
                                 metadata={"user_id": "jon"}, mock_response="fine, thanks")
    assert await result.text() == "fine, thanks"
    assert await callback.aflush()
    [entry] = tracker.entries
    assert entry.user_id == "jon" and entry.metadata["l0_outcome"] == "completed"
    assert result.telemetry.cost_usd == entry.cost


async def test_l0_completion_without_a_user_leaves_the_calls_to_the_callback(messages):
    tracker = CostTracker()
    callback = register(tracker)
    result = await l0_completion(model=BACKUP, messages=messages, mock_response="hello")
    assert await result.text() == "hello"
    assert await callback.aflush()
    [entry] = tracker.entries
    assert entry.user_id is None and entry.metadata["source"] == "litellm_callback"
    assert result.telemetry.cost_usd is None
