"""The demo's L0 traffic: requests sent through ``l0_completion`` (both halves in one call).

Three kinds, in turn: an answer a guardrail rejects (retried, then served by the fallback),
a rate-limited primary that falls back down its degradation chain, and a long answer that
the budget guard cuts where the user's budget ends. Every attempt is one ledger entry.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from typing import Any

from cascadeflow import BudgetExceededError, CostTracker

KINDS = ("guardrail", "rate_limited", "long")
_REFUSAL = "As an AI language model I cannot share the quarterly figures."


def _rate_limited(model: str) -> Exception:
    from litellm.exceptions import RateLimitError

    return RateLimitError(message="mock: too many requests", llm_provider="openai",
                                  model=model)


async def _send(tracker: CostTracker, user: str, model: str, prompt: str, kind: str,
                reply: str, words: Sequence[str], rng: random.Random) -> str:
    from cascadeflow.integrations.litellm import l0_completion
    from cascadeflow.l0 import RetryConfig
    from cascadeflow.l0.guardrails import pattern_rule
    from cascadeflow.telemetry import get_degradation_chain

    messages = [{"role": "user", "content": prompt}]
    options: dict[str, Any] = {"retry": RetryConfig(attempts=1, max_retries=1,
                                                    base_delay=0.0, max_delay=0.0)}
    chain = get_degradation_chain(model, tracker.degradation_map) or ["gpt-4o-mini"]
    if kind == "guardrail":
        options.update(mock_response=_REFUSAL, guardrails=[pattern_rule()],
                       fallbacks=[{"model": chain[0], "mock_response": reply}])
    elif kind == "rate_limited":
        # The primary refuses; the fallbacks are the model's degradation chain.
        options.update(mock_response=_rate_limited(model),
                       retry=RetryConfig(max_retries=0),
                       fallbacks=[{"model": step, "mock_response": reply} for step in chain])
    else:
        long_reply = " ".join(rng.choice(words) for _ in range(1_500))
        options.update(mock_response=long_reply, max_tokens=4_000)
    result = await l0_completion(model=model, messages=messages, user=user, tracker=tracker,
                                 **options)
    try:
        await result.text()
    except BudgetExceededError:
        return "cut" if result.state.token_count else "blocked"
    return "degraded" if result.state.fallback_index else "served"


def send_through_l0(tracker: CostTracker, user: str, model: str, prompt: str, kind: str,
                    reply: str, words: Sequence[str], rng: random.Random) -> str:
    """Send one request through ``l0_completion``; return how it ended for the table
    (``served``, ``degraded``, ``cut`` or ``blocked``)."""
    return asyncio.run(_send(tracker, user, model, prompt, kind, reply, words, rng))


def l0_costs(tracker: CostTracker, user: str) -> tuple[float, int]:
    """What the user's attempts that did not become the answer cost, and how many streams
    the budget guard cut."""
    retry_cost, cut = 0.0, 0
    for entry in tracker.get_entries_by_user(user):
        outcome = entry.metadata.get("l0_outcome")
        if outcome in ("retried", "abandoned", "failed"):
            retry_cost += entry.cost
        elif outcome == "budget":
            cut += 1
    return retry_cost, cut
