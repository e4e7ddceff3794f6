"""End to end: budgets and rate limits on LiteLLM virtual keys, through the real proxy on
loopback (examples/proxy/config.yaml), set in the ledger before the proxy starts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from cascadeflow import BudgetConfig, CostTracker, RateLimit, Scope
from cascadeflow.storage import SQLiteStore
from tests.integrations.test_proxy import _runner

pytestmark = pytest.mark.proxy

@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    runner = _runner()
    ledger = tmp_path_factory.mktemp("proxy-scopes") / "ledger.db"
    with SQLiteStore(ledger) as store:
        admin = CostTracker(store=store)
        # about two gpt-4o mock answers ($0.000225 each) fit in this key's day
        admin.set_budget(Scope.key("sk-budget-key"), BudgetConfig(daily=0.0005))
        admin.set_rate_limit(Scope.key("sk-rate-key"), RateLimit(rpm=2))
    port = runner.free_port()
    # Any bearer token must pass as a key (no key database here): no master key.
    process = runner.start_proxy(ledger, "", port, master_key=None)
    try:
        runner.wait_ready(port, process, log=runner.log_of(ledger))
        yield port, ledger
    finally:
        process.terminate()
        process.wait(timeout=30)


def _client(port: int, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}", api_key=key, max_retries=0)


def _ask(client: openai.OpenAI, user: str) -> str:
    answer = client.chat.completions.create(
        model="gpt-4o", user=user, max_tokens=20,
        messages=[{"role": "user", "content": "Summarise the ledger"}])
    return answer.choices[0].message.content or ""


def test_a_virtual_keys_budget_refuses_with_429_naming_the_key(proxy, wait_until):
    port, ledger = proxy
    budgeted = _client(port, "sk-budget-key")
    assert _ask(budgeted, "carol") and _ask(budgeted, "dave")
    with pytest.raises(openai.RateLimitError) as refused:
        _ask(budgeted, "erin")
    message = str(refused.value)
    assert "API key" in message and "daily" in message and "sk-budget-key" not in message
    assert "retry-after" not in {name.lower() for name in refused.value.response.headers}
    assert _ask(_client(port, "sk-other-key"), "erin")  # another key is not limited

    view = CostTracker(store=SQLiteStore(ledger))
    wait_until(lambda: view.get_user_summary("erin")["total_entries"] == 1)
    assert view.remaining("x", key="sk-budget-key")["key:" + Scope.key(
        "sk-budget-key").id + " daily"] < view.pricing.estimate_cost("gpt-4o", 10, 20)


def test_a_virtual_keys_rate_limit_refuses_with_retry_after(proxy):
    port, _ = proxy
    if time.time() % 60 > 50:  # keep the three requests inside one minute
        time.sleep(61 - time.time() % 60)
    limited = _client(port, "sk-rate-key")
    assert _ask(limited, "frank") and _ask(limited, "gina")
    with pytest.raises(openai.RateLimitError) as refused:
        _ask(limited, "hank")
    retry_after = int(refused.value.response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert "rpm" in str(refused.value)
