"""Guardrails on a long stream: the `recommended` preset against ai2070-l0's, side by side.

Figures at 20,000 and 100,000 tokens show whether the cost per token grows with length.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from benchmarks._report import figure, header, run_peer

TEXT = ("The service streams tokens to the client while the model writes its answer "
        "about **formatting**, tables and code.")
WORDS = TEXT.split(" ")
LENGTHS = (20_000, 100_000)


def tokens(count: int) -> list[str]:
    return [WORDS[i % len(WORDS)] + " " for i in range(count)]


def engine_rate(count: int) -> float:
    """Tokens per second of the engine alone, checked every 5 tokens as the runtime does."""
    from cascadeflow.l0.guardrails import GuardrailEngine, recommended

    words = tokens(count)
    engine = GuardrailEngine(recommended())
    engine.start()
    content = ""
    delta = ""
    start = time.perf_counter()
    for index, word in enumerate(words, 1):
        content += word
        delta += word
        if index % 5 == 0:
            engine.check_streaming(content, delta, index)
            delta = ""
    engine.check_complete(content, count)
    return count / (time.perf_counter() - start)


async def _l0_rate(count: int) -> float:
    """Tokens per second through ``l0()`` (its default check intervals) with the preset."""
    from cascadeflow.l0 import l0
    from cascadeflow.l0.guardrails import recommended

    words = tokens(count)

    async def source() -> Any:
        for word in words:
            yield word

    start = time.perf_counter()
    result = await l0(source, guardrails=recommended())
    await result.text()
    return float(count / (time.perf_counter() - start))


def main() -> None:
    header("L0 guardrails: `recommended` preset over a long stream (tokens/s)")
    peer: dict[int, float] = {}
    for count in LENGTHS:
        measured = json.loads(run_peer("l0_guardrails.py", "stream", str(count)))
        peer[count] = count / measured["seconds"]
    through_l0 = {count: asyncio.run(_l0_rate(count)) for count in LENGTHS}
    for count, rate in through_l0.items():
        figure(f"l0() + recommended, {count:,} tokens", rate, "tok/s",
               ">= 5x ai2070-l0", ok=rate >= 5 * peer[count],
               peer=f"ai2070-l0 {peer[count]:,.0f} ({rate / peer[count]:.1f}x)")
    growth = through_l0[LENGTHS[0]] / through_l0[LENGTHS[1]]
    figure("cost per token at 100k / at 20k (l0())", growth, "x", "<= 1.5 (flat)",
           ok=growth <= 1.5, peer=f"ai2070-l0 {(peer[LENGTHS[0]] / peer[LENGTHS[1]]):.2f}x")
    for count in LENGTHS:
        rate = engine_rate(count)
        figure(f"GuardrailEngine alone, {count:,} tokens", rate, "tok/s",
               ">= 5x ai2070-l0", ok=rate >= 5 * peer[count],
               peer=f"ai2070-l0 {peer[count]:,.0f} ({rate / peer[count]:.1f}x)")
    short, long = engine_rate(LENGTHS[0]), engine_rate(LENGTHS[1])
    growth = (1 / long) / (1 / short)
    figure("cost per token at 100k / at 20k (engine)", growth, "x", "<= 1.5 (flat)",
           ok=growth <= 1.5, peer=f"ai2070-l0 {(peer[LENGTHS[0]] / peer[LENGTHS[1]]):.2f}x")


if __name__ == "__main__":
    main()
