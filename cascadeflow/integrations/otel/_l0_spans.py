"""One ``l0.run`` span per L0 run, built from its lifecycle events (never per token).

The span starts at ``session_start`` (as a child of whatever span is current where the
run is first iterated) and ends at ``session_end``, which the runtime emits exactly once
however the run ends, so a failed, aborted or abandoned run never leaks an open span.
Concurrent runs are told apart by ``stream_id``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from cascadeflow.integrations.otel import _semconv as sc
from cascadeflow.l0 import L0LifecycleEvent, LifecycleEventType, add_event_hook, remove_event_hook

if TYPE_CHECKING:
    from cascadeflow.integrations.otel._instrumentor import GenAIInstruments

_E = LifecycleEventType
# Checkpoints come every few tokens; a long run would drown its span in them.
_WANTED = frozenset(kind.value for kind in LifecycleEventType) - {_E.CHECKPOINT.value}


def _error_type(error: object) -> str:
    return type(error).__qualname__ if isinstance(error, BaseException) else "_OTHER"


def _event_attributes(event: L0LifecycleEvent) -> dict[str, Any]:
    """The span-event attributes of one lifecycle event (no message content)."""
    data = event.data
    kind = event.type
    attributes: dict[str, Any] = {"l0.attempt": event.attempt,
                                  "l0.fallback_index": event.fallback_index}
    if kind == _E.RETRY.value:
        attributes.update({"l0.retry.reason": data["reason"], "l0.retry.delay": data["delay"],
                           "l0.error.category": data["category"],
                           sc.ERROR_TYPE: _error_type(data["error"])})
    elif kind == _E.ERROR.value:
        attributes.update({"l0.error.category": data["category"],
                           sc.ERROR_TYPE: _error_type(data["error"])})
    elif kind == _E.VIOLATION.value:
        violation = data["violation"]
        attributes.update({"l0.guardrail.rule": str(getattr(violation, "rule", "unknown")),
                           "l0.guardrail.severity": str(getattr(violation, "severity", "")),
                           "l0.guardrail.recoverable": bool(getattr(violation, "recoverable",
                                                                    False))})
    elif kind == _E.DRIFT.value:
        attributes.update({"l0.drift.types": [str(t) for t in data["types"]],
                           "l0.drift.confidence": float(data["confidence"])})
    else:
        for key, value in data.items():  # plain scalars only (fallback index, timeout, ...)
            if isinstance(value, (bool, int, float, str)):
                attributes[f"l0.{key}"] = value
    return attributes


class L0RunTracer:
    """The L0 event hook of the instrumentor: spans, retry/fallback counters, stream timings."""

    def __init__(self, tracer: trace.Tracer, instruments: GenAIInstruments,
                 base_attributes: Callable[[str | None, str | None], dict[str, Any]],
                 stream_timings: Callable[[float, float | None, int, dict[str, Any]], None]
                 ) -> None:
        self._tracer = tracer
        self._instruments = instruments
        self._base_attributes = base_attributes
        self._stream_timings = stream_timings
        self._spans: dict[str, Span] = {}
        self._lock = threading.Lock()

    def attach(self) -> None:
        add_event_hook(self.on_event, types=_WANTED)

    def detach(self) -> None:
        remove_event_hook(self.on_event)

    def context_of(self, stream_id: str | None) -> Context | None:
        """A context whose current span is run ``stream_id``'s, while that run is open."""
        if stream_id is None:
            return None
        with self._lock:
            span = self._spans.get(stream_id)
        return trace.set_span_in_context(span) if span is not None else None

    @property
    def open_spans(self) -> int:
        """Runs whose span is still open."""
        return len(self._spans)

    def _metric_attributes(self, event: L0LifecycleEvent) -> dict[str, Any]:
        context = event.context
        provider = context.get("provider") or context.get(sc.PROVIDER_NAME)
        model = context.get("model") or context.get(sc.REQUEST_MODEL)
        return self._base_attributes(str(provider) if provider else None,
                                     str(model) if model else None)

    def on_event(self, event: L0LifecycleEvent) -> None:
        kind = event.type
        if kind == _E.SESSION_START.value:
            self._start(event)
            return
        with self._lock:
            span = (self._spans.pop(event.stream_id, None) if kind == _E.SESSION_END.value
                    else self._spans.get(event.stream_id))
        if kind == _E.RETRY.value:
            self._instruments.retries.add(1, {sc.RETRY_REASON: event.data["reason"]})
        elif kind == _E.FALLBACK.value:
            self._instruments.fallbacks.add(1)
        if span is None:  # the run started before instrument() was called
            return
        if kind == _E.SESSION_END.value:
            self._end(span, event)
        else:
            span.add_event(f"l0.{kind}", _event_attributes(event))

    def _start(self, event: L0LifecycleEvent) -> None:
        attributes = self._metric_attributes(event)
        attributes.update({"l0.stream_id": event.stream_id,
                           "l0.streams": event.data.get("streams", 1)})
        span = self._tracer.start_span("l0.run", kind=SpanKind.INTERNAL, attributes=attributes)
        with self._lock:
            self._spans[event.stream_id] = span

    def _end(self, span: Span, event: L0LifecycleEvent) -> None:
        data = event.data
        retries = data.get("retries") or {}
        span.set_attributes({
            "l0.outcome": data["outcome"],
            "l0.attempts": data["attempts"],
            "l0.retries": sum(retries.values()),
            "l0.fallbacks": data["fallbacks"],
            "l0.violations": data["violations"],
            "l0.token_count": data["token_count"],
        })
        if data.get("cost_usd") is not None:
            span.set_attributes({sc.COST_AMOUNT: data["cost_usd"], sc.COST_CURRENCY: "USD"})
        if data["outcome"] in ("failed", "aborted"):
            error_type = data.get("error_type") or data["outcome"]
            span.set_attribute(sc.ERROR_TYPE, error_type)
            span.set_status(Status(StatusCode.ERROR, error_type))
        first = data.get("time_to_first_token")
        if first is not None:
            self._stream_timings(first, data.get("duration"), data.get("token_count", 0),
                                 self._metric_attributes(event))
        span.end()


__all__ = ["L0RunTracer"]
