"""cascadeflow 1.2.0's ``cascadeflow.integrations.otel`` names, on top of the instrumentation.

``MetricDimensions``, ``cascadeflowMetrics``, ``OpenTelemetryExporter`` and
``create_exporter_from_env`` keep their 1.2.0 signatures and environment variables. The
exporter records 1.2.0's four metrics (``cascadeflow.cost.total``, ``cascadeflow.tokens.input``,
``cascadeflow.tokens.output``, ``cascadeflow.latency``) plus the GenAI token and duration
metrics, into a provider of its own or the one given; unlike 1.2.0 it never replaces the
global ``MeterProvider``, and ``user.id`` goes on metrics only with ``record_user_id=True``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics

from cascadeflow.integrations.otel import _semconv as sc
from cascadeflow.integrations.otel._instrumentor import GenAIInstruments, get_cascadeflow_meter

logger = logging.getLogger("cascadeflow.integrations.otel")


@dataclass
class MetricDimensions:
    """Dimensions of one 1.2.0-style measurement (as in cascadeflow 1.2.0).

    Example:
        >>> MetricDimensions(user_tier="pro", model="gpt-4o").to_attributes()
        {'user.tier': 'pro', 'model.name': 'gpt-4o'}
    """

    user_id: str | None = None
    user_tier: str | None = None
    model: str | None = None
    provider: str | None = None
    domain: str | None = None

    def to_attributes(self) -> dict[str, str]:
        """The 1.2.0 attribute names (``user.id``, ``user.tier``, ``model.name``, ...)."""
        attributes: dict[str, str] = {}
        if self.user_id:
            attributes["user.id"] = self.user_id
        if self.user_tier:
            attributes["user.tier"] = self.user_tier
        if self.model:
            attributes["model.name"] = self.model
        if self.provider:
            attributes["provider.name"] = self.provider
        if self.domain:
            attributes["query.domain"] = self.domain
        return attributes


@dataclass
class cascadeflowMetrics:
    """One 1.2.0-style measurement: cost (USD), tokens, latency (ms) and dimensions.

    Example:
        >>> cascadeflowMetrics(0.001, 100, 200, 1500.0).tokens_total
        300
    """

    cost: float
    tokens_input: int
    tokens_output: int
    latency_ms: float
    dimensions: MetricDimensions = field(default_factory=MetricDimensions)

    @property
    def tokens_total(self) -> int:
        """Input plus output tokens."""
        return self.tokens_input + self.tokens_output


class OpenTelemetryExporter:
    """cascadeflow 1.2.0's exporter: ``record(cascadeflowMetrics(...))`` per execution.

    With ``meter_provider`` it records there; otherwise, with an OTLP ``endpoint`` (or
    ``OTEL_EXPORTER_OTLP_ENDPOINT``), into a ``MeterProvider`` of its own exporting over
    OTLP/HTTP every 60 s (needs ``opentelemetry-exporter-otlp-proto-http``). Without either
    it is disabled, as in 1.2.0. The global provider is never replaced.

    Example:
        >>> exporter = OpenTelemetryExporter(meter_provider=provider)
        >>> exporter.record(cascadeflowMetrics(0.001, 100, 200, 1500.0,
        ...                 MetricDimensions(model="gpt-4o-mini", provider="openai")))
    """

    def __init__(self, endpoint: str | None = None, service_name: str = "cascadeflow",
                 environment: str | None = None, enabled: bool = True, *,
                 meter_provider: metrics.MeterProvider | None = None,
                 record_user_id: bool = False) -> None:
        self.enabled = enabled
        self.service_name = service_name
        self.environment = environment or os.getenv("ENVIRONMENT", "development")
        self.endpoint = endpoint or os.getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
        self.record_user_id = record_user_id
        self._own_provider: Any = None
        self._meter: metrics.Meter | None = None
        if not self.enabled:
            return
        if meter_provider is None and not self.endpoint:
            logger.warning("OpenTelemetry endpoint not configured; set "
                           "OTEL_EXPORTER_OTLP_ENDPOINT, pass endpoint= or meter_provider=. "
                           "Metrics will not be exported.")
            self.enabled = False
            return
        if meter_provider is None:
            meter_provider = self._otlp_provider()
            if meter_provider is None:
                self.enabled = False
                return
        self._meter = get_cascadeflow_meter(meter_provider)
        self._genai = GenAIInstruments()
        self._genai.attach(self._meter)
        self._tokens_input = self._meter.create_counter(
            "cascadeflow.tokens.input", unit="tokens", description="Input tokens consumed")
        self._tokens_output = self._meter.create_counter(
            "cascadeflow.tokens.output", unit="tokens", description="Output tokens generated")
        self._latency = self._meter.create_histogram(
            "cascadeflow.latency", unit="ms", description="Request latency in milliseconds")

    def _otlp_provider(self) -> metrics.MeterProvider | None:
        try:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter,
            )
            from opentelemetry.sdk.metrics import MeterProvider
            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
            from opentelemetry.sdk.resources import Resource
        except ImportError as exc:
            logger.warning("OpenTelemetry OTLP exporter not installed (%s); metrics will not "
                           "be exported. pip install opentelemetry-sdk "
                           "opentelemetry-exporter-otlp-proto-http", exc)
            return None
        resource = Resource.create({"service.name": self.service_name,
                                    "deployment.environment": self.environment})
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=f"{self.endpoint}/v1/metrics", timeout=10),
            export_interval_millis=60_000)
        self._own_provider = MeterProvider(resource=resource, metric_readers=[reader])
        return self._own_provider  # type: ignore[no-any-return]

    def record(self, metrics: cascadeflowMetrics) -> None:
        """Record one execution's cost, tokens and latency."""
        if not self.enabled or self._meter is None:
            return
        dims = metrics.dimensions
        name = sc.provider_name(dims.provider)
        attributes: dict[str, Any] = {sc.OPERATION_NAME: sc.CHAT, sc.PROVIDER_NAME: name}
        if not sc.latest_experimental():
            attributes[sc.SYSTEM] = name
        if dims.model:
            attributes[sc.REQUEST_MODEL] = dims.model
        genai = dict(attributes)
        if dims.user_tier:
            attributes[sc.USER_TIER] = dims.user_tier
        if dims.domain:
            attributes["cascadeflow.query.domain"] = dims.domain
        if self.record_user_id and dims.user_id:
            attributes[sc.USER_ID] = dims.user_id
            genai[sc.USER_ID] = dims.user_id
        if metrics.cost > 0:
            self._genai.cost.add(metrics.cost, attributes)
        self._tokens_input.add(metrics.tokens_input, attributes)
        self._tokens_output.add(metrics.tokens_output, attributes)
        self._latency.record(metrics.latency_ms, attributes)
        self._genai.token_usage.record(metrics.tokens_input, {**genai, sc.TOKEN_TYPE: "input"})
        self._genai.token_usage.record(metrics.tokens_output,
                                       {**genai, sc.TOKEN_TYPE: "output"})
        self._genai.duration.record(metrics.latency_ms / 1000.0, genai)

    def flush(self) -> None:
        """Export now (only the exporter's own provider; never the global one)."""
        if self._own_provider is not None:
            self._own_provider.force_flush()

    def shutdown(self) -> None:
        """Flush and stop the exporter's own provider (the global one is left alone)."""
        if self._own_provider is not None:
            self._own_provider.shutdown()
            self._own_provider = None
        self.enabled = False


def create_exporter_from_env() -> OpenTelemetryExporter | None:
    """An exporter configured from the environment, as in cascadeflow 1.2.0.

    Reads ``OTEL_EXPORTER_OTLP_ENDPOINT`` (required; None without it),
    ``OTEL_SERVICE_NAME`` (default ``cascadeflow``), ``ENVIRONMENT`` (default
    ``development``) and ``OTEL_ENABLED`` (default ``true``).

    Example:
        >>> os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://localhost:4318"
        >>> exporter = create_exporter_from_env()
    """
    endpoint = os.getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return None
    return OpenTelemetryExporter(
        endpoint=endpoint,
        service_name=os.getenv("OTEL_SERVICE_NAME", "cascadeflow"),
        environment=os.getenv("ENVIRONMENT", "development"),
        enabled=os.getenv("OTEL_ENABLED", "true").lower() in ("true", "1", "yes"),
    )


__all__ = ["MetricDimensions", "OpenTelemetryExporter", "cascadeflowMetrics",
           "create_exporter_from_env"]
