"""cascadeflow.l0 around LiteLLM streams, offline (``mock_response``), with a fallback.

The primary model is rate limited; after its retries L0 falls back to a second model, whose
stream is consumed with usage. Run: ``.venv/bin/python examples/l0_litellm.py``
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # imported after the environment switch above

from cascadeflow.l0 import RetryConfig, l0

MESSAGES = [{"role": "user", "content": "Why do streams need retries?"}]


async def primary():
    # mock_response="litellm.RateLimitError" makes LiteLLM raise a real RateLimitError (429).
    return await litellm.acompletion(model="gpt-4o", messages=MESSAGES, stream=True,
                                     mock_response="litellm.RateLimitError")


async def backup():
    return await litellm.acompletion(
        model="claude-haiku-4-5", messages=MESSAGES, stream=True,
        stream_options={"include_usage": True},
        mock_response="Because networks drop, providers throttle and models stall.")


async def main() -> None:
    def observe(event):
        if event.type in {"retry", "fallback"}:
            print(f"[{event.type}] {dict(event.data).get('reason', '')}")

    result = await l0(primary, fallback_streams=[backup], on_event=observe,
                      retry=RetryConfig(max_retries=1, base_delay=0.01, max_delay=0.05))
    async for event in result:
        if event.type == "token":
            print(event.value, end="", flush=True)
        elif event.type == "complete" and event.usage:
            print(f"\nusage: {event.usage['total_tokens']} tokens")
    print("fallback_index:", result.state.fallback_index, "errors:",
          [type(e).__name__ for e in result.errors])
    assert result.state.content.startswith("Because networks drop")


if __name__ == "__main__":
    asyncio.run(main())
