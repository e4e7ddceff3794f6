"""End to end: LiteLLM's real proxy on loopback with the example's cascadeflow callback, its
ledger in PostgreSQL (a real server), driven by the openai client as two users."""

from __future__ import annotations

from collections.abc import Callable

import openai
import pytest

from cascadeflow.storage import PostgresStore
from cascadeflow.telemetry import CostTracker
from tests.integrations.test_proxy import BUDGETS, _ask, _runner

pytestmark = [pytest.mark.proxy, pytest.mark.postgres]


def test_the_proxy_example_keeps_its_budgets_in_postgres(
    postgres_dsn: str, wait_until: Callable[..., None],
) -> None:
    runner = _runner()
    port = runner.free_port()
    process = runner.start_proxy(postgres_dsn, BUDGETS, port)
    try:
        runner.wait_ready(port, process, log=runner.log_of(postgres_dsn))
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}", api_key=runner.MASTER_KEY,
                               max_retries=0)
        assert _ask(client, "alice") and _ask(client, "alice")
        with pytest.raises(openai.RateLimitError) as refused:
            _ask(client, "alice")
        assert "'alice'" in str(refused.value) and "daily" in str(refused.value)
        for _ in range(3):
            assert _ask(client, "bob")

        with PostgresStore(postgres_dsn) as store:
            view = CostTracker(store=store)
            one_call = view.pricing.estimate_cost("gpt-4o", 10, 20)

            def spends() -> tuple[int, int]:
                return (view.get_user_summary("alice")["total_entries"],
                        view.get_user_summary("bob")["total_entries"])

            # The proxy settles after answering: wait for the last settle to land.
            wait_until(lambda: spends() == (2, 3))
            assert view.get_user_summary("alice")["total_cost"] == pytest.approx(2 * one_call)
            assert view.get_user_summary("bob")["total_cost"] == pytest.approx(3 * one_call)
            assert store.totals().entry_count == 5
    finally:
        process.terminate()
        process.wait(timeout=30)
