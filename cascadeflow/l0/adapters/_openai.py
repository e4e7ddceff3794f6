"""Adapters for OpenAI-shaped chunk streams: the OpenAI SDK's and LiteLLM's.

Both deliver ``choices[0].delta`` chunks: text in ``content``, tool calls as fragments keyed
by ``index``, and the usage on a final chunk (with ``stream_options={"include_usage": True}``).
"""

from __future__ import annotations

from typing import Any

from cascadeflow.l0._types import L0Event, TokenEvent
from cascadeflow.l0.adapters._base import ChunkDecoder, DecodingAdapter, module_of


def usage_dict(usage: Any) -> dict[str, Any]:
    """Normalise a usage object or dict to ``input_tokens``/``output_tokens``/``total_tokens``.

    Keeps the provider's own fields under ``raw``.
    """
    if isinstance(usage, dict):
        raw = dict(usage)
    elif hasattr(usage, "model_dump"):
        raw = usage.model_dump(exclude_none=True)
    else:
        raw = {k: v for k, v in vars(usage).items() if not k.startswith("_")}
    input_tokens = raw.get("prompt_tokens", raw.get("input_tokens"))
    output_tokens = raw.get("completion_tokens", raw.get("output_tokens"))
    total = raw.get("total_tokens")
    if total is None and input_tokens is not None and output_tokens is not None:
        total = input_tokens + output_tokens
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "total_tokens": total, "raw": raw}


class ToolCallAssembler:
    """Joins streamed tool-call fragments (``index``, ``id``, ``function.name/arguments``)."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[int, dict[str, Any]] = {}

    def add(self, index: int, call_id: str | None, name: str | None,
            arguments: str | None) -> None:
        """Merge one fragment into the call at ``index``."""
        call = self._calls.get(index)
        if call is None:
            call = self._calls[index] = {"index": index, "id": None, "name": None,
                                         "arguments": ""}
        if call_id:
            call["id"] = call_id
        if name:
            call["name"] = name
        if arguments:
            call["arguments"] += arguments

    def events(self) -> list[L0Event]:
        """One ``tool_call`` event per assembled call, in index order."""
        return [L0Event("tool_call", data=dict(self._calls[i])) for i in sorted(self._calls)]


class OpenAIChunkDecoder:
    """Decodes ``ChatCompletionChunk``-shaped chunks (OpenAI SDK and LiteLLM)."""

    __slots__ = ("finish_reason", "model", "tools", "usage")

    def __init__(self) -> None:
        self.tools: ToolCallAssembler | None = None
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.model: str | None = None

    def feed(self, chunk: Any) -> L0Event | None:
        """Return a token event for the chunk's text, or record what it carries."""
        choices = chunk.choices
        if choices:
            choice = choices[0]
            delta = choice.delta
            if choice.finish_reason is not None:
                self.finish_reason = choice.finish_reason
            if delta is not None:
                if delta.tool_calls:
                    self._add_tool_calls(delta.tool_calls)
                content = delta.content
                if content:
                    event = TokenEvent()
                    event.value = content
                    return event
        elif chunk.usage is not None:
            # The SDK sends usage on a last chunk with no choices.
            self.usage = usage_dict(chunk.usage)
            self.model = chunk.model
        return None

    def _add_tool_calls(self, fragments: Any) -> None:
        tools = self.tools
        if tools is None:
            tools = self.tools = ToolCallAssembler()
        for fragment in fragments:
            function = fragment.function
            tools.add(fragment.index or 0, fragment.id,
                      function.name if function is not None else None,
                      function.arguments if function is not None else None)

    def finish(self) -> list[L0Event]:
        """Assembled tool calls, then the ``complete`` event with usage and finish reason."""
        events = self.tools.events() if self.tools is not None else []
        events.append(L0Event("complete", usage=self.usage,
                              data={"finish_reason": self.finish_reason}))
        return events


class _LiteLLMChunkDecoder(OpenAIChunkDecoder):
    """LiteLLM chunks carry ``usage`` only as an optional attribute, sometimes with text."""

    __slots__ = ()

    def feed(self, chunk: Any) -> L0Event | None:
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage_dict(usage)
            self.model = getattr(chunk, "model", None)
        choices = chunk.choices
        if not choices:
            return None
        choice = choices[0]
        if choice.finish_reason is not None:
            self.finish_reason = choice.finish_reason
        delta = choice.delta
        if delta is None:
            return None
        if delta.tool_calls:
            self._add_tool_calls(delta.tool_calls)
        content = delta.content
        if content:
            event = TokenEvent()
            event.value = content
            return event
        return None


class OpenAIAdapter(DecodingAdapter):
    """OpenAI SDK chat-completion streams (``AsyncStream[ChatCompletionChunk]``).

    Example:
        >>> stream = await client.chat.completions.create(..., stream=True)
        >>> get_adapter("openai").detect(stream)
        True
    """

    name = "openai"

    def detect(self, stream: Any) -> bool:
        """An ``openai`` AsyncStream, or a ``ChatCompletionChunk`` as first chunk."""
        if module_of(stream) != "openai":
            return False
        return type(stream).__name__ in {"AsyncStream", "ChatCompletionChunk"}

    def decoder(self) -> ChunkDecoder:
        """A fresh :class:`OpenAIChunkDecoder`."""
        return OpenAIChunkDecoder()


class LiteLLMAdapter(DecodingAdapter):
    """LiteLLM streams: ``CustomStreamWrapper`` yielding ``ModelResponseStream`` chunks.

    Example:
        >>> stream = await litellm.acompletion(..., stream=True)
        >>> get_adapter("litellm").detect(stream)
        True
    """

    name = "litellm"

    def detect(self, stream: Any) -> bool:
        """A LiteLLM stream wrapper, or a LiteLLM chunk as first chunk."""
        if module_of(stream) != "litellm":
            return False
        return type(stream).__name__ in {"CustomStreamWrapper", "ModelResponseStream",
                                         "ModelResponse"}

    def decoder(self) -> ChunkDecoder:
        """A fresh decoder for LiteLLM chunks."""
        return _LiteLLMChunkDecoder()


__all__ = ["LiteLLMAdapter", "OpenAIAdapter", "OpenAIChunkDecoder", "ToolCallAssembler",
           "usage_dict"]
