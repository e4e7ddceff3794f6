"""Ask the ledger before expensive work: can this user afford it, and what is left?

Offline (mock responses). Run: .venv/bin/python examples/litellm_can_afford.py
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from cascadeflow.integrations.litellm import completion, register
from cascadeflow.pricing import estimate_cost
from cascadeflow.telemetry import BudgetConfig, CostTracker

DOCUMENT = "quarterly numbers " * 400


def summarise(tracker: CostTracker, user: str) -> str:
    messages = [{"role": "user", "content": f"Summarise: {DOCUMENT}"}]
    # A rough upper bound: about 1,300 prompt tokens and at most 300 output tokens.
    estimate = estimate_cost("gpt-4o", 1_300, 300)
    if not tracker.can_afford(user, estimate):
        return f"skipped (needs ~${estimate:.4f}, remaining {tracker.remaining(user)})"
    response = completion(model="gpt-4o", messages=messages, user=user, max_tokens=300,
                          mock_response="Revenue is up; costs are flat.")
    return str(response.choices[0].message.content)


def main() -> None:
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("ben", BudgetConfig(daily=0.007))
    register(tracker)
    for run in range(1, 7):
        print(f"run {run}: {summarise(tracker, 'ben')}")
    print(f"ben remaining: {tracker.remaining('ben')}")


if __name__ == "__main__":
    main()
