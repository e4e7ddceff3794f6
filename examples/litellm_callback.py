"""Register cascadeflow's callback and call LiteLLM as usual: every completion is metered.

Offline (mock responses). Run: .venv/bin/python examples/litellm_callback.py
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

from cascadeflow import BudgetExceededError
from cascadeflow.integrations.litellm import register, unregister
from cascadeflow.telemetry import BudgetConfig, CostTracker

MESSAGES = [{"role": "user", "content": "Write a haiku about budgets."}]


async def main() -> None:
    tracker = CostTracker(user_budgets={"free": BudgetConfig(daily=0.0006)},
                          enforcement_mode="block")
    tracker.set_user_tier("ana", "free")
    callback = register(tracker)  # keeps any callbacks you already had

    for attempt in range(1, 5):
        try:
            # `user=` names who pays; the tier comes from metadata or the tracker.
            await litellm.acompletion(model="gpt-4o", messages=MESSAGES, user="ana",
                                      max_tokens=20, mock_response="Coins fall like leaves")
            print(f"ana request {attempt}: answered")
        except BudgetExceededError as refused:
            print(f"ana request {attempt}: blocked before sending ({refused.period} limit "
                  f"${refused.limit:.4f})")
    await GLOBAL_LOGGING_WORKER.flush()  # LiteLLM delivers success events in the background

    summary = tracker.get_user_summary("ana")
    print(f"ana spent ${summary['total_cost']:.6f} in {summary['total_entries']} calls; "
          f"stats: recorded={callback.stats.recorded} blocked={callback.stats.blocked}")
    unregister(callback)


if __name__ == "__main__":
    asyncio.run(main())
