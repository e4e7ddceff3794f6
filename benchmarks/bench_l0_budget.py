"""Both halves together: what metering costs inside L0.

- ``l0_completion`` (enforce, reserve, guarded stream, budget guard, one entry per attempt)
  against ``l0()`` over the same mock LiteLLM stream without any metering, per call;
- ``l0()`` with a :class:`BudgetGuard` against ``l0()`` alone over 100,000 tokens (the
  guard is consulted on the first token and then only when the hold could run out).

Times are CPU time of this process, the median (calls) or best (long streams) of
interleaved runs, so that the shared machine's load hits both sides alike.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from benchmarks._report import figure, header

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Summarise the quarterly report in three lines."}]
ANSWER = "The quarter went well: revenue grew, costs held and the outlook is steady. " * 4
CALLS = 40
ROUNDS = 9
TOKENS = 100_000
REPEATS = 7
CALL_TARGET = 1.15
GUARD_TARGET = 0.85


async def _plain_l0_call() -> None:
    import litellm

    from cascadeflow.l0 import l0

    async def factory() -> Any:
        return await litellm.acompletion(model=MODEL, messages=MESSAGES, stream=True,
                                         mock_response=ANSWER,
                                         stream_options={"include_usage": True})

    result = await l0(factory)
    await result.text()


def _metered_call(tracker: Any) -> Callable[[], Any]:
    async def call() -> None:
        from cascadeflow.integrations.litellm import l0_completion

        result = await l0_completion(model=MODEL, messages=MESSAGES, user="bench",
                                     tracker=tracker, mock_response=ANSWER)
        await result.text()

    return call


def _batch(call: Callable[[], Any]) -> float:
    async def run() -> float:
        start = time.process_time()
        for _ in range(CALLS):
            await call()
        return (time.process_time() - start) / CALLS

    return asyncio.run(run())


def _calls() -> None:
    import litellm

    from cascadeflow.telemetry import BudgetConfig, CostTracker

    for name in ("callbacks", "success_callback", "_async_success_callback", "input_callback",
                 "failure_callback", "_async_failure_callback"):
        getattr(litellm, name).clear()
    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("bench", BudgetConfig(daily=1_000_000.0))
    metered = _metered_call(tracker)
    _batch(_plain_l0_call)
    _batch(metered)  # warm-up: imports, tokenizer, prices
    ratios, plain_times, metered_times = [], [], []
    for round_number in range(ROUNDS):
        order = [False, True] if round_number % 2 == 0 else [True, False]
        times: dict[bool, float] = {}
        for with_metering in order:
            gc.collect()
            times[with_metering] = _batch(metered if with_metering else _plain_l0_call)
        ratios.append(times[True] / times[False])
        plain_times.append(times[False])
        metered_times.append(times[True])
    ratio = statistics.median(ratios)
    figure("l0_completion / l0() over the same mock stream", ratio, "x",
           f"<= {CALL_TARGET:.2f}x", ok=ratio <= CALL_TARGET,
           peer=(f"{statistics.median(plain_times) * 1e3:.2f} ms -> "
                 f"{statistics.median(metered_times) * 1e3:.2f} ms per call; "
                 f"{len(tracker.entries):,} entries"))


def _tokens(count: int) -> Callable[[], AsyncIterator[str]]:
    items = [f"t{index} " for index in range(count)]

    async def stream() -> AsyncIterator[str]:
        for item in items:
            yield item

    return stream


async def _stream_run(factory: Callable[[], AsyncIterator[str]], guard: Any) -> float:
    from cascadeflow.l0 import l0

    start = time.process_time()
    result = await l0(factory, budget=guard)
    async for _ in result.stream:
        pass
    assert result.state.token_count == TOKENS
    return time.process_time() - start


def _guard_throughput() -> None:
    from cascadeflow import BudgetConfig, BudgetGuard, CostTracker

    tracker = CostTracker(enforcement_mode="block")
    tracker.set_user_budget("reader", BudgetConfig(daily=1_000.0))
    factory = _tokens(TOKENS)
    best = {False: float("inf"), True: float("inf")}
    for _ in range(REPEATS):
        for guarded in (False, True):
            guard = (BudgetGuard(tracker, "reader", model=MODEL, prompt_tokens=200,
                                 max_output_tokens=TOKENS) if guarded else None)
            gc.collect()
            best[guarded] = min(best[guarded], asyncio.run(_stream_run(factory, guard)))
    plain, guarded_rate = TOKENS / best[False], TOKENS / best[True]
    share = guarded_rate / plain
    figure(f"l0() + BudgetGuard / l0(), {TOKENS:,} tokens", share, "x tok/s",
           f">= {GUARD_TARGET:.2f}x", ok=share >= GUARD_TARGET,
           peer=f"{plain:,.0f} -> {guarded_rate:,.0f} tok/s; {len(tracker.entries)} entries")


def main() -> None:
    header("Both halves together: metering inside L0 (CPU time)")
    _calls()
    _guard_throughput()


if __name__ == "__main__":
    main()
