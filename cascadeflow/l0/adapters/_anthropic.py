"""Adapter for Anthropic SDK message streams (raw events, or ``client.messages.stream()``).

Text comes from ``content_block_delta`` text deltas; ``tool_use`` blocks are assembled from
their ``input_json_delta`` fragments; usage from ``message_start`` and ``message_delta``.
The helper stream's convenience events (``text``, ``input_json``, ...) repeat the raw
deltas and are ignored so nothing is counted twice.
"""

from __future__ import annotations

import json
from typing import Any

from cascadeflow.l0._errors import L0StreamError
from cascadeflow.l0._types import L0Event, TokenEvent
from cascadeflow.l0.adapters._base import ChunkDecoder, DecodingAdapter, module_of

_STREAM_CLASSES = {"AsyncStream", "AsyncMessageStream"}
_RAW_EVENTS = {"message_start", "content_block_start", "content_block_delta",
               "content_block_stop", "message_delta", "message_stop", "error", "ping"}


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


class AnthropicEventDecoder:
    """Decodes Anthropic raw message-stream events (objects or their dict form)."""

    __slots__ = ("_blocks", "finish_reason", "input_tokens", "output_tokens", "raw_usage")

    def __init__(self) -> None:
        self._blocks: dict[int, dict[str, Any]] = {}
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.raw_usage: dict[str, Any] = {}
        self.finish_reason: str | None = None

    def feed(self, chunk: Any) -> L0Event | None:
        """Return a token event for a text delta, or record what the event carries."""
        kind = _get(chunk, "type")
        if kind == "content_block_delta":
            delta = _get(chunk, "delta")
            delta_kind = _get(delta, "type")
            if delta_kind == "text_delta":
                text = _get(delta, "text")
                if not text:
                    return None
                event = TokenEvent()
                event.value = text
                return event
            if delta_kind == "input_json_delta":
                block = self._blocks.get(_get(chunk, "index") or 0)
                if block is not None:
                    block["arguments"] += _get(delta, "partial_json") or ""
            return None
        if kind == "content_block_start":
            block = _get(chunk, "content_block")
            if _get(block, "type") in {"tool_use", "server_tool_use"}:
                index = _get(chunk, "index") or 0
                self._blocks[index] = {"index": index, "id": _get(block, "id"),
                                       "name": _get(block, "name"), "arguments": ""}
            return None
        if kind == "message_start":
            self._record_usage(_get(_get(chunk, "message"), "usage"))
        elif kind == "message_delta":
            self.finish_reason = _get(_get(chunk, "delta"), "stop_reason") or self.finish_reason
            self._record_usage(_get(chunk, "usage"))
        elif kind == "error":
            error = _get(chunk, "error")
            raise L0StreamError(str(_get(error, "message") or "anthropic stream error"),
                                error_type=_get(error, "type"))
        return None

    def _record_usage(self, usage: Any) -> None:
        if usage is None:
            return
        raw = usage if isinstance(usage, dict) else usage.model_dump(exclude_none=True)
        self.raw_usage.update({k: v for k, v in raw.items() if v is not None})
        if raw.get("input_tokens") is not None:
            self.input_tokens = raw["input_tokens"]
        if raw.get("output_tokens") is not None:
            self.output_tokens = raw["output_tokens"]

    def finish(self) -> list[L0Event]:
        """Assembled tool calls (with parsed ``input``), then the ``complete`` event."""
        events = []
        for index in sorted(self._blocks):
            call = dict(self._blocks[index])
            try:
                call["input"] = json.loads(call["arguments"]) if call["arguments"] else {}
            except json.JSONDecodeError:
                call["input"] = None
            events.append(L0Event("tool_call", data=call))
        usage = None
        if self.raw_usage:
            total = None
            if self.input_tokens is not None and self.output_tokens is not None:
                total = self.input_tokens + self.output_tokens
            usage = {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                     "total_tokens": total, "raw": dict(self.raw_usage)}
        events.append(L0Event("complete", usage=usage,
                              data={"finish_reason": self.finish_reason}))
        return events


class AnthropicAdapter(DecodingAdapter):
    """Anthropic SDK streams: ``messages.create(stream=True)`` or ``messages.stream()``.

    Example:
        >>> async def factory():
        ...     return await client.messages.create(..., stream=True)
        >>> result = await l0(factory)
    """

    name = "anthropic"

    def detect(self, stream: Any) -> bool:
        """An ``anthropic`` stream object, or a raw stream event as first chunk."""
        if module_of(stream) != "anthropic":
            return False
        if type(stream).__name__ in _STREAM_CLASSES:
            return True
        return getattr(stream, "type", None) in _RAW_EVENTS

    def decoder(self) -> ChunkDecoder:
        """A fresh :class:`AnthropicEventDecoder`."""
        return AnthropicEventDecoder()


__all__ = ["AnthropicAdapter", "AnthropicEventDecoder"]
