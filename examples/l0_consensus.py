"""Ask three models and vote: text answers (numbers never merge) and a pydantic schema.

Each answer is a guarded LiteLLM stream (``mock_response``); the consensus reports what the
three cost, which is what the ledger recorded.
Run: ``.venv/bin/python examples/l0_consensus.py``
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from pydantic import BaseModel

from cascadeflow.integrations.litellm import acompletion  # after the switch above
from cascadeflow.l0 import consensus
from cascadeflow.telemetry import CostTracker

tracker = CostTracker()
MESSAGES = [{"role": "user", "content": "What is six times seven?"}]
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-haiku-4-5"]


class Person(BaseModel):
    name: str
    age: int


def ask(model: str, answer: str):
    async def factory():
        return await acompletion(model=model, messages=MESSAGES, user="cy", stream=True,
                                 tracker=tracker, mock_response=answer)
    return factory


async def main() -> None:
    answers = ["Six times seven is 42.", "six times seven is 42", "Six times seven is 43."]
    voted = await consensus([ask(m, a) for m, a in zip(MODELS, answers, strict=True)])
    print(f"majority: {voted.value!r} confidence {voted.confidence:.2f} ({voted.status})")
    print("groups:", [(vote.value, vote.indices) for vote in voted.disagreements])

    weighted = await consensus([ask(m, a) for m, a in zip(MODELS, ["Paris", "Lyon", "Lyon"],
                                                          strict=True)],
                               strategy="weighted", weights=[3, 1, 1])
    print(f"weighted: {weighted.value!r} confidence {weighted.confidence:.2f}")

    people = ['{"name": "Ada", "age": 30}', '{"name": "Ada", "age": 31}',
              '{"name": "Ada", "age": 31}']
    structured = await consensus([ask(m, p) for m, p in zip(MODELS, people, strict=True)],
                                 schema=Person)
    age = structured.field_consensus["age"]
    print(f"schema: {structured.value!r}; age votes "
          f"{[(vote.value, vote.indices) for vote in age.votes]}")

    ledger = sum(entry.cost for entry in tracker.get_entries_by_user("cy"))
    spent = voted.cost_usd + weighted.cost_usd + structured.cost_usd
    print(f"three consensus runs cost ${spent:.6f}; ledger ${ledger:.6f} "
          f"({len(tracker.get_entries_by_user('cy'))} entries)")
    assert voted.value == "Six times seven is 42." and structured.value.age == 31
    assert abs(spent - ledger) < 1e-12


if __name__ == "__main__":
    asyncio.run(main())
