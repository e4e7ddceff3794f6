"""A long document in windows: cut by tokens, each chunk summarised, results merged.

Tokens are counted with tiktoken for ``model=`` (the estimate of four characters a token
without it); each chunk is a guarded LiteLLM stream (``mock_response``), offline.
Run: ``.venv/bin/python examples/l0_window.py``
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from cascadeflow.integrations.litellm import acompletion  # after the switch above
from cascadeflow.l0 import create_window
from cascadeflow.telemetry import CostTracker

tracker = CostTracker()
DOCUMENT = "\n\n".join(f"Chapter {n}. " + "The stream stalled and was resumed. " * 30
                       for n in range(1, 7))


def summarise(chunk):
    async def factory():
        return await acompletion(
            model="gpt-4o-mini", user="ed", stream=True, tracker=tracker,
            messages=[{"role": "user", "content": f"Summarise: {chunk.content}"}],
            mock_response=f"Part {chunk.index + 1}: streams stall, L0 resumes them.")
    return factory


async def main() -> None:
    window = create_window(DOCUMENT, size=300, overlap=30, model="gpt-4o-mini")
    print(window)
    for chunk in window[:3]:
        print(f"  chunk {chunk.index}: chars {chunk.start}-{chunk.end}, "
              f"{chunk.token_count} tokens")
    by_paragraph = create_window(DOCUMENT, size=300, overlap=0, strategy="paragraph",
                                 model="gpt-4o-mini")
    print(f"by paragraph: {len(by_paragraph)} chunks, each whole chapters")
    by_char = create_window(DOCUMENT, size=1000, overlap=100, strategy="char")
    print(f"by character: {[len(chunk.content) for chunk in by_char][:4]} ...")

    result = await window.process_all(summarise, concurrency=3)
    print(window.merge_results(result, "\n"))
    ledger = sum(entry.cost for entry in tracker.get_entries_by_user("ed"))
    print(f"{result.success_count} chunks cost ${result.cost_usd:.6f}; ledger ${ledger:.6f}")
    assert result.success_count == len(window) and abs(result.cost_usd - ledger) < 1e-12


if __name__ == "__main__":
    asyncio.run(main())
