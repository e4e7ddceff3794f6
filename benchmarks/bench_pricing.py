"""Pricing without LiteLLM: start-up cost and per-call cost of cascadeflow.pricing vs LiteLLM."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from benchmarks._report import ROOT, figure, header
from cascadeflow.pricing import PriceBook

CALLS = 20_000
COLD_RUNS = 3

_OURS_COLD = (
    "import sys, cascadeflow.pricing as p; "
    "p.default_price_book().estimate_cost_nanos('gpt-4o', 1000, 200); "
    "assert 'litellm' not in sys.modules"
)
_LITELLM_COLD = (
    "import litellm; "
    "litellm.cost_per_token(model='gpt-4o', prompt_tokens=1000, completion_tokens=200)"
)


def _cold_ms(code: str) -> float:
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
    runs = []
    for _ in range(COLD_RUNS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs) * 1e3


def _per_call_us(call: object, *args: object) -> float:
    assert callable(call)
    clock = time.perf_counter
    samples = []
    for _ in range(CALLS):
        start = clock()
        call(*args)
        samples.append(clock() - start)
    return statistics.median(samples) * 1e6


def main() -> None:
    header("pricing: cost estimation without importing LiteLLM")
    ours_cold = _cold_ms(_OURS_COLD)
    litellm_cold = _cold_ms(_LITELLM_COLD)
    figure(
        "fresh process: import + first estimate (ours)",
        ours_cold,
        "ms",
        "<= 500 ms",
        ok=ours_cold <= 500,
        peer=f"litellm: {litellm_cold:,.0f} ms ({litellm_cold / ours_cold:,.0f}x)",
    )

    start = time.perf_counter()
    book = PriceBook.load()
    load_ms = (time.perf_counter() - start) * 1e3
    figure(
        f"PriceBook.load() ({len(book.models()):,} models)",
        load_ms,
        "ms",
        "<= 300 ms",
        ok=load_ms <= 300,
    )

    ours_us = _per_call_us(book.estimate_cost_nanos, "gpt-4o", 1000, 200)
    import litellm

    def litellm_call(model: str, prompt: int, completion: int) -> object:
        return litellm.cost_per_token(
            model=model, prompt_tokens=prompt, completion_tokens=completion
        )

    litellm_us = _per_call_us(litellm_call, "gpt-4o", 1000, 200)
    figure(
        "estimate_cost_nanos per call (median)",
        ours_us,
        "us",
        "<= 10 us",
        ok=ours_us <= 10,
        peer=f"litellm.cost_per_token: {litellm_us:,.1f} us",
    )


if __name__ == "__main__":
    main()
