"""Guardrails on a stream, offline: a refusal is retried, a leaked secret stops the stream.

Run: LITELLM_LOCAL_MODEL_COST_MAP=True python examples/l0_guardrails.py
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from cascadeflow.l0 import L0GuardrailError, l0
from cascadeflow.l0.guardrails import custom_pattern_rule, recommended

ANSWERS = iter(["I'm sorry, but I can't help with that request today, friend.",
                "Paris is the capital of France."])


async def main() -> None:
    async def answer() -> AsyncIterator[str]:
        for word in next(ANSWERS).split(" "):
            yield word + " "

    # The first answer is a refusal (a recoverable error): l0 retries, the second wins.
    result = await l0(answer, guardrails=recommended())
    print("text:", (await result.text()).strip())
    print("violations seen:", [v.message for v in result.state.violations])

    async def leaky() -> AsyncIterator[str]:
        yield "The key is sk-abcdefgh12345678 and "
        for _ in range(100_000):
            yield "more "

    # A fatal rule stops the stream at once, with no retry.
    secret = custom_pattern_rule([r"sk-[a-z0-9]{16}"], "API key leaked", "fatal")
    try:
        await (await l0(leaky, guardrails=[secret])).text()
    except L0GuardrailError as exc:
        print("stopped:", exc.violations[0].message)


if __name__ == "__main__":
    asyncio.run(main())
