"""cascadeflow 1.2.0's otel names keep working, on top of the instrumentation."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import metrics

from cascadeflow.integrations.otel import (
    MetricDimensions,
    OpenTelemetryExporter,
    cascadeflowMetrics,
    create_exporter_from_env,
)
from tests.integrations.conftest import OtelCapture


def test_dimensions_and_metrics_keep_their_1_2_0_shape() -> None:
    dims = MetricDimensions(user_id="u1", user_tier="pro", model="gpt-4o", provider="openai",
                            domain="code")
    assert dims.to_attributes() == {"user.id": "u1", "user.tier": "pro", "model.name": "gpt-4o",
                                    "provider.name": "openai", "query.domain": "code"}
    assert cascadeflowMetrics(0.5, 100, 200, 1500.0, dims).tokens_total == 300


def test_the_exporter_records_1_2_0_names_and_genai_metrics_into_the_given_provider() -> None:
    capture = OtelCapture()
    global_provider = metrics.get_meter_provider()
    exporter = OpenTelemetryExporter(meter_provider=capture.meter_provider)
    exporter.record(cascadeflowMetrics(0.5, 100, 200, 1500.0, MetricDimensions(
        user_id="u1", user_tier="pro", model="gpt-4o", provider="openai")))
    [cost] = capture.points("cascadeflow.cost.total")
    assert cost.value == 0.5 and cost.attributes["cascadeflow.user.tier"] == "pro"
    assert "user.id" not in cost.attributes  # bounded cardinality unless asked
    assert capture.points("cascadeflow.tokens.input")[0].value == 100
    assert capture.points("cascadeflow.tokens.output")[0].value == 200
    [latency] = capture.points("cascadeflow.latency")
    assert latency.sum == 1500.0
    [duration] = capture.points("gen_ai.client.operation.duration")
    assert duration.sum == 1.5
    usage = {p.attributes["gen_ai.token.type"]: p.sum
             for p in capture.points("gen_ai.client.token.usage")}
    assert usage == {"input": 100, "output": 200}
    assert metrics.get_meter_provider() is global_provider
    exporter.flush()
    exporter.shutdown()  # the given provider belongs to the caller: left running
    exporter.record(cascadeflowMetrics(1.0, 1, 1, 1.0))
    assert capture.points("cascadeflow.cost.total")[0].value == 0.5


def test_record_user_id_puts_the_user_on_the_metrics() -> None:
    capture = OtelCapture()
    exporter = OpenTelemetryExporter(meter_provider=capture.meter_provider,
                                     record_user_id=True)
    exporter.record(cascadeflowMetrics(0.5, 1, 1, 1.0, MetricDimensions(user_id="u9")))
    assert capture.points("cascadeflow.cost.total")[0].attributes["user.id"] == "u9"


def test_environment_variables_work_as_in_1_2_0(monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert create_exporter_from_env() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "billing")
    monkeypatch.setenv("ENVIRONMENT", "staging")
    monkeypatch.setenv("OTEL_ENABLED", "false")
    exporter = create_exporter_from_env()
    assert exporter is not None
    assert (exporter.endpoint, exporter.service_name, exporter.environment) == (
        "http://127.0.0.1:4318", "billing", "staging")
    assert exporter.enabled is False
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    with caplog.at_level(logging.WARNING, logger="cascadeflow.integrations.otel"):
        unconfigured = OpenTelemetryExporter()
    assert unconfigured.enabled is False
    assert "endpoint not configured" in caplog.text
    unconfigured.record(cascadeflowMetrics(0.5, 1, 1, 1.0))  # a no-op, as in 1.2.0
