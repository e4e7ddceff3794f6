"""Adapters against the SDKs' own chunk types (openai, anthropic, litellm) and plain streams."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from anthropic.types import (
    InputJSONDelta,
    Message,
    MessageDeltaUsage,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    TextBlock,
    TextDelta,
    ToolUseBlock,
    Usage,
)
from anthropic.types.raw_message_delta_event import Delta as AnthropicDelta
from openai.types.chat import ChatCompletionChunk
from openai.types.chat.chat_completion_chunk import (
    Choice,
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)
from openai.types.completion_usage import CompletionUsage

from cascadeflow.l0 import L0Event, L0StreamError, consume_stream, detect_adapter, l0
from cascadeflow.l0.adapters import get_adapter, register_adapter, unregister_adapter
from tests._sdk_http import mock_async_client, response


def _chunk(content: str | None = None, *, tools: list[ChoiceDeltaToolCall] | None = None,
           finish: str | None = None) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id="c1", object="chat.completion.chunk", created=0, model="gpt-4o-mini",
        choices=[Choice(index=0, finish_reason=finish,  # type: ignore[arg-type]
                        delta=ChoiceDelta(content=content, tool_calls=tools))])


def _usage_chunk() -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id="c1", object="chat.completion.chunk", created=0, model="gpt-4o-mini", choices=[],
        usage=CompletionUsage(prompt_tokens=11, completion_tokens=5, total_tokens=16))


def _fragment(index: int, *, call_id: str | None = None, name: str | None = None,
              arguments: str | None = None) -> ChoiceDeltaToolCall:
    return ChoiceDeltaToolCall(index=index, id=call_id, type="function" if call_id else None,
                               function=ChoiceDeltaToolCallFunction(name=name,
                                                                    arguments=arguments))


def _factory(items: list[Any]) -> Any:
    async def stream() -> AsyncIterator[Any]:
        for item in items:
            yield item
    return stream


async def test_openai_chunks_text_usage_and_tool_calls_assembled() -> None:
    chunks = [
        _chunk("Let me check"),
        _chunk(tools=[_fragment(0, call_id="call_a", name="weather", arguments='{"ci')]),
        _chunk(tools=[_fragment(1, call_id="call_b", name="time", arguments="{}")]),
        _chunk(tools=[_fragment(0, arguments='ty": "Oslo"}')]),
        _chunk(finish="tool_calls"),
        _usage_chunk(),
    ]
    assert detect_adapter(chunks[0]) is get_adapter("openai")
    result = await l0(_factory(chunks))
    events = await consume_stream(result)
    calls = [e.data for e in events if e.type == "tool_call"]
    assert calls == [
        {"index": 0, "id": "call_a", "name": "weather", "arguments": '{"city": "Oslo"}'},
        {"index": 1, "id": "call_b", "name": "time", "arguments": "{}"},
    ]
    complete = events[-1]
    assert complete.type == "complete" and complete.usage is not None
    assert (complete.usage["input_tokens"], complete.usage["output_tokens"],
            complete.usage["total_tokens"]) == (11, 5, 16)
    assert complete.data == {"finish_reason": "tool_calls"}
    assert result.state.content == "Let me check"
    assert result.state.tool_calls == calls and result.telemetry.usage == complete.usage


async def test_litellm_model_response_stream_chunks_with_usage() -> None:
    from litellm.types.utils import Delta, ModelResponseStream, StreamingChoices
    from litellm.types.utils import Usage as LiteLLMUsage

    chunks = [
        ModelResponseStream(choices=[StreamingChoices(delta=Delta(content="Hi"))]),
        ModelResponseStream(choices=[StreamingChoices(delta=Delta(content=" there"))]),
        ModelResponseStream(choices=[StreamingChoices(delta=Delta(), finish_reason="stop")]),
    ]
    last = ModelResponseStream(choices=[StreamingChoices(delta=Delta())])
    last.usage = LiteLLMUsage(prompt_tokens=7, completion_tokens=2, total_tokens=9)
    chunks.append(last)
    assert detect_adapter(chunks[0]) is get_adapter("litellm")
    result = await l0(_factory(chunks))
    events = await consume_stream(result)
    assert result.state.content == "Hi there"
    assert events[-1].usage is not None
    assert (events[-1].usage["input_tokens"], events[-1].usage["output_tokens"]) == (7, 2)


async def test_litellm_acompletion_stream_with_mock_response() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    async def factory() -> Any:
        return await litellm.acompletion(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}],
            mock_response="Hello from LiteLLM", stream=True,
            stream_options={"include_usage": True})

    result = await l0(factory)
    events = await consume_stream(result)
    assert result.state.content == "Hello from LiteLLM"
    assert events[-1].usage is not None and events[-1].usage["total_tokens"]


def _anthropic_events() -> list[Any]:
    start = RawMessageStartEvent(type="message_start", message=Message(
        id="msg_1", type="message", role="assistant", model="claude-3-5-haiku-latest",
        content=[], stop_reason=None, stop_sequence=None,
        usage=Usage(input_tokens=25, output_tokens=1)))
    return [
        start,
        RawContentBlockStartEvent(type="content_block_start", index=0,
                                  content_block=TextBlock(type="text", text="")),
        RawContentBlockDeltaEvent(type="content_block_delta", index=0,
                                  delta=TextDelta(type="text_delta", text="Checking")),
        RawContentBlockDeltaEvent(type="content_block_delta", index=0,
                                  delta=TextDelta(type="text_delta", text=" now")),
        RawContentBlockStopEvent(type="content_block_stop", index=0),
        RawContentBlockStartEvent(type="content_block_start", index=1, content_block=ToolUseBlock(
            type="tool_use", id="toolu_1", name="weather", input={})),
        RawContentBlockDeltaEvent(type="content_block_delta", index=1, delta=InputJSONDelta(
            type="input_json_delta", partial_json='{"city": ')),
        RawContentBlockDeltaEvent(type="content_block_delta", index=1, delta=InputJSONDelta(
            type="input_json_delta", partial_json='"Oslo"}')),
        RawContentBlockStopEvent(type="content_block_stop", index=1),
        RawMessageDeltaEvent(type="message_delta",
                             delta=AnthropicDelta(stop_reason="tool_use", stop_sequence=None),
                             usage=MessageDeltaUsage(output_tokens=42)),
        RawMessageStopEvent(type="message_stop"),
    ]


async def test_anthropic_events_text_tool_use_and_usage() -> None:
    items = _anthropic_events()
    assert detect_adapter(items[0]) is get_adapter("anthropic")
    result = await l0(_factory(items))
    events = await consume_stream(result)
    assert result.state.content == "Checking now"
    tool = next(e.data for e in events if e.type == "tool_call")
    assert tool is not None
    assert (tool["id"], tool["name"], tool["input"]) == ("toolu_1", "weather", {"city": "Oslo"})
    usage = events[-1].usage
    assert usage is not None and (usage["input_tokens"], usage["output_tokens"]) == (25, 42)
    assert events[-1].data == {"finish_reason": "tool_use"}


async def test_anthropic_error_event_becomes_a_retryable_error() -> None:
    decoder = get_adapter("anthropic").decoder()  # type: ignore[attr-defined]
    with pytest.raises(L0StreamError) as caught:
        decoder.feed({"type": "error", "error": {"type": "overloaded_error",
                                                  "message": "Overloaded"}})
    assert caught.value.error_type == "overloaded_error"


def _sse(events: list[dict[str, Any]], *, named: bool) -> bytes:
    lines = []
    for event in events:
        if named:
            lines.append(f"event: {event['type']}")
        lines.append(f"data: {json.dumps(event)}\n")
    if not named:
        lines.append("data: [DONE]\n")
    return ("\n".join(lines) + "\n").encode()


async def test_openai_sdk_stream_over_faked_http() -> None:
    from openai import AsyncOpenAI

    body = [
        {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini",
         "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        for text in ["Hello", " from", " OpenAI"]
    ]
    body.append({"id": "c", "object": "chat.completion.chunk", "created": 0,
                 "model": "gpt-4o-mini", "choices": [],
                 "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}})
    requests: list[str] = []

    def endpoint(request: Any) -> Any:
        requests.append(str(request.url))
        return response("openai", 200, content=_sse(body, named=False),
                        headers={"content-type": "text/event-stream"})

    client = AsyncOpenAI(api_key="sk-test", max_retries=0,
                         http_client=mock_async_client("openai", endpoint))

    async def factory() -> Any:
        return await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True,
            stream_options={"include_usage": True})

    result = await l0(factory, retry=None)
    events = await consume_stream(result)
    assert requests == ["https://api.openai.com/v1/chat/completions"]
    assert result.state.content == "Hello from OpenAI"
    assert events[-1].usage is not None and events[-1].usage["total_tokens"] == 6


async def test_anthropic_sdk_stream_over_faked_http() -> None:
    from anthropic import AsyncAnthropic

    raw = [event.model_dump(exclude_none=True) for event in _anthropic_events()]
    requests: list[str] = []

    def endpoint(request: Any) -> Any:
        requests.append(str(request.url))
        return response("anthropic", 200, content=_sse(raw, named=True),
                        headers={"content-type": "text/event-stream"})

    client = AsyncAnthropic(api_key="sk-ant-test", max_retries=0,
                            http_client=mock_async_client("anthropic", endpoint))

    def factory() -> Any:
        return client.messages.stream(model="claude-haiku-4-5", max_tokens=64,
                                      messages=[{"role": "user", "content": "hi"}])

    result = await l0(factory, retry=None)
    events = await consume_stream(result)
    assert requests == ["https://api.anthropic.com/v1/messages"]
    assert result.state.content == "Checking now"  # helper "text" events are not doubled
    assert events[-1].usage is not None and events[-1].usage["output_tokens"] == 42


async def test_l0_events_pass_through_and_custom_adapters_can_be_registered() -> None:
    assert await (await l0(_factory([L0Event("token", "a"), "b"]))).text() == "ab"

    class Shouting:
        name = "shouting"

        def detect(self, stream: Any) -> bool:
            return isinstance(stream, bytes)

        async def wrap(self, stream: Any) -> AsyncIterator[L0Event]:
            async for chunk in stream:
                yield L0Event("token", chunk.decode().upper())

    register_adapter(Shouting())
    try:
        assert await (await l0(_factory([b"hey", b" you"]))).text() == "HEY YOU"
    finally:
        unregister_adapter("shouting")
