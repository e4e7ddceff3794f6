"""extract_logprobs and Retry-After parsing, on LiteLLM's own types."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from email.utils import format_datetime

import httpx
import litellm
import pytest
from litellm.types.utils import ChatCompletionTokenLogprob, ChoiceLogprobs, Choices, ModelResponse

from cascadeflow.integrations.litellm import extract_logprobs, retry_after_seconds


def _response(logprobs: list[float] | None) -> ModelResponse:
    choice = Choices(index=0, finish_reason="stop",
                     message={"role": "assistant", "content": "yes no"})
    if logprobs is not None:
        choice.logprobs = ChoiceLogprobs(content=[
            ChatCompletionTokenLogprob(token=f"t{index}", logprob=value, top_logprobs=[])
            for index, value in enumerate(logprobs)])
    return ModelResponse(choices=[choice], model="gpt-4o-mini")


def test_confidence_is_the_geometric_mean_token_probability():
    summary = extract_logprobs(_response([math.log(0.9), math.log(0.4)]))
    assert summary is not None
    assert summary.tokens == ("t0", "t1")
    assert summary.mean_logprob == pytest.approx((math.log(0.9) + math.log(0.4)) / 2)
    assert summary.confidence == pytest.approx(math.sqrt(0.9 * 0.4))


def test_confidence_stays_strictly_between_zero_and_one():
    certain = extract_logprobs(_response([0.0, 0.0]))
    hopeless = extract_logprobs(_response([-2000.0]))
    assert certain is not None and hopeless is not None
    assert 0.0 < hopeless.confidence < certain.confidence < 1.0


def test_no_logprobs_gives_none():
    assert extract_logprobs(_response(None)) is None
    assert extract_logprobs({"choices": []}) is None


def test_legacy_completion_logprobs_from_a_dict():
    summary = extract_logprobs({"choices": [{"logprobs": {
        "tokens": ["a", "b"], "token_logprobs": [math.log(0.5), math.log(0.5)]}}]})
    assert summary is not None and summary.confidence == pytest.approx(0.5)


def test_logprob_confidence_lands_in_the_entry_metadata(tracker, messages):
    from cascadeflow.integrations.litellm import CascadeFlowLiteLLMCallback

    callback = CascadeFlowLiteLLMCallback(tracker)
    response = _response([math.log(0.8), math.log(0.8)])
    kwargs = {"model": "gpt-4o-mini", "messages": messages, "user": "lp",
              "litellm_call_id": "call-with-logprobs"}
    callback.log_success_event(kwargs, response, None, None)
    [entry] = tracker.get_entries_by_user("lp")
    assert entry.metadata["logprob_confidence"] == pytest.approx(0.8)
    assert entry.metadata["logprob_tokens"] == 2
    # No usage in this response: tokens were counted, never zero for a real answer.
    assert entry.prompt_tokens > 0 and entry.completion_tokens > 0


def _rate_limit(headers: dict[str, str]) -> litellm.RateLimitError:
    response = httpx.Response(429, headers=headers,
                              request=httpx.Request("POST", "http://provider.test"))
    return litellm.RateLimitError("slow down", llm_provider="openai", model="gpt-4o",
                                  response=response)


def test_retry_after_in_seconds_milliseconds_and_http_dates():
    assert retry_after_seconds(_rate_limit({"Retry-After": "3"})) == 3.0
    assert retry_after_seconds(_rate_limit({"retry-after-ms": "1500"})) == 1.5
    now = datetime(2026, 11, 24, 12, 0, 0, tzinfo=timezone.utc)
    later = format_datetime(datetime(2026, 11, 24, 12, 0, 7, tzinfo=timezone.utc), usegmt=True)
    assert retry_after_seconds(_rate_limit({"Retry-After": later}),
                               now=now.timestamp()) == 7.0
    assert retry_after_seconds(_rate_limit({})) is None
    assert retry_after_seconds(_rate_limit({"Retry-After": "soon"})) is None
