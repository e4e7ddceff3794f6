"""Fixtures for the LiteLLM integration tests: a clean LiteLLM, trackers, waiting for events."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio
import threading
from collections.abc import Callable, Iterator

import litellm
import pytest
from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER
from litellm.litellm_core_utils.thread_pool_executor import executor

from cascadeflow.integrations.litellm import _registry
from cascadeflow.telemetry import CostTracker

_LISTS = _registry._CALLBACK_LISTS
MESSAGES = [{"role": "user", "content": "Say hello to the budget ledger"}]


def _drain_litellm_threads() -> None:
    """Wait until LiteLLM's logging thread pool has run every event already submitted.

    One task per worker, all meeting at a barrier: they can only all start once every
    worker is free, so no earlier success event can reach the next test's callback.
    """
    workers = executor._max_workers
    barrier = threading.Barrier(workers)
    tasks = [executor.submit(barrier.wait, 10.0) for _ in range(workers)]
    for task in tasks:
        task.result(timeout=15.0)


@pytest.fixture(autouse=True)
def clean_litellm() -> Iterator[None]:
    """Every test starts and ends with no LiteLLM callbacks and no default tracker."""
    saved = {name: list(getattr(litellm, name)) for name in _LISTS}
    for name in _LISTS:
        getattr(litellm, name).clear()
    _registry._default = None
    yield
    _drain_litellm_threads()
    for name in _LISTS:
        getattr(litellm, name)[:] = saved[name]
    _registry._default = None


@pytest.fixture
def messages() -> list[dict[str, str]]:
    return [dict(message) for message in MESSAGES]


@pytest.fixture
def tracker() -> CostTracker:
    """A blocking in-memory tracker; give users budgets with ``tracker.set_user_budget``."""
    return CostTracker(enforcement_mode="block")


def _wait_until(condition: Callable[[], bool], *, timeout: float = 10.0,
                message: Callable[[], str] = lambda: "") -> None:
    """Wait (bounded) for LiteLLM's background success handlers to reach the ledger."""
    tick = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if condition():
            return
        tick.wait(0.005)
    raise AssertionError(f"condition not met before the timeout {message()}")


async def _await_until(condition: Callable[[], bool], *, timeout: float = 10.0) -> None:
    """Async :func:`_wait_until`: flush LiteLLM's logging worker, then poll."""
    for _ in range(int(timeout / 0.005)):
        await GLOBAL_LOGGING_WORKER.flush()
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met before the timeout")


@pytest.fixture
def wait_until() -> Callable[..., None]:
    return _wait_until


@pytest.fixture
def await_until() -> Callable[..., object]:
    return _await_until


class OtelCapture:
    """In-memory OpenTelemetry SDK providers, instrumented by CascadeflowInstrumentor."""

    def __init__(self, record_user_id: bool = False) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.spans_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans_exporter))
        self.record_user_id = record_user_id

    def spans(self, name: str | None = None) -> list:
        return [span for span in self.spans_exporter.get_finished_spans()
                if name is None or span.name == name]

    def points(self, metric_name: str) -> list:
        """Every data point of ``metric_name`` collected so far."""
        data = self.reader.get_metrics_data()
        found = []
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == metric_name:
                        found.extend(metric.data.data_points)
        return found

    def metric(self, metric_name: str) -> object:
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == metric_name:
                        return metric
        raise AssertionError(f"no metric {metric_name}")


@pytest.fixture
def otel() -> Iterator[OtelCapture]:
    """CascadeflowInstrumentor on in-memory providers (uninstrumented afterwards)."""
    from cascadeflow.integrations.otel import CascadeflowInstrumentor

    capture = OtelCapture()
    CascadeflowInstrumentor().instrument(tracer_provider=capture.tracer_provider,
                                         meter_provider=capture.meter_provider)
    yield capture
    CascadeflowInstrumentor().uninstrument()
