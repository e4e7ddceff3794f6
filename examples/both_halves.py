"""Both halves in one call: l0_completion streams with L0's retries and guardrails, enforces
the user's budget before every attempt, cuts a stream where the budget ends, and bills every
attempt. Runs offline (LiteLLM's mock_response)."""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from cascadeflow import BudgetConfig, BudgetExceededError, CostTracker
from cascadeflow.integrations.litellm import l0_completion, register
from cascadeflow.l0 import RetryConfig
from cascadeflow.l0.guardrails import pattern_rule

MESSAGES = [{"role": "user", "content": "Summarise the quarterly report."}]


async def main() -> None:
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("ana", BudgetConfig(daily=0.01))
    register(tracker)  # plain LiteLLM calls elsewhere in the app are metered too

    # A refusal the guardrail rejects: retried, then answered by the fallback.
    result = await l0_completion(
        model="gpt-4o", messages=MESSAGES, user="ana",
        mock_response="As an AI language model I cannot summarise reports.",
        guardrails=[pattern_rule()], retry=RetryConfig(attempts=1),
        fallbacks=[{"model": "gpt-4o-mini", "mock_response": "Revenue grew 12%."}])
    print("answer:", await result.text())
    print(f"every attempt together cost ${result.telemetry.cost_usd:.6f}")
    for entry in tracker.entries:
        print(f"  attempt {entry.metadata['l0_attempt']} on {entry.model}: "
              f"{entry.metadata['l0_outcome']}, ${entry.cost:.6f}")

    # A long answer on a small budget: the guard cuts it where the budget ends.
    tracker.set_user_budget("ben", BudgetConfig(daily=0.002))
    long = await l0_completion(model="gpt-4o", messages=MESSAGES, user="ben",
                               mock_response="word " * 2_000, max_tokens=4_000)
    try:
        await long.text()
    except BudgetExceededError as stopped:
        print(f"cut after {long.state.token_count} tokens: {stopped}")
    print(f"ben spent ${tracker.by_user['ben']:.6f} of $0.002")


if __name__ == "__main__":
    asyncio.run(main())
