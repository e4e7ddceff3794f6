"""OpenTelemetry for cascadeflow: GenAI metrics and spans, cost and budgets, L0 runs, Prometheus.

``opentelemetry-api`` is the only import this package needs (``pip install
cascadeflow[otel]`` adds the SDK and the Prometheus exporter); nothing here is imported by
the rest of cascadeflow.

Example:
    >>> from cascadeflow.integrations.otel import CascadeflowInstrumentor, serve_prometheus
    >>> CascadeflowInstrumentor().instrument()   # the application's global providers
    >>> endpoint = serve_prometheus(port=9464)   # /metrics for Prometheus
"""

from __future__ import annotations

from cascadeflow.integrations.otel._compat import (
    MetricDimensions,
    OpenTelemetryExporter,
    cascadeflowMetrics,
    create_exporter_from_env,
)
from cascadeflow.integrations.otel._instrumentor import CascadeflowInstrumentor
from cascadeflow.integrations.otel._prometheus import PrometheusEndpoint, serve_prometheus

__all__ = [
    "CascadeflowInstrumentor",
    "MetricDimensions",
    "OpenTelemetryExporter",
    "PrometheusEndpoint",
    "cascadeflowMetrics",
    "create_exporter_from_env",
    "serve_prometheus",
]
