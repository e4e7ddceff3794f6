"""Observability overhead: l0() with the OpenTelemetry instrumentor and a monitor, and the
CPU cost of recording one completion's metrics and span.

The providers are the OpenTelemetry SDK's (an in-memory metric reader, a span processor
exporting to memory), so the figures include the SDK's own work. Times are CPU time of
this process (``time.process_time``), best of several interleaved runs, as in bench_l0.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from benchmarks._report import figure, header

REPEATS = 7
TOKENS = 100_000
COMPLETIONS = 3_000


def _factory(items: list[Any]) -> Callable[[], AsyncIterator[Any]]:
    async def stream() -> AsyncIterator[Any]:
        for item in items:
            yield item
    return stream


async def _l0_run(items: list[Any]) -> float:
    from cascadeflow.l0 import l0

    start = time.process_time()
    result = await l0(_factory(items))
    async for _ in result.stream:
        pass
    assert result.state.completed
    return time.process_time() - start


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
    for label, items in (("plain strings", [f"t{i} " for i in range(TOKENS)]),):
        asyncio.run(_l0_run(items[:2_000]))  # warm up
        best_off = best_on = float("inf")
        for _ in range(REPEATS):
            gc.collect()
            best_off = min(best_off, asyncio.run(_l0_run(items)))
            instrumentor.instrument(tracer_provider, meter_provider)
            monitor = create_monitor(attach=True)
            try:
                gc.collect()
                best_on = min(best_on, asyncio.run(_l0_run(items)))
            finally:
                monitor.detach()
                instrumentor.uninstrument()
            assert monitor.snapshot().completed == 1
        assert len(exporter.get_finished_spans()) == REPEATS
        off, on = TOKENS / best_off, TOKENS / best_on
        figure(f"l0() {TOKENS:,} {label}: instrumentor + monitor / none", on / off, "x",
               ">= 0.9x", ok=on / off >= 0.9,
               peer=f"{on:,.0f} vs {off:,.0f} tok/s")


def _completion_cost() -> None:
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
    micros = best * 1e6
    figure("one completion: token/cost/duration metrics + CLIENT span", micros, "us CPU",
           "<= 50 us", ok=micros <= 50.0)


def main() -> None:
    header("Observability (OpenTelemetry SDK in memory, CPU time)")
    _l0_overhead()
    _completion_cost()


if __name__ == "__main__":
    main()
