"""The guarded drop-in: enforce before every attempt, settle after, streams however they end.

Offline (mock responses). Run: .venv/bin/python examples/litellm_guarded_completion.py
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm

from cascadeflow import BudgetExceededError
from cascadeflow.integrations.litellm import RetryPolicy, completion
from cascadeflow.telemetry import BudgetConfig, CostTracker

MESSAGES = [{"role": "user", "content": "Explain budgets in one paragraph."}]
ANSWER = " ".join(["Budgets keep spending predictable."] * 12)


def main() -> None:
    tracker = CostTracker(enforcement_mode="degrade",
                          degradation_map={"gpt-4o": "gpt-4o-mini", "gpt-4o-mini": None})
    tracker.set_user_budget("cy", BudgetConfig(daily=0.0012))

    # 1. A plain call: enforced and reserved before, settled from usage after.
    answer = completion(model="gpt-4o", messages=MESSAGES, user="cy", max_tokens=40,
                        tracker=tracker, mock_response="Budgets cap spend.")
    print("plain call answered by", answer.model)

    # 2. A stream abandoned after three chunks is settled from the tokens delivered.
    stream = completion(model="gpt-4o", messages=MESSAGES, user="cy", max_tokens=40,
                        stream=True, tracker=tracker, mock_response=ANSWER)
    with stream:
        for index, _chunk in enumerate(stream):
            if index == 2:
                break

    # 3. Rate limits are retried (Retry-After honoured); each attempt is metered.
    retry = RetryPolicy(max_attempts=2, sleep=lambda seconds: None)
    try:
        completion(model="gpt-4o", messages=MESSAGES, user="cy", max_tokens=40,
                   tracker=tracker, retry=retry, mock_response="litellm.RateLimitError")
    except litellm.RateLimitError:
        print("rate limited on both attempts; nothing was charged")

    # 4. As the budget fills up, calls move to gpt-4o-mini, then are blocked.
    for number in range(1, 8):
        try:
            answer = completion(model="gpt-4o", messages=MESSAGES, user="cy", max_tokens=40,
                                tracker=tracker, mock_response="Short answer.")
            print(f"call {number}: answered by {answer.model}")
        except BudgetExceededError as refused:
            print(f"call {number}: blocked ({refused.period} limit ${refused.limit:.4f})")

    for entry in tracker.get_entries_by_user("cy"):
        outcome = entry.metadata.get("stream_outcome", "")
        print(f"  {entry.model:<12} {entry.prompt_tokens:>4}+{entry.completion_tokens:<4} "
              f"${entry.cost:.6f} {outcome}")


if __name__ == "__main__":
    main()
