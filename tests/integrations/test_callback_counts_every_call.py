"""The registered callback counts a call before it returns and bills every plain stream once,
however it ends (real LiteLLM with ``mock_response``, real SQLite files)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import litellm
import pytest

from cascadeflow._money import to_nanos
from cascadeflow.integrations.litellm import register
from cascadeflow.storage import SQLiteStore
from cascadeflow.telemetry import BudgetConfig, CostTracker

MODEL = "gpt-4o-mini"
ANSWER = " ".join(f"word{index}" for index in range(60))


@pytest.fixture(params=["memory", "sqlite"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> CostTracker:
    store = SQLiteStore(tmp_path / "ledger.db") if request.param == "sqlite" else None
    return CostTracker(enforcement_mode="block", store=store)


def delivered_text(chunks: list[object]) -> str:
    parts = []
    for chunk in chunks:
        for choice in getattr(chunk, "choices", None) or ():
            content = getattr(choice.delta, "content", None)
            if content:
                parts.append(content)
    return "".join(parts)


def expected_stream_bill(callback: object, messages: list[dict[str, str]],
                         text: str) -> tuple[int, int, int]:
    """Prompt tokens, completion tokens and nano-dollars a stream that delivered ``text`` owes."""
    meter = callback.meter  # type: ignore[attr-defined]
    prompt = meter.prompt_tokens(MODEL, messages)
    completion = litellm.token_counter(model=MODEL, text=text) if text else 0
    return prompt, completion, to_nanos(meter.price(MODEL, prompt, completion))


def test_can_afford_sees_a_sync_call_the_moment_it_returns(messages):
    tracker = CostTracker(enforcement_mode="block")
    callback = register(tracker)
    litellm.completion(model=MODEL, messages=messages, user="probe", max_tokens=64,
                       mock_response="The report is fine.")
    assert callback.flush()
    [probe] = tracker.entries
    # Room for about two such calls; estimates cover what the calls really use.
    tracker.set_user_budget("ana", BudgetConfig(daily=2.5 * probe.cost))
    through = 0
    while tracker.can_afford("ana") and through < 20:
        litellm.completion(model=MODEL, messages=messages, user="ana",
                           max_tokens=probe.completion_tokens or 1,
                           mock_response="The report is fine.")
        through += 1
    assert 1 <= through <= 3
    assert callback.flush()
    entries = [entry for entry in tracker.entries if entry.user_id == "ana"]
    assert len(entries) == through
    assert len({entry.query_id for entry in entries}) == through
    assert callback.pending == 0
    assert callback.stats.over_budget <= 1


def test_a_sync_call_over_budget_is_held_anyway_and_counted(messages):
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("ben", BudgetConfig(daily=0.000001))
    callback = register(tracker)
    litellm.completion(model=MODEL, messages=messages, user="ben", max_tokens=500,
                       mock_response="sent anyway")
    assert not tracker.can_afford("ben")
    assert callback.stats.over_budget == 1
    assert callback.flush()
    [entry] = tracker.entries
    assert entry.user_id == "ben"


def test_a_success_event_after_its_hold_lapsed_still_records_exactly_once(messages):
    moment = [datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)]
    tracker = CostTracker(enforcement_mode="block", clock=lambda: moment[0])
    tracker.set_user_budget("cy", BudgetConfig(daily=1.0))
    callback = register(tracker)
    response = litellm.completion(model=MODEL, messages=messages, mock_response="hi")
    assert callback.flush()  # no user: an entry without a user
    kwargs = {"litellm_call_id": "call-lapsed", "user": "cy", "model": MODEL,
              "messages": messages, "call_type": "completion", "stream": False,
              "litellm_params": {"acompletion": False}, "optional_params": {"max_tokens": 50}}
    callback.log_pre_api_call(MODEL, messages, kwargs)
    held = 1.0 - tracker.remaining("cy")["daily"]
    assert held > 0
    moment[0] += timedelta(minutes=10)  # past the hold's ttl
    assert tracker.remaining("cy")["daily"] == pytest.approx(1.0)
    callback.log_success_event(kwargs, response, None, None)
    callback.log_success_event(kwargs, response, None, None)  # LiteLLM may repeat it
    entries = [entry for entry in tracker.entries if entry.user_id == "cy"]
    assert len(entries) == 1
    assert tracker.remaining("cy")["daily"] == pytest.approx(1.0 - entries[0].cost)
    assert callback.stats.duplicates == 1
    assert callback.flush(timeout=0.5)


@pytest.mark.parametrize("chunks_read", [1, 7])
def test_a_sync_stream_dropped_after_k_chunks_is_billed_for_them_once(ledger, messages,
                                                                       chunks_read):
    callback = register(ledger)
    stream = litellm.completion(model=MODEL, messages=messages, user="dee", stream=True,
                                mock_response=ANSWER)
    read = [next(stream) for _ in range(chunks_read)]
    del stream
    gc.collect()
    assert callback.flush()
    [entry] = ledger.entries
    prompt, completion, nanos = expected_stream_bill(callback, messages, delivered_text(read))
    assert entry.metadata["stream_outcome"] == "abandoned"
    assert (entry.prompt_tokens, entry.completion_tokens) == (prompt, completion)
    assert to_nanos(entry.cost) == nanos
    assert entry.user_id == "dee"
    assert callback.stats.abandoned_streams == 1
    assert callback.flush() and len(ledger.entries) == 1


async def test_an_async_stream_closed_after_k_chunks_is_billed_for_them_once(ledger, messages):
    callback = register(ledger)
    stream = await litellm.acompletion(model=MODEL, messages=messages, user="eve",
                                       stream=True, mock_response=ANSWER)
    read = []
    async for chunk in stream:
        read.append(chunk)
        if len(read) == 5:
            break
    await stream.aclose()  # billed at once, while the stream is still referenced
    assert len(ledger.entries) == 1
    del stream, chunk
    assert await callback.aflush()
    [entry] = ledger.entries
    prompt, completion, nanos = expected_stream_bill(callback, messages, delivered_text(read))
    assert entry.metadata["stream_outcome"] == "abandoned"
    assert (entry.prompt_tokens, entry.completion_tokens) == (prompt, completion)
    assert to_nanos(entry.cost) == nanos
    assert ledger.remaining("eve") == {}  # no budget, and no hold left behind
    assert await callback.aflush() and len(ledger.entries) == 1


async def test_a_stream_read_to_the_end_is_recorded_once_as_completed(ledger, messages):
    callback = register(ledger)
    stream = await litellm.acompletion(model=MODEL, messages=messages, user="fay",
                                       stream=True, mock_response=ANSWER)
    text = delivered_text([chunk async for chunk in stream])
    assert text == ANSWER
    del stream
    assert await callback.aflush()
    [entry] = ledger.entries
    assert entry.metadata["stream_outcome"] == "completed"
    assert entry.completion_tokens == litellm.token_counter(model=MODEL, text=ANSWER)


def test_flush_reports_a_call_whose_event_never_came(tracker, messages):
    callback = register(tracker)
    kwargs = {"litellm_call_id": "never-answered", "user": "gus", "model": MODEL,
              "call_type": "completion", "litellm_params": {"acompletion": False}}
    callback.log_pre_api_call(MODEL, messages, kwargs)
    assert callback.pending == 1
    assert callback.flush(timeout=0.05) is False


def _sync_stream_to_the_end(messages: list[dict[str, str]]) -> Callable[[], str]:
    def run() -> str:
        stream = litellm.completion(model=MODEL, messages=messages, user="hal", stream=True,
                                    mock_response=ANSWER)
        return delivered_text(list(stream))

    return run


def test_a_sync_stream_read_to_the_end_is_not_billed_as_abandoned(tracker, messages):
    callback = register(tracker)
    assert _sync_stream_to_the_end(messages)() == ANSWER
    gc.collect()
    assert callback.flush()
    [entry] = tracker.entries
    assert entry.metadata["stream_outcome"] == "completed"
    assert callback.stats.abandoned_streams == 0
