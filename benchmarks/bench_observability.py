"""Observability overhead: l0() with the OpenTelemetry instrumentor and a monitor, and the
CPU cost of recording one completion's metrics and span.

The providers are the OpenTelemetry SDK's (an in-memory metric reader, a span processor
exporting to memory), so the figures include the SDK's own work. Times are CPU time of
this process (``time.process_time``), best of several interleaved runs, as in bench_l0.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from typing import Any

from benchmarks._report import figure, header
from benchmarks.bench_l0 import _openai_chunks, _ours

REPEATS = 7
TOKENS = 100_000
COMPLETIONS = 3_000
OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"


def _providers() -> tuple[Any, Any, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return tracer_provider, meter_provider, exporter


def _l0_overhead() -> None:
    from cascadeflow.integrations.otel import CascadeflowInstrumentor
    from cascadeflow.l0 import create_monitor

    tracer_provider, meter_provider, exporter = _providers()
    instrumentor = CascadeflowInstrumentor()
    for label, items, openai in (("plain strings", [f"t{i} " for i in range(TOKENS)], False),
                                 ("OpenAI chunks", _openai_chunks(TOKENS), True)):
        exporter.clear()
        asyncio.run(_ours(items[:2_000], openai))  # warm up
        best_off = best_on = float("inf")
        for _ in range(REPEATS):
            gc.collect()
            best_off = min(best_off, asyncio.run(_ours(items, openai)))
            instrumentor.instrument(tracer_provider, meter_provider)
            monitor = create_monitor(attach=True)
            try:
                gc.collect()
                best_on = min(best_on, asyncio.run(_ours(items, openai)))
            finally:
                monitor.detach()
                instrumentor.uninstrument()
            assert monitor.snapshot().completed == 1
        assert len(exporter.get_finished_spans()) == REPEATS
        off, on = TOKENS / best_off, TOKENS / best_on
        figure(f"l0() {TOKENS:,} {label}: instrumentor + monitor / none", on / off, "x",
               ">= 0.9x", ok=on / off >= 0.9,
               peer=f"{on:,.0f} vs {off:,.0f} tok/s")


def _completion_cost(latest: bool) -> None:
    from cascadeflow._entry import CostEntry
    from cascadeflow.integrations.otel import CascadeflowInstrumentor
    from cascadeflow.telemetry import CompletionFinished, CostTracker, EntryRecorded
    from cascadeflow.telemetry._observers import publish

    tracer_provider, meter_provider, exporter = _providers()
    tracker = CostTracker()
    entry: CostEntry = tracker.add_cost("gpt-4o-mini", "openai", 1_500, 0.0009,
                                        user_id="u1", user_tier="pro", prompt_tokens=1_000,
                                        completion_tokens=500)
    finished = CompletionFinished(
        operation="chat", request_model="gpt-4o-mini", response_model="gpt-4o-mini",
        provider="openai", stream=False, start_time=time.time(), duration=0.8,
        input_tokens=1_000, output_tokens=500, cost=0.0009, user_id="u1", user_tier="pro",
        finish_reasons=("stop",), source="guarded_completion", entry_id=entry.id)
    recorded = EntryRecorded(entry, 900_000)
    instrumentor = CascadeflowInstrumentor()
    saved = os.environ.get(OPT_IN)
    if latest:  # read by instrument(): without it gen_ai.system is recorded too
        os.environ[OPT_IN] = "gen_ai_latest_experimental"
    instrumentor.instrument(tracer_provider, meter_provider)
    try:
        for _ in range(200):  # warm up the SDK's attribute-set caches
            publish(recorded)
            publish(finished)
        best = float("inf")
        for _ in range(REPEATS):
            exporter.clear()
            gc.collect()
            start = time.process_time()
            for _ in range(COMPLETIONS):
                publish(recorded)
                publish(finished)
            best = min(best, (time.process_time() - start) / COMPLETIONS)
    finally:
        instrumentor.uninstrument()
        if saved is None:
            os.environ.pop(OPT_IN, None)
        else:
            os.environ[OPT_IN] = saved
    micros = best * 1e6
    mode = "latest semconv" if latest else "+ gen_ai.system"
    figure(f"one completion: metrics + span ({mode})", micros, "us CPU",
           "<= 50 us", ok=micros <= 50.0)


def main() -> None:
    header("Observability (OpenTelemetry SDK in memory, CPU time)")
    _l0_overhead()
    _completion_cost(latest=False)
    _completion_cost(latest=True)


if __name__ == "__main__":
    main()
