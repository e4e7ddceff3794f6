"""``CascadeflowInstrumentor``: cascadeflow's ledger, LiteLLM calls and L0 runs in OpenTelemetry.

Shaped like OpenTelemetry's own instrumentors. It never sets a global provider: without
providers it asks the global ones (through the API's proxies, so an SDK configured later
still receives the data). It is two observers: a ledger hook (entries, decisions,
refusals, completions) and an L0 event hook (runs); nothing runs per token.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from cascadeflow import __version__ as _VERSION
from cascadeflow.integrations.otel import _semconv as sc
from cascadeflow.integrations.otel._l0_spans import L0RunTracer
from cascadeflow.telemetry import (
    CompletionFinished,
    EnforcementAction,
    EnforcementDecided,
    EntryRecorded,
    LedgerEvent,
    ReservationRefused,
    add_ledger_hook,
    remove_ledger_hook,
)

logger = logging.getLogger("cascadeflow.integrations.otel")

_NAME = "cascadeflow"
# Attribute dicts of ledger entries are built once per (provider, model, tier[, user]).
_CACHED_ATTRIBUTE_SETS = 4096


class _Fan:
    """One metric, recorded into the same-named instrument of every attached meter."""

    __slots__ = ("instruments",)

    def __init__(self) -> None:
        self.instruments: list[Any] = []

    def record(self, value: float, attributes: dict[str, Any] | None = None) -> None:
        for instrument in self.instruments:
            instrument.record(value, attributes)

    def add(self, value: float, attributes: dict[str, Any] | None = None) -> None:
        for instrument in self.instruments:
            instrument.add(value, attributes)


class GenAIInstruments:
    """The metric instruments, in every meter attached (the instrumentation's, Prometheus')."""

    def __init__(self) -> None:
        self.token_usage, self.duration = _Fan(), _Fan()
        self.time_to_first_chunk, self.time_per_output_chunk = _Fan(), _Fan()
        self.cost, self.decisions, self.refusals = _Fan(), _Fan(), _Fan()
        self.retries, self.fallbacks = _Fan(), _Fan()
        self.meters: list[metrics.Meter] = []

    def attach(self, meter: metrics.Meter) -> None:
        """Create every instrument in ``meter`` too."""
        self.meters.append(meter)
        self.token_usage.instruments.append(meter.create_histogram(
            sc.TOKEN_USAGE, unit="{token}", description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=sc.TOKEN_USAGE_BUCKETS))
        self.duration.instruments.append(meter.create_histogram(
            sc.OPERATION_DURATION, unit="s", description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS))
        self.time_to_first_chunk.instruments.append(meter.create_histogram(
            sc.TIME_TO_FIRST_CHUNK, unit="s",
            description="Time to receive the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS))
        self.time_per_output_chunk.instruments.append(meter.create_histogram(
            sc.TIME_PER_OUTPUT_CHUNK, unit="s",
            description="Mean time per output chunk after the first, one value per stream.",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS))
        self.cost.instruments.append(meter.create_counter(
            sc.COST_TOTAL, unit="USD", description="Cost of recorded completions in USD."))
        self.decisions.instruments.append(meter.create_counter(
            sc.BUDGET_DECISIONS, unit="{decision}",
            description="Budget enforcement decisions by action."))
        self.refusals.instruments.append(meter.create_counter(
            sc.BUDGET_REFUSALS, unit="{reservation}",
            description="Reservations refused for lack of budget."))
        self.retries.instruments.append(meter.create_counter(
            sc.L0_RETRIES, unit="{retry}", description="L0 retries by reason."))
        self.fallbacks.instruments.append(meter.create_counter(
            sc.L0_FALLBACKS, unit="{fallback}", description="L0 fallbacks taken."))


    def detach(self, meter: metrics.Meter) -> None:
        """Stop recording into ``meter``."""
        if meter not in self.meters:
            return
        index = self.meters.index(meter)
        del self.meters[index]
        for fan in (self.token_usage, self.duration, self.time_to_first_chunk,
                    self.time_per_output_chunk, self.cost, self.decisions, self.refusals,
                    self.retries, self.fallbacks):
            del fan.instruments[index]


def get_cascadeflow_meter(meter_provider: metrics.MeterProvider | None) -> metrics.Meter:
    """cascadeflow's meter from ``meter_provider`` (else the global one)."""
    return metrics.get_meter(_NAME, _VERSION, meter_provider, schema_url=sc.SCHEMA_URL)


