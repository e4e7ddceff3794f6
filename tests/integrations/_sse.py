"""A fake OpenAI-compatible provider over HTTP (respx): streamed answers that complete, stall,
break midway or are rate limited, scripted per model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import anyio
import httpx

API_BASE = "http://fake-provider.test/v1"
ROUTE = f"{API_BASE}/chat/completions"


@dataclass(frozen=True)
class Reply:
    """One scripted answer: ``words`` then ``end`` (``done``, ``stall``, ``reset``, ``429``)."""

    words: Sequence[str] = ()
    end: str = "done"
    prompt_tokens: int = 11


def _event(payload: Mapping[str, object]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


class _Stream(httpx.AsyncByteStream):
    def __init__(self, reply: Reply, model: str) -> None:
        self.reply, self.model = reply, model

    async def __aiter__(self) -> AsyncIterator[bytes]:
        base = {"id": "chatcmpl-x", "object": "chat.completion.chunk",
                "created": 1_700_000_000, "model": self.model}
        for index, word in enumerate(self.reply.words):
            delta: dict[str, str] = {"content": word}
            if index == 0:
                delta["role"] = "assistant"
            yield _event({**base, "choices": [{"index": 0, "delta": delta,
                                               "finish_reason": None}]})
        if self.reply.end == "stall":
            await anyio.sleep_forever()
        if self.reply.end == "reset":
            raise httpx.ReadError("connection reset by peer")
        yield _event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        yield _event({**base, "choices": [], "usage": {
            "prompt_tokens": self.reply.prompt_tokens,
            "completion_tokens": len(self.reply.words),
            "total_tokens": self.reply.prompt_tokens + len(self.reply.words)}})
        yield b"data: [DONE]\n\n"


@dataclass
class FakeProvider:
    """Answers each request with the next :class:`Reply` scripted for its model."""

    scripts: dict[str, list[Reply]]
    requests: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        model = json.loads(request.content)["model"]
        self.requests.append(model)
        script = self.scripts[model]
        reply = script.pop(0) if len(script) > 1 else script[0]
        if reply.end == "429":
            return httpx.Response(429, headers={"retry-after": "0"},
                                  json={"error": {"message": "slow down", "type": "rate_limit"}})
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              stream=_Stream(reply, model))


def words(count: int, stem: str = "w") -> list[str]:
    return [f" {stem}{index}" for index in range(count)]


def text_of(items: Iterable[str]) -> str:
    return "".join(items)
