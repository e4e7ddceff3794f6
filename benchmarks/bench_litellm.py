"""The cost of cascadeflow's LiteLLM callback on a mock completion, sync and async.

Batches with and without the registered callback are interleaved (so drift in machine
load hits both alike); each batch waits until LiteLLM has delivered its success events,
so the callback's background work is inside the measured time. Time is the process's CPU
time (all threads), which the other processes on a shared machine disturb far less than
wall time. The figure is the median of the per-round ratios.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import threading
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from benchmarks._report import figure, header

BATCH = 150
ROUNDS = 15
TARGET = 1.10
MESSAGES = [{"role": "user", "content": "Summarise the quarterly report in one line."}]


def _drain_logging_threads() -> None:
    from litellm.litellm_core_utils.thread_pool_executor import executor

    workers = executor._max_workers
    barrier = threading.Barrier(workers)
    for task in [executor.submit(barrier.wait, 30.0) for _ in range(workers)]:
        task.result(timeout=60.0)


def _set_callbacks(callbacks: list[object]) -> None:
    import litellm

    for name in ("callbacks", "success_callback", "failure_callback", "input_callback",
                 "_async_success_callback", "_async_failure_callback", "_async_input_callback"):
        getattr(litellm, name).clear()
    litellm.callbacks.extend(callbacks)


def _sync_batch() -> float:
    import litellm

    start = time.process_time()
    for index in range(BATCH):
        litellm.completion(model="gpt-4o-mini", messages=MESSAGES, user=f"user{index % 20}",
                           max_tokens=64, mock_response="The report is fine.")
    _drain_logging_threads()
    return (time.process_time() - start) / BATCH


async def _async_batch() -> float:
    import litellm
    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

    start = time.process_time()
    for index in range(BATCH):
        await litellm.acompletion(model="gpt-4o-mini", messages=MESSAGES,
                                  user=f"user{index % 20}", max_tokens=64,
                                  mock_response="The report is fine.")
    await GLOBAL_LOGGING_WORKER.flush()
    return (time.process_time() - start) / BATCH


def _ratio(run: object, callback: object) -> tuple[float, float, float]:
    """Median (with / without) over interleaved rounds, and the two median times."""
    measure = (lambda: asyncio.run(run())) if asyncio.iscoroutinefunction(run) else run
    assert callable(measure)
    _set_callbacks([])
    measure()  # warm-up: imports, tokenizer, price lookups
    _set_callbacks([callback])
    measure()
    ratios: list[float] = []
    without: list[float] = []
    with_callback: list[float] = []
    for round_number in range(ROUNDS):
        order = [False, True] if round_number % 2 == 0 else [True, False]
        times: dict[bool, float] = {}
        for registered in order:
            _set_callbacks([callback] if registered else [])
            gc.collect()
            times[registered] = measure()
        ratios.append(times[True] / times[False])
        without.append(times[False])
        with_callback.append(times[True])
    _set_callbacks([])
    return statistics.median(ratios), statistics.median(without), statistics.median(with_callback)


def main() -> None:
    from cascadeflow.integrations.litellm import CascadeFlowLiteLLMCallback
    from cascadeflow.telemetry import BudgetConfig, CostTracker

    header("LiteLLM callback overhead (mock completion, callback registered vs not)")
    tracker = CostTracker(enforcement_mode="block")
    for index in range(20):
        tracker.set_user_budget(f"user{index}", BudgetConfig(daily=1_000.0))
    callback = CascadeFlowLiteLLMCallback(tracker)
    for name, run in (("sync completion()", _sync_batch), ("async acompletion()", _async_batch)):
        ratio, base, metered = _ratio(run, callback)
        figure(f"{name}: with callback / without", ratio, "x", f"<= {TARGET:.2f}x",
               ok=ratio <= TARGET,
               peer=f"{base * 1e3:.3f} ms -> {metered * 1e3:.3f} ms per call")
    from litellm.integrations.custom_logger import CustomLogger

    class _DoNothing(CustomLogger):  # type: ignore[misc]
        def log_success_event(self, kwargs: object, response_obj: object, start_time: object,
                              end_time: object) -> None:
            return None

        async def async_log_success_event(self, kwargs: object, response_obj: object,
                                          start_time: object, end_time: object) -> None:
            return None

    for name, run in (("sync", _sync_batch), ("async", _async_batch)):
        ratio, _, _ = _ratio(run, _DoNothing())
        print(f"  reference: LiteLLM with an empty CustomLogger, {name}: {ratio:.2f}x", flush=True)
    stats = callback.stats
    print(f"  recorded {stats.recorded} entries, {stats.callback_errors} callback errors",
          flush=True)


if __name__ == "__main__":
    main()
