"""``serve_prometheus``: cascadeflow's metrics on a ``/metrics`` endpoint for Prometheus.

A private ``MeterProvider`` with a ``PrometheusMetricReader`` (and a private
``prometheus_client`` registry) is attached to the instrumentor next to the application's
providers, which stay untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cascadeflow.integrations.otel._instrumentor import CascadeflowInstrumentor


@dataclass(slots=True)
class PrometheusEndpoint:
    """A running ``/metrics`` endpoint; :meth:`close` stops it.

    Attributes:
        url: where Prometheus scrapes, e.g. ``http://127.0.0.1:9464/metrics``.
        port: the port actually bound (useful with ``port=0``).

    Example:
        >>> with serve_prometheus(port=0) as endpoint:
        ...     print(httpx.get(endpoint.url).text[:40])
    """

    url: str
    port: int
    _server: Any
    _thread: Any
    _provider: Any
    _meter: Any

    def close(self) -> None:
        """Stop serving and stop recording into the endpoint's meter provider."""
        CascadeflowInstrumentor().remove_meter(self._meter)
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._provider.shutdown()

    def __enter__(self) -> PrometheusEndpoint:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def serve_prometheus(port: int = 9464, addr: str = "127.0.0.1") -> PrometheusEndpoint:
    """Serve the instrumentor's metrics on ``http://{addr}:{port}/metrics``.

    Instruments with the global providers first when :class:`CascadeflowInstrumentor` is
    not instrumented yet. Needs ``pip install cascadeflow[otel]``
    (``opentelemetry-exporter-prometheus``, ``prometheus_client``). Metric names follow
    Prometheus' translation: ``gen_ai.client.token.usage`` becomes
    ``gen_ai_client_token_usage_*``, ``cascadeflow.cost.total`` becomes
    ``cascadeflow_cost_USD_total``.

    Example:
        >>> endpoint = serve_prometheus(port=9464)
        >>> endpoint.url
        'http://127.0.0.1:9464/metrics'

    .. versionadded:: 0.1
    """
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import MeterProvider
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("serve_prometheus needs the otel extra: "
                          "pip install 'cascadeflow[otel]'") from exc
    instrumentor = CascadeflowInstrumentor()
    if not instrumentor.is_instrumented:
        instrumentor.instrument()
    registry = CollectorRegistry(auto_describe=True)
    reader = PrometheusMetricReader(registry=registry)
    provider = MeterProvider(metric_readers=[reader])
    server, thread = start_http_server(port, addr, registry=registry)
    meter = instrumentor.add_meter_provider(provider)
    bound = int(server.server_port)
    return PrometheusEndpoint(f"http://{addr}:{bound}/metrics", bound, server, thread,
                              provider, meter)


__all__ = ["PrometheusEndpoint", "serve_prometheus"]
