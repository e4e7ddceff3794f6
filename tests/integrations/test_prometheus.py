"""serve_prometheus: the instrumentor's metrics scraped over HTTP from a real /metrics."""

from __future__ import annotations

import httpx

from cascadeflow.integrations.otel import serve_prometheus
from cascadeflow.telemetry import CostTracker
from tests.integrations.conftest import OtelCapture


def test_a_scrape_shows_token_usage_and_cost(otel: OtelCapture) -> None:
    with serve_prometheus(port=0) as endpoint:
        assert endpoint.url == f"http://127.0.0.1:{endpoint.port}/metrics"
        CostTracker().add_cost("gpt-4o-mini", "openai", 150, 0.25, user_tier="pro",
                               prompt_tokens=100, completion_tokens=50)
        body = httpx.get(endpoint.url, timeout=10).text
    lines = body.splitlines()
    usage = [line for line in lines if line.startswith("gen_ai_client_token_usage")]
    assert any('_sum{' in line and 'gen_ai_token_type="input"' in line
               and line.endswith(" 100.0") for line in usage)
    assert any('_sum{' in line and 'gen_ai_token_type="output"' in line
               and line.endswith(" 50.0") for line in usage)
    assert any('le="67108864"' in line for line in usage)  # the conventions' buckets
    [cost] = [line for line in lines if line.startswith("cascadeflow_cost")
              and "_total{" in line]
    assert 'cascadeflow_user_tier="pro"' in cost and cost.endswith(" 0.25")
    assert "user_id" not in body
    # The application's own reader saw the same entry.
    assert {p.attributes["gen_ai.token.type"]: p.sum
            for p in otel.points("gen_ai.client.token.usage")} == {"input": 100, "output": 50}


def test_a_closed_endpoint_stops_recording_and_serving(otel: OtelCapture) -> None:
    endpoint = serve_prometheus(port=0)
    endpoint.close()
    CostTracker().add_cost("gpt-4o", "openai", 30, 0.01, prompt_tokens=10,
                           completion_tokens=20)
    try:
        httpx.get(endpoint.url, timeout=2)
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("the endpoint still answers after close()")
