"""What the LiteLLM integration tells ledger observers about each completion attempt.

Built only when a ledger hook listens (``cascadeflow.telemetry.add_ledger_hook``): the
response's details (model, finish reasons, cache tokens) are read once, when the usage is,
and turned into one :class:`CompletionFinished` when the attempt is recorded or fails.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cascadeflow.telemetry._observers import CompletionFinished, publish

if TYPE_CHECKING:
    from cascadeflow._entry import CostEntry
    from cascadeflow.telemetry import EnforcementResult

    from ._metering import Usage

_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class ResponseDetails:
    """What a response says beyond its token counts (for spans, not for the ledger)."""

    model: str | None
    finish_reasons: tuple[str, ...]
    cache_read_tokens: int | None
    cache_creation_tokens: int | None
    #: Message content, only when OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT asks.
    input_messages: tuple[dict[str, Any], ...] | None = None
    output_messages: tuple[dict[str, Any], ...] | None = None


def _get(obj: object, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _tokens(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def capture_content() -> bool:
    """Whether ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` asks for content."""
    value = os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "")
    return value.strip().lower() in {"true", "1", "yes", "span_only", "span_and_event"}


def _as_genai_message(role: object, content: object) -> dict[str, Any]:
    """A message in the conventions' shape: role and text parts."""
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts.append({"type": "text", "content": content})
    elif isinstance(content, list):
        for part in content:
            text = _get(part, "text")
            if isinstance(text, str):
                parts.append({"type": "text", "content": text})
    return {"role": str(role or "user"), "parts": parts}


def _content(messages: object, response: object) -> tuple[tuple[dict[str, Any], ...],
                                                           tuple[dict[str, Any], ...]]:
    sent = tuple(_as_genai_message(_get(message, "role"), _get(message, "content"))
                 for message in (messages if isinstance(messages, (list, tuple)) else ()))
    answered = []
    for choice in _get(response, "choices") or ():
        message = _get(choice, "message")
        answer = _as_genai_message(_get(message, "role") or "assistant",
                                   _get(message, "content"))
        reason = _get(choice, "finish_reason")
        if reason:
            answer["finish_reason"] = str(reason)
        answered.append(answer)
    return sent, tuple(answered)


def response_details(response: object, messages: object = None) -> ResponseDetails:
    """The response model, finish reasons and prompt-cache tokens of a LiteLLM response
    (and the messages, when content capture is on)."""
    reasons = tuple(str(reason) for choice in (_get(response, "choices") or ())
                    if (reason := _get(choice, "finish_reason")))
    usage = _get(response, "usage")
    cache_read = _tokens(_get(usage, "cache_read_input_tokens"))
    if cache_read is None:
        cache_read = _tokens(_get(_get(usage, "prompt_tokens_details"), "cached_tokens"))
    model = _get(response, "model")
    sent = answered = None
    if capture_content():
        sent, answered = _content(messages, response)
    return ResponseDetails(model if isinstance(model, str) and model else None, reasons,
                           cache_read, _tokens(_get(usage, "cache_creation_input_tokens")),
                           sent, answered)


class DecisionMemory:
    """Pairs a reservation with the enforcement decision that made it, until it settles."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions: OrderedDict[str, EnforcementResult] = OrderedDict()

    def remember(self, reservation_id: str, decision: EnforcementResult) -> None:
        with self._lock:
            self._decisions[reservation_id] = decision
            while len(self._decisions) > _REMEMBERED:
                self._decisions.popitem(last=False)  # never settled; its lease lapsed

    def take(self, reservation_id: str | None) -> EnforcementResult | None:
        if reservation_id is None:
            return None
        with self._lock:
            return self._decisions.pop(reservation_id, None)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(metadata: Mapping[str, Any], key: str) -> float | None:
    milliseconds = metadata.get(key)
    return float(milliseconds) / 1000.0 if isinstance(milliseconds, (int, float)) else None


def _requested(model: str, decision: EnforcementResult | None) -> str:
    """The model the caller asked for (a degraded call records the cheaper one)."""
    if decision is not None and decision.context.model:
        return decision.context.model
    return model


def publish_recorded(usage: Usage, entry: CostEntry,
                     decision: EnforcementResult | None) -> None:
    """Tell the hooks that ``usage`` was recorded as ``entry``."""
    details = usage.details
    duration = _seconds(usage.metadata, "latency_ms")
    publish(CompletionFinished(
        operation="chat",
        request_model=_requested(usage.model, decision),
        response_model=(details.model if details is not None and details.model
                        else usage.model),
        provider=usage.provider,
        stream=bool(usage.metadata.get("stream")),
        start_time=time.time() - (duration or 0.0),
        duration=duration,
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cost=usage.cost,
        user_id=usage.user_id,
        user_tier=usage.user_tier,
        cache_read_tokens=details.cache_read_tokens if details is not None else None,
        cache_creation_tokens=details.cache_creation_tokens if details is not None else None,
        finish_reasons=details.finish_reasons if details is not None else (),
        error_type=("StreamFailed" if usage.metadata.get("stream_outcome") == "failed"
                    else None),
        decision=decision,
        source=str(usage.metadata.get("source", "litellm_callback")),
        entry_id=entry.id,
        time_to_first_chunk=_seconds(usage.metadata, "time_to_first_chunk_ms"),
        l0_stream_id=_text(usage.metadata.get("l0_stream_id")),
        input_messages=details.input_messages if details is not None else None,
        output_messages=details.output_messages if details is not None else None,
    ))


def publish_failed(model: str, provider: str, error: BaseException | None, *,
                   user_id: str | None, user_tier: str | None, stream: bool,
                   duration: float | None, source: str,
                   decision: EnforcementResult | None = None) -> None:
    """Tell the hooks that an attempt on ``model`` failed with ``error`` (nothing billed)."""
    publish(CompletionFinished(
        operation="chat", request_model=model, response_model=model, provider=provider,
        stream=stream, start_time=time.time() - (duration or 0.0), duration=duration,
        input_tokens=0, output_tokens=0, cost=0.0, user_id=user_id, user_tier=user_tier,
        error_type=type(error).__qualname__ if error is not None else "_OTHER",
        decision=decision, source=source))


__all__ = ["DecisionMemory", "ResponseDetails", "capture_content", "publish_failed",
           "publish_recorded", "response_details"]
