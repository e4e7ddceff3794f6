"""Many streams at once: parallel, sequential, batched and a pool, offline, with their cost.

Every stream is a guarded LiteLLM ``acompletion(stream=True)`` (``mock_response``), so each
one is metered into the tracker; the operations report the same cost as the ledger.
Run: ``.venv/bin/python examples/l0_parallel.py``
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from cascadeflow.integrations.litellm import acompletion  # after the switch above
from cascadeflow.l0 import batched, create_pool, parallel, sequential
from cascadeflow.telemetry import CostTracker

tracker = CostTracker()
MESSAGES = [{"role": "user", "content": "Name a colour."}]


def ask(answer: str, model: str = "gpt-4o-mini"):
    async def factory():
        return await acompletion(model=model, messages=MESSAGES, user="ada", stream=True,
                                 tracker=tracker, mock_response=answer)
    return factory


async def main() -> None:
    result = await parallel([ask("red"), ask("green"), ask("blue", "gpt-4o")], concurrency=2)
    print("parallel:", result.results, result.statuses,
          f"cost ${result.telemetry.cost_usd:.6f}")

    ordered = await sequential([ask("first"), ask("second")])
    print("sequential:", ordered.results)

    # A failing task keeps its error; every other result is kept.
    failing = {"stream": ask("litellm.RateLimitError"), "retry": None}
    kept = await batched([ask("one"), failing, ask("three")], batch_size=2)
    print("batched:", kept.results, [type(e).__name__ if e else None for e in kept.errors])

    async with create_pool(2, retry=None) as pool:
        for word in ("alpha", "beta", "gamma"):
            pool.submit(ask(word))
        pooled = await pool.drain()
    print("pool:", pooled.results)

    ledger = sum(entry.cost for entry in tracker.get_entries_by_user("ada"))
    operations = sum(r.telemetry.cost_usd or 0.0 for r in (result, ordered, kept, pooled))
    print(f"ledger total ${ledger:.6f} = operations' total ${operations:.6f}")
    assert abs(ledger - operations) < 1e-12


if __name__ == "__main__":
    asyncio.run(main())
