"""End to end: LiteLLM's real proxy on loopback with the cascadeflow callback from
examples/proxy/config.yaml, driven by the openai client as two users."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import openai
import pytest

from cascadeflow.storage import SQLiteStore
from cascadeflow.telemetry import CostTracker

pytestmark = pytest.mark.proxy

RUNNER = Path(__file__).resolve().parents[2] / "examples" / "proxy" / "run_proxy.py"
# A gpt-4o mock answer costs $0.000225 (10 prompt + 20 completion tokens): two fit in
# alice's daily $0.0005, the third does not.
BUDGETS = "alice=0.0005,bob=1.0"


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_proxy", RUNNER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[openai.OpenAI, Path, int]]:
    """The proxy started once for this module on a free loopback port, stopped after it."""
    runner = _runner()
    ledger = tmp_path_factory.mktemp("proxy") / "ledger.db"
    port, metrics_port = runner.free_port(), runner.free_port()
    process = runner.start_proxy(ledger, BUDGETS, port, metrics_port)
    try:
        runner.wait_ready(port, process, log=runner.log_of(ledger))
        yield (openai.OpenAI(base_url=f"http://127.0.0.1:{port}", api_key=runner.MASTER_KEY,
                             max_retries=0), ledger, metrics_port)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _ask(client: openai.OpenAI, user: str) -> str:
    answer = client.chat.completions.create(
        model="gpt-4o", user=user, max_tokens=20,
        messages=[{"role": "user", "content": "Summarise the ledger"}])
    return answer.choices[0].message.content or ""


def test_user_over_budget_gets_429_and_the_other_user_does_not(proxy, wait_until):
    client, ledger, _ = proxy
    assert _ask(client, "alice") and _ask(client, "alice")
    with pytest.raises(openai.RateLimitError) as refused:
        _ask(client, "alice")
    message = str(refused.value)
    assert "'alice'" in message and "daily" in message and "$0.000500" in message
    for _ in range(3):
        assert _ask(client, "bob")

    view = CostTracker(store=SQLiteStore(ledger))
    one_call = view.pricing.estimate_cost("gpt-4o", 10, 20)

    def spends() -> tuple[int, int]:
        return (view.get_user_summary("alice")["total_entries"],
                view.get_user_summary("bob")["total_entries"])

    wait_until(lambda: spends() == (2, 3))
    assert view.get_user_summary("alice")["total_cost"] == pytest.approx(2 * one_call)
    assert view.get_user_summary("bob")["total_cost"] == pytest.approx(3 * one_call)
    assert view.get_user_summary("alice")["total_cost"] <= 0.0005


def test_the_proxy_serves_cascadeflow_metrics_to_prometheus(proxy, wait_until):
    client, _, metrics_port = proxy
    assert _ask(client, "bob")
    runner = _runner()
    wait_until(lambda: runner.scrape(metrics_port, "cascadeflow_cost_USD_total", timeout=0))
    [cost] = [line for line in runner.scrape(metrics_port, "cascadeflow_cost_USD_total")
              if 'gen_ai_request_model="gpt-4o"' in line]
    assert float(cost.rsplit(" ", 1)[1]) > 0
    assert runner.scrape(metrics_port, "gen_ai_client_token_usage_sum")
    decisions = runner.scrape(metrics_port, "cascadeflow_budget_decisions_total")
    assert any('cascadeflow_budget_action="allow"' in line for line in decisions)
