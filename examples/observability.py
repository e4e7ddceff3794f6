"""Observability, offline: OpenTelemetry metrics and spans, and an L0 monitor.

Budgets are enforced on guarded LiteLLM calls (mock answers), an L0 run retries after a
network error, and the script prints what an OpenTelemetry backend would receive (from the
SDK's in-memory reader and span exporter) and the monitor's snapshot.

Run: ``python examples/observability.py`` (needs ``pip install cascadeflow[otel]``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from cascadeflow import BudgetExceededError
from cascadeflow.integrations.litellm import acompletion
from cascadeflow.integrations.otel import CascadeflowInstrumentor
from cascadeflow.l0 import create_monitor, l0
from cascadeflow.telemetry import BudgetConfig, CostTracker

MESSAGES = [{"role": "user", "content": "Summarise the quarterly report"}]


def flaky_stream() -> object:
    """A stream that drops its connection on the first try and succeeds on the second."""
    calls = 0

    async def stream() -> AsyncIterator[str]:
        nonlocal calls
        calls += 1
        yield "The quarter "
        if calls == 1:
            raise ConnectionResetError("connection reset by peer")
        for word in ("went ", "well."):
            yield word

    return stream


async def no_wait(seconds: float) -> None:
    """Retries wait for nothing in this example."""


async def main() -> None:
    reader = InMemoryMetricReader()
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    CascadeflowInstrumentor().instrument(tracer_provider=tracer_provider,
                                         meter_provider=MeterProvider(metric_readers=[reader]))
    monitor = create_monitor(attach=True)

    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("alice", BudgetConfig(daily=1.0))
    tracker.set_user_budget("bob", BudgetConfig(daily=0.0))
    for user in ("alice", "alice", "bob"):
        try:
            await acompletion(model="gpt-4o-mini", messages=MESSAGES, user=user,
                              tracker=tracker, mock_response="Revenue grew 12%.")
        except BudgetExceededError as refused:
            print(f"{user}: refused ({refused.period} budget)")
    result = await l0(flaky_stream(), sleep=no_wait,
                      context={"model": "gpt-4o-mini", "provider": "openai"})
    print("l0 text:", await result.text())

    monitor.detach()
    CascadeflowInstrumentor().uninstrument()

    print("\nMetrics (what the OpenTelemetry backend receives):")
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    shown = (f"{value:g}" if value is not None
                             else f"count={point.count} sum={point.sum:g}")
                    labels = ", ".join(f"{k}={v}" for k, v in sorted(point.attributes.items())
                                       if k in ("gen_ai.token.type", "gen_ai.request.model",
                                                "cascadeflow.budget.action",
                                                "cascadeflow.budget.period",
                                                "cascadeflow.l0.retry.reason"))
                    print(f"  {metric.name:<48} {shown:<24} {labels}")

    print("\nSpans:")
    for span in spans.get_finished_spans():
        events = ", ".join(event.name for event in span.events)
        print(f"  {span.name:<20} {span.kind.name:<8} status={span.status.status_code.name:<6}"
              f" events=[{events}]")

    snapshot = monitor.snapshot()
    print("\nMonitor snapshot:")
    print(f"  runs={snapshot.runs} completed={snapshot.completed} failed={snapshot.failed} "
          f"retries={dict(snapshot.retries)} fallbacks={snapshot.fallbacks}")
    print(f"  time to first token p50={snapshot.time_to_first_token_p50:.6f}s "
          f"tokens/s p50={snapshot.tokens_per_second_p50:,.0f}")


if __name__ == "__main__":
    asyncio.run(main())
