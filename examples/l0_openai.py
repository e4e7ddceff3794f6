"""cascadeflow.l0 around the OpenAI SDK, offline: the endpoint is faked with a mock transport.

The first request is rate limited (429, Retry-After: 0); L0 waits as told and retries; the
second streams text and usage. Newer openai builds send through ``httpx2`` (a fork of httpx
that respx cannot patch), older ones through ``httpx``; both ship a ``MockTransport``, so the
example answers with whichever module the installed SDK uses.
Run: ``.venv/bin/python examples/l0_openai.py``
"""

from __future__ import annotations

import asyncio
import importlib
import json
from types import ModuleType

from openai import AsyncOpenAI

from cascadeflow.l0 import RetryConfig, l0

URL = "https://api.openai.com/v1/chat/completions"


def sse(texts: list[str]) -> bytes:
    chunks = [{"id": "c1", "object": "chat.completion.chunk", "created": 0,
               "model": "gpt-4o-mini",
               "choices": [{"index": 0, "delta": {"content": t}, "finish_reason": None}]}
              for t in texts]
    chunks.append({"id": "c1", "object": "chat.completion.chunk", "created": 0,
                   "model": "gpt-4o-mini", "choices": [],
                   "usage": {"prompt_tokens": 9, "completion_tokens": len(texts),
                             "total_tokens": 9 + len(texts)}})
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return body.encode()


def sdk_http() -> ModuleType:
    """The HTTP module the installed openai SDK sends through (httpx2 or httpx)."""
    base = vars(importlib.import_module("openai._base_client"))
    return base.get("httpx2") or base["httpx"]


async def main() -> None:
    http = sdk_http()
    answers = [
        http.Response(429, json={"error": {"message": "slow down"}},
                      headers={"retry-after": "0"}),
        http.Response(200, content=sse(["Streams", " that", " survive", "."]),
                      headers={"content-type": "text/event-stream"}),
    ]

    def endpoint(request):  # the first request is refused, the second answered
        assert str(request.url) == URL
        return answers.pop(0)

    # L0 owns retries, so the SDK's own are switched off.
    client = AsyncOpenAI(api_key="sk-offline", max_retries=0, http_client=http.AsyncClient(
        transport=http.MockTransport(endpoint)))

    async def factory():  # called again for every retry
        return await client.chat.completions.create(
            model="gpt-4o-mini", stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "Say something reliable."}])

    def observe(event):
        if event.type == "retry":
            print(f"[retry] {event.data['reason']} after {event.data['delay']}s")

    result = await l0(factory, retry=RetryConfig(attempts=2), on_event=observe)
    async for event in result:
        if event.type == "token":
            print(event.value, end="", flush=True)
        elif event.type == "complete" and event.usage:
            print(f"\nusage: {event.usage['input_tokens']} in, "
                  f"{event.usage['output_tokens']} out")
    print("retries:", result.telemetry.retries)
    assert result.state.content == "Streams that survive."


if __name__ == "__main__":
    asyncio.run(main())
