"""CascadeflowInstrumentor with the OpenTelemetry SDK's in-memory reader and span exporter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from opentelemetry import metrics, trace
from opentelemetry.trace import SpanKind, StatusCode

from cascadeflow.integrations.litellm import acompletion, completion
from cascadeflow.integrations.otel import CascadeflowInstrumentor
from cascadeflow.l0 import RetryConfig, l0
from cascadeflow.telemetry import BudgetConfig, BudgetExceededError, CostTracker
from tests.integrations.conftest import OtelCapture
from tests.l0.conftest import Scripted, SleepRecorder

TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                 16777216, 67108864)
SECONDS_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                   40.96, 81.92)
WORDS = ["Hello ", "brave ", "new ", "world"]


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


def _by_type(points: list) -> dict[str, object]:
    return {point.attributes["gen_ai.token.type"]: point for point in points}


def test_entry_metrics_carry_the_real_values_and_no_user_id(otel: OtelCapture) -> None:
    tracker = CostTracker()
    entry = tracker.add_cost("gpt-4o-mini", "openai", 150, 0.00042, user_id="u1",
                             user_tier="pro", prompt_tokens=100, completion_tokens=50)
    usage = _by_type(otel.points("gen_ai.client.token.usage"))
    assert (usage["input"].sum, usage["output"].sum) == (100, 50)  # type: ignore[attr-defined]
    assert (usage["input"].count, usage["output"].count) == (1, 1)  # type: ignore[attr-defined]
    assert dict(usage["input"].attributes) == {  # type: ignore[attr-defined]
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.token.type": "input"}
    assert tuple(usage["input"].explicit_bounds) == TOKEN_BUCKETS  # type: ignore[attr-defined]
    metric = otel.metric("gen_ai.client.token.usage")
    assert metric.unit == "{token}"  # type: ignore[attr-defined]
    [cost] = otel.points("cascadeflow.cost.total")
    assert cost.value == pytest.approx(entry.cost)
    assert dict(cost.attributes) == {"gen_ai.provider.name": "openai",
                                     "gen_ai.request.model": "gpt-4o-mini",
                                     "cascadeflow.user.tier": "pro"}
    assert otel.metric("cascadeflow.cost.total").unit == "USD"  # type: ignore[attr-defined]


def test_user_id_is_recorded_only_when_asked() -> None:
    capture = OtelCapture()
    instrumentor = CascadeflowInstrumentor()
    instrumentor.instrument(capture.tracer_provider, capture.meter_provider,
                            record_user_id=True)
    try:
        CostTracker().add_cost("gpt-4o", "openai", 30, 0.001, user_id="u7",
                               prompt_tokens=10, completion_tokens=20)
    finally:
        instrumentor.uninstrument()
    [cost] = capture.points("cascadeflow.cost.total")
    assert cost.attributes["user.id"] == "u7"
    assert all(p.attributes["user.id"] == "u7"
               for p in capture.points("gen_ai.client.token.usage"))


def test_latest_conventions_drop_gen_ai_system(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http,gen_ai_latest_experimental")
    capture = OtelCapture()
    CascadeflowInstrumentor().instrument(capture.tracer_provider, capture.meter_provider)
    try:
        CostTracker().add_cost("claude-3-5-haiku", "anthropic", 30, 0.001,
                               prompt_tokens=10, completion_tokens=20)
    finally:
        CascadeflowInstrumentor().uninstrument()
    points = capture.points("gen_ai.client.token.usage")
    assert points and all("gen_ai.system" not in p.attributes for p in points)
    assert {p.attributes["gen_ai.provider.name"] for p in points} == {"anthropic"}


def test_the_global_providers_are_never_replaced() -> None:
    tracer_provider, meter_provider = trace.get_tracer_provider(), metrics.get_meter_provider()
    capture = OtelCapture()
    CascadeflowInstrumentor().instrument(capture.tracer_provider, capture.meter_provider)
    CascadeflowInstrumentor().uninstrument()
    CascadeflowInstrumentor().instrument()  # the global ones
    try:
        CostTracker().add_cost("gpt-4o", "openai", 30, 0.001, prompt_tokens=10,
                               completion_tokens=20)
    finally:
        CascadeflowInstrumentor().uninstrument()
    assert trace.get_tracer_provider() is tracer_provider
    assert metrics.get_meter_provider() is meter_provider
    assert capture.points("gen_ai.client.token.usage") == []  # uninstrumented: nothing more


def test_guarded_completion_gives_one_client_span_and_one_entry_worth_of_tokens(
        otel: OtelCapture, messages: list) -> None:
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("alice", BudgetConfig(daily=5.0))
    completion(model="gpt-4o-mini", messages=messages, user="alice", tracker=tracker,
               mock_response="Hello!")
    [entry] = tracker.get_entries_by_user("alice")
    [span] = otel.spans()
    assert span.name == "chat gpt-4o-mini" and span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes["gen_ai.usage.input_tokens"] == entry.prompt_tokens
    assert attributes["gen_ai.usage.output_tokens"] == entry.completion_tokens
    assert attributes["gen_ai.usage.cost.amount"] == pytest.approx(entry.cost)
    assert attributes["gen_ai.usage.cost.currency"] == "USD"
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.request.stream"] is False
    assert attributes["gen_ai.provider.name"] == "openai"
    assert "user.id" not in attributes
    assert not any("Hello" in str(value) for value in attributes.values())  # no content
    [decision] = [e for e in span.events if e.name == "cascadeflow.budget.decision"]
    assert decision.attributes["cascadeflow.budget.action"] == "allow"
    usage = _by_type(otel.points("gen_ai.client.token.usage"))
    assert usage["input"].count == 1 and usage["output"].count == 1  # type: ignore[attr-defined]
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.count == 1 and tuple(duration.explicit_bounds) == SECONDS_BUCKETS
    [allowed] = otel.points("cascadeflow.budget.decisions")
    assert allowed.attributes["cascadeflow.budget.action"] == "allow" and allowed.value == 1


async def test_a_failed_completion_span_has_error_type(otel: OtelCapture, messages: list
                                                       ) -> None:
    tracker = CostTracker()
    with pytest.raises(Exception):  # noqa: B017 - LiteLLM wraps the mock's error
        await acompletion(model="gpt-4o-mini", messages=messages, user="bob",
                          tracker=tracker, mock_response=ValueError("provider down"))
    spans = otel.spans()
    assert spans and all(span.status.status_code is StatusCode.ERROR for span in spans)
    error_type = spans[0].attributes["error.type"]
    assert error_type and error_type != "_OTHER"
    [duration] = otel.points("gen_ai.client.operation.duration")
    assert duration.attributes["error.type"] == error_type
    assert otel.points("gen_ai.client.token.usage") == []  # nothing billed, nothing counted


def test_blocks_and_refusals_are_counted(otel: OtelCapture, messages: list) -> None:
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("dan", BudgetConfig(daily=0.0))
    with pytest.raises(BudgetExceededError):
        completion(model="gpt-4o", messages=messages, user="dan", tracker=tracker,
                   mock_response="never")
    tracker.set_user_budget("erin", BudgetConfig(daily=0.01))
    with pytest.raises(BudgetExceededError):
        tracker.reserve("erin", 0.02)
    [blocked] = otel.points("cascadeflow.budget.decisions")
    assert blocked.attributes["cascadeflow.budget.action"] == "block"
    [refused] = otel.points("cascadeflow.budget.refusals")
    assert dict(refused.attributes) == {"cascadeflow.budget.scope": "user",
                                        "cascadeflow.budget.period": "daily"}
    assert otel.spans() == []


async def test_an_l0_run_span_reports_attempts_retries_and_stream_timings(
        otel: OtelCapture, sleeps: SleepRecorder) -> None:
    factory = Scripted(["Hel", ConnectionResetError("reset")], WORDS)
    result = await l0(factory, sleep=sleeps, context={"model": "gpt-4o", "provider": "openai"})
    await result.text()
    [span] = otel.spans("l0.run")
    assert span.attributes["l0.outcome"] == "completed"
    assert span.attributes["l0.attempts"] == 2 and span.attributes["l0.retries"] == 1
    [retry] = [e for e in span.events if e.name == "l0.retry"]
    assert retry.attributes["l0.retry.reason"] == "network_error"
    assert retry.attributes["error.type"] == "ConnectionResetError"
    assert retry.attributes["l0.retry.delay"] == sleeps.delays[0]
    [retries] = otel.points("cascadeflow.l0.retries")
    assert retries.value == 1
    assert retries.attributes["cascadeflow.l0.retry.reason"] == "network_error"
    [first] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1 and first.attributes["gen_ai.request.model"] == "gpt-4o"
    assert tuple(first.explicit_bounds) == SECONDS_BUCKETS
    [per_chunk] = otel.points("gen_ai.client.operation.time_per_output_chunk")
    assert per_chunk.count == 1


async def test_failed_and_abandoned_runs_end_their_span_once(otel: OtelCapture) -> None:
    failing = await l0(Scripted(["a", ValueError("bad")]), retry=None)
    with pytest.raises(ValueError):
        await failing.text()
    abandoned = await l0(Scripted(WORDS))
    async with abandoned:
        async for event in abandoned:
            if event.type == "token":
                break
    failed_span, abandoned_span = otel.spans("l0.run")
    assert failed_span.status.status_code is StatusCode.ERROR
    assert failed_span.attributes["error.type"] == "ValueError"
    assert abandoned_span.attributes["l0.outcome"] == "abandoned"
    assert abandoned_span.status.status_code is StatusCode.UNSET
    assert len(otel.spans()) == 2  # each ended exactly once
    assert CascadeflowInstrumentor()._runs.open_spans == 0


async def test_five_concurrent_runs_get_five_spans(otel: OtelCapture) -> None:
    def slow(index: int) -> object:
        async def stream() -> AsyncIterator[str]:
            for word in WORDS:
                await asyncio.sleep(0.001)
                yield f"{index}:{word}"
        return stream

    async def run(index: int) -> str:
        return await (await l0(slow(index))).text()

    texts = await asyncio.gather(*(run(index) for index in range(5)))
    assert len(set(texts)) == 5
    spans = otel.spans("l0.run")
    assert len(spans) == 5
    assert len({span.attributes["l0.stream_id"] for span in spans}) == 5
    assert all(span.attributes["l0.token_count"] == 4 for span in spans)


async def test_fallbacks_are_counted(otel: OtelCapture, sleeps: SleepRecorder) -> None:
    from tests.l0.conftest import HTTPError

    result = await l0(Scripted([HTTPError(500)]), fallback_streams=[Scripted(WORDS)],
                      retry=RetryConfig(max_retries=0), sleep=sleeps)
    await result.text()
    [fallbacks] = otel.points("cascadeflow.l0.fallbacks")
    assert fallbacks.value == 1
    [span] = otel.spans("l0.run")
    assert [e.attributes["l0.index"] for e in span.events if e.name == "l0.fallback"] == [1]


async def test_the_registered_callback_path_gets_spans_and_metrics_too(
        otel: OtelCapture, messages: list, await_until) -> None:
    import litellm

    from cascadeflow.integrations.litellm import register

    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("cara", BudgetConfig(daily=5.0))
    register(tracker)
    await litellm.acompletion(model="gpt-4o-mini", messages=messages, user="cara",
                              mock_response="Hi there")
    await await_until(lambda: len(otel.spans()) == 1)
    [entry] = tracker.get_entries_by_user("cara")
    [span] = otel.spans()
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes["gen_ai.usage.output_tokens"] == entry.completion_tokens
    assert [e.attributes["cascadeflow.budget.action"] for e in span.events] == ["allow"]
    usage = _by_type(otel.points("gen_ai.client.token.usage"))
    assert usage["output"].sum == entry.completion_tokens  # type: ignore[attr-defined]
    assert usage["output"].count == 1  # type: ignore[attr-defined]


async def test_a_guarded_stream_is_one_span_marked_as_streamed(otel: OtelCapture,
                                                               messages: list) -> None:
    tracker = CostTracker()
    stream = await acompletion(model="gpt-4o-mini", messages=messages, user="dora",
                               tracker=tracker, stream=True,
                               mock_response="one two three four five")
    async for _ in stream:
        pass
    [entry] = tracker.get_entries_by_user("dora")
    [span] = otel.spans()
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == entry.completion_tokens > 0
    assert sum(p.count for p in otel.points("gen_ai.client.token.usage")) == 2
    [first] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.sum == pytest.approx(entry.metadata["time_to_first_chunk_ms"] / 1000.0)
    [per_chunk] = otel.points("gen_ai.client.operation.time_per_output_chunk")
    assert per_chunk.count == 1


def test_message_content_is_recorded_only_when_asked(monkeypatch: pytest.MonkeyPatch,
                                                     otel: OtelCapture, messages: list
                                                     ) -> None:
    import json

    tracker = CostTracker()
    completion(model="gpt-4o-mini", messages=messages, user="eve", tracker=tracker,
               mock_response="Secret answer")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    completion(model="gpt-4o-mini", messages=messages, user="eve", tracker=tracker,
               mock_response="Secret answer")
    plain, captured = otel.spans()
    assert not any("Secret" in str(value) for value in plain.attributes.values())
    sent = json.loads(captured.attributes["gen_ai.input.messages"])
    assert sent == [{"role": "user", "parts": [{"type": "text",
                                                "content": messages[0]["content"]}]}]
    [answer] = json.loads(captured.attributes["gen_ai.output.messages"])
    assert answer["parts"] == [{"type": "text", "content": "Secret answer"}]
    assert answer["role"] == "assistant" and answer["finish_reason"] == "stop"


async def test_an_aborted_run_span_is_an_error_named_after_the_abort(otel: OtelCapture) -> None:
    from cascadeflow.l0 import L0AbortedError

    result = await l0(Scripted(WORDS))
    with pytest.raises(L0AbortedError):
        async for event in result:
            if event.type == "token":
                result.abort()
    [span] = otel.spans("l0.run")
    assert span.attributes["l0.outcome"] == "aborted"
    assert span.attributes["error.type"] == "L0AbortedError"
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events][-1] == "l0.abort"


async def test_a_completion_of_an_l0_run_nests_under_its_run_span(otel: OtelCapture) -> None:
    import time

    from cascadeflow.telemetry import CompletionFinished
    from cascadeflow.telemetry._observers import publish

    run_ids: list[str] = []

    async def metered() -> AsyncIterator[str]:
        # What a metered attempt reports (issue 9's entries name their l0 run).
        publish(CompletionFinished("chat", "gpt-4o", "gpt-4o", "openai", True, time.time(),
                                   0.01, 10, 2, 0.0001, l0_stream_id=run_ids[0]))
        for word in WORDS:
            yield word

    result = await l0(metered)
    run_ids.append(result.stream_id)
    await result.text()
    chat = otel.spans("chat gpt-4o")[0]
    run = otel.spans("l0.run")[0]
    assert chat.parent is not None and chat.parent.span_id == run.context.span_id
    assert chat.context.trace_id == run.context.trace_id


def test_optional_integrations_are_imported_only_when_used() -> None:
    import subprocess
    import sys

    script = (
        "import sys, cascadeflow, cascadeflow.l0, cascadeflow.telemetry\n"
        "core = [m for m in ('opentelemetry', 'sentry_sdk', 'prometheus_client')\n"
        "        if m in sys.modules]\n"
        "import cascadeflow.integrations.otel\n"
        "otel = [m for m in ('opentelemetry.sdk', 'sentry_sdk', 'prometheus_client')\n"
        "        if m in sys.modules]\n"
        "print(core, otel)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.strip() == "[] []"


async def test_a_callback_stream_reports_time_to_first_chunk(otel: OtelCapture, messages: list,
                                                            await_until) -> None:
    import litellm

    from cascadeflow.integrations.litellm import register

    tracker = CostTracker()
    register(tracker)
    stream = await litellm.acompletion(model="gpt-4o-mini", messages=messages, user="finn",
                                       stream=True, mock_response="one two three four")
    async for _ in stream:
        pass
    await await_until(lambda: len(otel.spans()) == 1)
    [entry] = tracker.get_entries_by_user("finn")
    assert entry.metadata["time_to_first_chunk_ms"] >= 0
    [first] = otel.points("gen_ai.client.operation.time_to_first_chunk")
    assert first.count == 1
    assert first.sum == pytest.approx(entry.metadata["time_to_first_chunk_ms"] / 1000.0)
    assert first.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert otel.spans()[0].attributes["gen_ai.request.stream"] is True
