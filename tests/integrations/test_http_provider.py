"""The guarded completion against a fake provider over HTTP (respx): retries and broken streams."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import litellm
import pytest
import respx

from cascadeflow.integrations.litellm import RetryPolicy, completion, register

API_BASE = "http://fake-provider.test/v1"
ROUTE = f"{API_BASE}/chat/completions"
MODEL = "openai/gpt-4o-mini"


def _answer(text: str) -> httpx.Response:
    return httpx.Response(200, json={
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    })


def _rate_limited(retry_after: str) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": retry_after},
                          json={"error": {"message": "slow down", "type": "rate_limit"}})


def _call(tracker, messages, **extra):  # type: ignore[no-untyped-def]
    return completion(model=MODEL, messages=messages, user="alice", tracker=tracker,
                      api_key="sk-test", api_base=API_BASE, **extra)


@respx.mock
def test_429_with_retry_after_waits_that_long_then_succeeds(tracker, messages):
    callback = register(tracker)
    route = respx.post(ROUTE).mock(side_effect=[_rate_limited("2"), _answer("finally")])
    waits: list[float] = []
    response = _call(tracker, messages, retry=RetryPolicy(max_attempts=3, sleep=waits.append))
    assert response.choices[0].message.content == "finally"
    assert route.call_count == 2
    assert waits == [2.0]
    [entry] = tracker.get_entries_by_user("alice")
    assert (entry.prompt_tokens, entry.completion_tokens) == (12, 7)
    assert entry.metadata["attempt"] == 2
    assert callback.stats.failures == {("alice", MODEL): 1}


@respx.mock
def test_retry_after_longer_than_max_wait_is_capped(tracker, messages):
    respx.post(ROUTE).mock(side_effect=[_rate_limited("120"), _answer("ok")])
    waits: list[float] = []
    _call(tracker, messages, retry=RetryPolicy(max_attempts=2, max_wait=5.0, sleep=waits.append))
    assert waits == [5.0]


@respx.mock
def test_rate_limits_past_the_last_attempt_raise_and_record_nothing(tracker, messages):
    respx.post(ROUTE).mock(side_effect=[_rate_limited("1"), _rate_limited("1")])
    with pytest.raises(litellm.RateLimitError):
        _call(tracker, messages, retry=RetryPolicy(max_attempts=2, sleep=lambda s: None))
    assert tracker.get_entries_by_user("alice") == []
    assert tracker.get_user_summary("alice")["reserved"] == 0.0


class _BrokenSSE(httpx.SyncByteStream):
    """Server-sent events that stop with a connection error after ``good`` chunks."""

    def __init__(self, words: list[str], good: int) -> None:
        self.words, self.good = words, good

    def __iter__(self) -> Iterator[bytes]:
        for index, word in enumerate(self.words[: self.good]):
            chunk = {"id": "chatcmpl-2", "object": "chat.completion.chunk",
                     "created": 1_700_000_000, "model": "gpt-4o-mini",
                     "choices": [{"index": 0, "delta": {"content": word},
                                  "finish_reason": None}]}
            if index == 0:
                chunk["choices"][0]["delta"]["role"] = "assistant"
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        raise httpx.ReadError("connection reset by peer")


@respx.mock
def test_stream_failing_midway_is_settled_from_what_was_delivered(tracker, messages):
    words = [f" token{index}" for index in range(20)]
    respx.post(ROUTE).mock(return_value=httpx.Response(
        200, headers={"content-type": "text/event-stream"}, stream=_BrokenSSE(words, 6)))
    stream = _call(tracker, messages, stream=True)
    received: list[str] = []
    with pytest.raises(Exception):  # noqa: B017 - LiteLLM maps the reset to its own error type
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    [entry] = tracker.get_entries_by_user("alice")
    assert entry.metadata["stream_outcome"] == "failed"
    assert "".join(received)
    assert entry.completion_tokens == litellm.token_counter(model="gpt-4o-mini",
                                                            text="".join(received))
    assert tracker.get_user_summary("alice")["reserved"] == 0.0