class CascadeflowInstrumentor:
    """Instruments every ``CostTracker``, the LiteLLM integration and ``l0()`` runs.

    ``instrument()`` starts reporting, ``uninstrument()`` stops. Like OpenTelemetry's
    instrumentors it is a singleton: instrumenting twice is a no-op with a warning.

    Example:
        >>> from cascadeflow.integrations.otel import CascadeflowInstrumentor
        >>> CascadeflowInstrumentor().instrument()          # global providers
        >>> CascadeflowInstrumentor().instrument(meter_provider=my_meter_provider)

    .. versionadded:: 0.1
    """

    _instance: CascadeflowInstrumentor | None = None
    _lock = threading.Lock()

    def __new__(cls) -> CascadeflowInstrumentor:
        with cls._lock:
            if cls._instance is None:
                instance = super().__new__(cls)
                instance._instrumented = False
                cls._instance = instance
            return cls._instance

    _instrumented: bool

    @property
    def is_instrumented(self) -> bool:
        """Whether :meth:`instrument` is in effect."""
        return self._instrumented

    def instrument(self, tracer_provider: trace.TracerProvider | None = None,
                   meter_provider: metrics.MeterProvider | None = None, *,
                   record_user_id: bool = False) -> None:
        """Start reporting spans and metrics through the given (else the global) providers.

        ``record_user_id=True`` adds ``user.id`` to metrics and spans (one time series per
        user: only for small, known user sets).
        """
        with self._lock:
            if self._instrumented:
                logger.warning("CascadeflowInstrumentor is already instrumented; "
                               "call uninstrument() first to change providers")
                return
            tracer = trace.get_tracer(_NAME, _VERSION, tracer_provider, schema_url=sc.SCHEMA_URL)
            self._tracer = tracer
            self._record_user_id = record_user_id
            self._legacy_system = not sc.latest_experimental()
            self._instruments = GenAIInstruments()
            self._entry_attributes: dict[tuple[Any, ...], tuple[dict[str, Any], ...]] = {}
            self._instruments.attach(get_cascadeflow_meter(meter_provider))
            self._runs = L0RunTracer(tracer, self._instruments, self._base_attributes,
                                     self._stream_timings)
            add_ledger_hook(self._on_ledger_event)
            self._runs.attach()
            self._instrumented = True

    def uninstrument(self) -> None:
        """Stop reporting (runs under way still end their spans)."""
        with self._lock:
            if not self._instrumented:
                return
            remove_ledger_hook(self._on_ledger_event)
            self._runs.detach()
            self._instrumented = False

    def add_meter_provider(self, meter_provider: metrics.MeterProvider) -> metrics.Meter:
        """Also record every metric into ``meter_provider`` (how :func:`serve_prometheus`
        exposes the same metrics without touching the application's providers)."""
        with self._lock:
            if not self._instrumented:
                raise RuntimeError("call CascadeflowInstrumentor().instrument() first")
            meter = get_cascadeflow_meter(meter_provider)
            self._instruments.attach(meter)
            return meter

    def remove_meter(self, meter: metrics.Meter) -> None:
        """Undo :meth:`add_meter_provider`."""
        with self._lock:
            if self._instrumented:
                self._instruments.detach(meter)

    # -- attributes ----------------------------------------------------------------------
    def _base_attributes(self, provider: str | None, model: str | None) -> dict[str, Any]:
        name = sc.provider_name(provider)
        attributes: dict[str, Any] = {sc.OPERATION_NAME: sc.CHAT, sc.PROVIDER_NAME: name}
        if self._legacy_system:
            attributes[sc.SYSTEM] = name
        if model:
            attributes[sc.REQUEST_MODEL] = model
        return attributes

    def _user(self, attributes: dict[str, Any], user_id: str | None,
              tier: str | None) -> dict[str, Any]:
        if tier:
            attributes[sc.USER_TIER] = tier
        if self._record_user_id and user_id:
            attributes[sc.USER_ID] = user_id
        return attributes

    # -- the ledger hook -------------------------------------------------------------------
    def _on_ledger_event(self, event: LedgerEvent) -> None:
        if isinstance(event, EntryRecorded):
            self._entry(event)
        elif isinstance(event, CompletionFinished):
            self._completion(event)
        elif isinstance(event, EnforcementDecided):
            self._decision(event)
        elif isinstance(event, ReservationRefused):
            self._instruments.refusals.add(1, {sc.BUDGET_SCOPE: event.scope_kind,
                                               sc.BUDGET_PERIOD: event.period})

    def _entry(self, event: EntryRecorded) -> None:
        """Token usage and cost, once per stored entry, whatever path recorded it."""
        entry = event.entry
        user_id = entry.user_id if self._record_user_id else None
        key = (entry.provider, entry.model, entry.user_tier, user_id)
        sets = self._entry_attributes.get(key)
        if sets is None:
            sets = self._entry_attribute_sets(entry.provider, entry.model, entry.user_tier,
                                              user_id)
            if len(self._entry_attributes) >= _CACHED_ATTRIBUTE_SETS:
                self._entry_attributes.clear()
            self._entry_attributes[key] = sets
        instruments = self._instruments
        if entry.prompt_tokens is not None:
            instruments.token_usage.record(entry.prompt_tokens, sets[0])
        if entry.completion_tokens is not None:
            instruments.token_usage.record(entry.completion_tokens, sets[1])
        if entry.cost > 0:  # a counter only grows: refunds are not subtracted
            instruments.cost.add(entry.cost, sets[2])

    def _entry_attribute_sets(self, provider: str, model: str, tier: str | None,
                              user_id: str | None) -> tuple[dict[str, Any], ...]:
        """Input-token, output-token and cost attributes (built once per combination)."""
        # An entry knows the model it was recorded for, not what the response called itself:
        # gen_ai.response.model is left to the completion's duration metric and span.
        tokens = self._base_attributes(provider, model)
        if user_id:
            tokens[sc.USER_ID] = user_id
        # Our own metric: provider, model and tier only (as cascadeflow 1.2.0 users group it).
        cost = self._user({sc.PROVIDER_NAME: sc.provider_name(provider), sc.REQUEST_MODEL: model},
                          user_id, tier)
        return ({**tokens, sc.TOKEN_TYPE: "input"}, {**tokens, sc.TOKEN_TYPE: "output"}, cost)

    def _completion(self, event: CompletionFinished) -> None:
        """One CLIENT span and one duration point per completion attempt."""
        attributes = self._base_attributes(event.provider, event.request_model)
        attributes[sc.RESPONSE_MODEL] = event.response_model
        if event.error_type is not None:
            attributes[sc.ERROR_TYPE] = event.error_type
        if event.duration is not None:
            self._instruments.duration.record(event.duration, attributes)
        first = event.time_to_first_chunk
        if event.stream and first is not None:
            self._stream_timings(first, event.duration, event.output_tokens, attributes)
        span_attributes = self._user(dict(attributes), event.user_id, event.user_tier)
        span_attributes.update({
            sc.REQUEST_STREAM: event.stream,
            sc.USAGE_INPUT_TOKENS: event.input_tokens,
            sc.USAGE_OUTPUT_TOKENS: event.output_tokens,
            sc.COST_AMOUNT: event.cost,
            sc.COST_CURRENCY: "USD",
        })
        if event.cache_read_tokens is not None:
            span_attributes[sc.USAGE_CACHE_READ] = event.cache_read_tokens
        if event.cache_creation_tokens is not None:
            span_attributes[sc.USAGE_CACHE_CREATION] = event.cache_creation_tokens
        if event.finish_reasons:
            span_attributes[sc.FINISH_REASONS] = list(event.finish_reasons)
        if event.input_messages is not None and sc.capture_content():
            span_attributes[sc.INPUT_MESSAGES] = json.dumps(event.input_messages)
            span_attributes[sc.OUTPUT_MESSAGES] = json.dumps(event.output_messages or ())
        end_ns = time.time_ns()
        start_ns = end_ns - int((event.duration or 0.0) * 1e9)
        span = self._tracer.start_span(f"{sc.CHAT} {event.request_model}", kind=SpanKind.CLIENT,
                                       context=self._runs.context_of(event.l0_stream_id),
                                       attributes=span_attributes, start_time=start_ns)
        decision = event.decision
        if decision is not None:
            span.add_event("cascadeflow.budget.decision", _decision_attributes(decision),
                           timestamp=start_ns)
        if event.error_type is not None:
            span.set_status(Status(StatusCode.ERROR, event.error_type))
        span.end(end_time=end_ns)

    def _stream_timings(self, first: float, duration: float | None, chunks: int,
                        attributes: dict[str, Any]) -> None:
        """Time to first chunk and the mean time per chunk after it, once per stream."""
        self._instruments.time_to_first_chunk.record(first, attributes)
        if chunks > 1 and duration is not None and duration > first:
            self._instruments.time_per_output_chunk.record((duration - first) / (chunks - 1),
                                                           attributes)

    def _decision(self, event: EnforcementDecided) -> None:
        result = event.result
        attributes: dict[str, Any] = {sc.BUDGET_ACTION: result.action.value}
        self._instruments.decisions.add(1, self._user(attributes, event.user_id,
                                                      event.user_tier))
        if result.action is EnforcementAction.BLOCK:
            # A blocked request never gets a completion span: note it on the caller's.
            span = trace.get_current_span()
            if span.is_recording():
                span.add_event("cascadeflow.budget.decision", _decision_attributes(result))


def _decision_attributes(result: Any) -> dict[str, Any]:
    return {
        sc.BUDGET_ACTION: result.action.value,
        "cascadeflow.budget.reason": result.reason,
        "cascadeflow.budget.model": result.model,
        "cascadeflow.budget.estimated_cost": float(result.estimated_cost),
    }


__all__ = ["CascadeflowInstrumentor", "GenAIInstruments", "get_cascadeflow_meter"]
