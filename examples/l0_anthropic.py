"""cascadeflow.l0 around the Anthropic SDK, offline, with a fallback to a second model.

The first model's stream drops mid-answer; with no retries left L0 moves to the fallback,
which starts clean and also calls a tool. anthropic>=2 sends through its own httpx fork
(``httpx2``, which respx cannot patch), older builds through ``httpx``; both ship a
``MockTransport``, so the endpoint is faked with whichever module the installed SDK uses.
Run: ``.venv/bin/python examples/l0_anthropic.py``
"""

from __future__ import annotations

import asyncio
import importlib
import json
from types import ModuleType

from anthropic import AsyncAnthropic

from cascadeflow.l0 import RetryConfig, l0


def sse(model: str, texts: list[str], *, drop: bool = False) -> bytes:
    events = [
        {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0,
           "delta": {"type": "text_delta", "text": t}} for t in texts),
    ]
    if drop:  # the provider reports an overload mid-stream
        events.append({"type": "error",
                       "error": {"type": "overloaded_error", "message": "Overloaded"}})
    else:
        events += [
            {"type": "content_block_stop", "index": 0},
            {"type": "content_block_start", "index": 1, "content_block": {
                "type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}},
            {"type": "content_block_delta", "index": 1, "delta": {
                "type": "input_json_delta", "partial_json": '{"city": "Oslo"}'}},
            {"type": "content_block_stop", "index": 1},
            {"type": "message_delta", "delta": {"stop_reason": "tool_use",
                                                "stop_sequence": None},
             "usage": {"output_tokens": 20}},
            {"type": "message_stop"},
        ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def sdk_http() -> ModuleType:
    """The HTTP module the installed anthropic SDK sends through (httpx2 or httpx)."""
    base = vars(importlib.import_module("anthropic._base_client"))
    return base.get("httpx2") or base["httpx"]


def endpoint(request):
    model = json.loads(request.content)["model"]
    if model == "claude-sonnet-4-5":
        body = sse(model, ["The weather", " in Os"], drop=True)
    else:
        body = sse(model, ["Let me look", " that up."])
    return sdk_http().Response(200, content=body, headers={"content-type": "text/event-stream"})


async def main() -> None:
    http = sdk_http()
    client = AsyncAnthropic(api_key="sk-ant-offline", max_retries=0,
                            http_client=http.AsyncClient(transport=http.MockTransport(endpoint)))

    def ask(model: str):
        def factory():  # messages.stream() is an async context manager; L0 enters it
            return client.messages.stream(
                model=model, max_tokens=256,
                messages=[{"role": "user", "content": "Weather in Oslo?"}])
        return factory

    result = await l0(ask("claude-sonnet-4-5"), fallback_streams=[ask("claude-haiku-4-5")],
                      retry=RetryConfig(attempts=0, max_retries=0))
    async for event in result:
        if event.type == "token":
            print(event.value, end="", flush=True)
        elif event.type == "error":
            print(f"\n[{event.data['action']}: {event.error}; dropping what came so far]")
        elif event.type == "tool_call":
            print(f"\ntool call: {event.data['name']}({event.data['input']})")
        elif event.type == "complete" and event.usage:
            print(f"usage: {event.usage['input_tokens']} in, {event.usage['output_tokens']} out")
    print("answered by fallback", result.state.fallback_index, "->", repr(result.state.content))
    assert result.state.content == "Let me look that up."


if __name__ == "__main__":
    asyncio.run(main())
