"""Race two models: the first complete answer wins, the loser is cancelled and billed.

The slow model's mock stream is paced like a slow provider; it is cancelled when the fast
one finishes, and the ledger bills it for the tokens it had delivered.
Run: ``.venv/bin/python examples/l0_race.py``
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from cascadeflow.integrations.litellm import acompletion  # after the switch above
from cascadeflow.l0 import race
from cascadeflow.telemetry import CostTracker

tracker = CostTracker()
MESSAGES = [{"role": "user", "content": "Explain streaming in one line."}]


class Paced:
    """A stream delivered slowly, like a busy provider (mock streams arrive at once)."""

    def __init__(self, stream, pause: float) -> None:
        self.stream, self.pause = stream, pause

    def __aiter__(self):
        return self

    async def __anext__(self):
        await asyncio.sleep(self.pause)
        return await self.stream.__anext__()

    async def aclose(self) -> None:
        await self.stream.aclose()

    @property
    def cost_usd(self):
        return self.stream.cost_usd


async def slow_model():
    stream = await acompletion(model="gpt-4o", messages=MESSAGES, user="bo", stream=True,
                               tracker=tracker, mock_response="A long careful answer " * 40)
    return Paced(stream, 0.002)


async def fast_model():
    await asyncio.sleep(0.05)  # it starts later, and still wins
    return await acompletion(model="gpt-4o-mini", messages=MESSAGES, user="bo", stream=True,
                             tracker=tracker, mock_response="Tokens arrive as they are made.")


async def main() -> None:
    result = await race([slow_model, fast_model])
    [loser] = result.losers
    print(f"winner: task {result.winner_index}: {result.value!r}")
    print(f"loser: {loser.status} after {len(loser.result.state.content)} characters, "
          f"billed ${loser.cost_usd:.6f}")
    for entry in tracker.get_entries_by_user("bo"):
        print(f"ledger: {entry.model:<12} {entry.metadata['stream_outcome']:<10} "
              f"${entry.cost:.6f}")
    ledger = sum(entry.cost for entry in tracker.get_entries_by_user("bo"))
    print(f"race cost ${result.cost_usd:.6f} = ledger ${ledger:.6f}")
    assert result.winner_index == 1 and abs(result.cost_usd - ledger) < 1e-12


if __name__ == "__main__":
    asyncio.run(main())
