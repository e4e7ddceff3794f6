"""parallel, sequential, batched and the pool: input order, statuses, telemetry, budget."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from pydantic import BaseModel

import cascadeflow.l0._l0 as l0_module
from cascadeflow.l0 import (
    L0LifecycleEvent,
    L0Options,
    L0Result,
    RetryConfig,
    batched,
    create_pool,
    l0,
    parallel,
    sequential,
)
from tests.l0.conftest import Scripted, SleepRecorder, Words


class Person(BaseModel):
    name: str
    age: int


def test_results_keep_input_order_whatever_finishes_first(on_backends: Any) -> None:
    factories = [Words("slow", " one", pause=0.03), Words("fast"), Words("mid", pause=0.01)]

    async def main() -> Any:
        return await parallel(factories)

    result = on_backends(main)
    assert result.results == ["slow one", "fast", "mid"]
    assert result.statuses == ["success"] * 3
    assert (result.success_count, result.failure_count, result.cancelled_count) == (3, 0, 0)
    assert [outcome.index for outcome in result.outcomes] == [0, 1, 2]
    assert all(isinstance(outcome.result, L0Result) for outcome in result.outcomes)


def test_every_kind_of_task_gives_its_value(on_backends: Any) -> None:
    async def plain_value() -> int:
        await anyio.sleep(0)
        return 42

    async def made_stream() -> Any:
        return Words("from", " a coroutine")()

    tasks = [
        Words("a factory"),
        {"stream": Words("a mapping"), "retry": None},
        L0Options(stream=Words("options")),
        plain_value,
        made_stream,
        {"stream": Words('{"name": "Ada", "age": 36,}'), "schema": Person},
        lambda: l0(Words("an L0Result")),
    ]

    async def main() -> Any:
        return await parallel(tasks)

    result = on_backends(main)
    assert result.statuses == ["success"] * 7, result.errors
    assert result.results[:5] == ["a factory", "a mapping", "options", 42, "from a coroutine"]
    assert result.results[5] == Person(name="Ada", age=36)
    assert result.results[6] == "an L0Result"


def test_fail_fast_marks_skipped_and_stopped_tasks_cancelled(on_backends: Any) -> None:
    running = Words("never", " finishes", pause=10.0)
    tasks = [Words(ValueError("broken"), pause=0.02), running, Words("queued"),
             Words("queued too")]

    async def main() -> Any:
        return await parallel(tasks, concurrency=2, fail_fast=True, retry=None)

    result = on_backends(main)
    assert result.statuses == ["error", "cancelled", "cancelled", "cancelled"]
    assert isinstance(result.errors[0], ValueError)
    assert result.errors[1:] == [None, None, None]
    assert result.successful_results() == []  # no None posing as a success
    assert (result.failure_count, result.cancelled_count, result.success_count) == (1, 3, 0)
    assert running.closed and running.delivered == []


def test_without_fail_fast_an_error_does_not_stop_the_others(on_backends: Any) -> None:
    async def main() -> Any:
        return await parallel([Words(ValueError("x")), Words("ok")], retry=None)

    result = on_backends(main)
    assert result.statuses == ["error", "success"]
    assert result.successful_results() == ["ok"]


def test_batched_keeps_every_result_and_each_error(on_backends: Any) -> None:
    tasks = [Words(f"r{index}") if index % 3 else Words(KeyError(index)) for index in range(7)]

    async def main() -> Any:
        return await batched(tasks, batch_size=3, retry=None)

    result = on_backends(main)
    assert result.statuses == ["error", "success", "success"] * 2 + ["error"]
    assert result.results == [None, "r1", "r2", None, "r4", "r5", None]
    assert [type(error).__name__ if error else None for error in result.errors] == [
        "KeyError", None, None, "KeyError", None, None, "KeyError"]


def test_concurrency_is_respected_and_sequential_runs_one_at_a_time(on_backends: Any) -> None:
    active = {"now": 0, "most": 0}

    def task(word: str) -> Any:
        async def counted() -> str:
            active["now"] += 1
            active["most"] = max(active["most"], active["now"])
            await anyio.sleep(0.005)
            active["now"] -= 1
            return word
        return counted

    async def main() -> tuple[Any, int, Any, int]:
        wide = await parallel([task(str(i)) for i in range(8)], concurrency=3)
        most_wide, active["most"] = active["most"], 0
        narrow = await sequential([task(str(i)) for i in range(4)])
        return wide, most_wide, narrow, active["most"]

    wide, most_wide, narrow, most_narrow = on_backends(main)
    assert wide.results == [str(i) for i in range(8)] and most_wide == 3
    assert narrow.results == ["0", "1", "2", "3"] and most_narrow == 1


def test_progress_callback_is_awaited_for_every_task(on_backends: Any) -> None:
    seen: list[tuple[int, int]] = []

    async def on_progress(done: int, total: int) -> None:
        await anyio.sleep(0.001)
        seen.append((done, total))

    async def main() -> Any:
        return await parallel([Words("a"), Words("b"), Words("c")], on_progress=on_progress)

    on_backends(main)
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]


def test_telemetry_sums_tokens_retries_and_first_tokens(on_backends: Any) -> None:
    sleeps = SleepRecorder()
    flaky = Scripted(["x", ConnectionResetError("reset")], ["one", " two"])

    async def main() -> Any:
        return await parallel([flaky, Words("a", "b", "c")], sleep=sleeps,
                              retry=RetryConfig(attempts=2))

    result = on_backends(main)
    telemetry = result.telemetry
    assert result.results == ["one two", "abc"]
    assert telemetry.tasks == 2 and telemetry.attempts == 3
    assert telemetry.token_count == 5
    assert telemetry.retries == {"network_error": 1} and telemetry.total_retries == 1
    assert telemetry.fastest_time_to_first_token is not None
    assert telemetry.average_time_to_first_token >= telemetry.fastest_time_to_first_token
    assert telemetry.cost_usd is None  # no stream here reports a price
    assert telemetry.duration == result.duration > 0


def test_pool_runs_submitted_tasks_with_shared_options(on_backends: Any) -> None:
    async def main() -> tuple[Any, Any]:
        async with create_pool(2, retry=None) as pool:
            first = pool.submit(Words("one"))
            pool.submit(Words(ValueError("no retry with retry=None")))
            pool.submit(Words("three", pause=0.01))
            assert first == 0
            inside = await pool.drain()
        outside = create_pool(1)
        outside.submit(Words("queued"))
        return inside, await outside.drain()

    inside, outside = on_backends(main)
    assert inside.statuses == ["success", "error", "success"]
    assert inside.results == ["one", None, "three"]
    assert outside.results == ["queued"]


def test_budget_is_forwarded_to_l0_per_task_only_when_given(
        on_backends: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    forwarded: list[Any] = []
    real_l0 = l0_module.l0

    async def recording_l0(*args: Any, **options: Any) -> L0Result:
        forwarded.append(options.pop("budget", "absent"))
        return await real_l0(*args, **options)

    monkeypatch.setattr(l0_module, "l0", recording_l0)
    guards: list[object] = []

    def one_guard_per_task() -> object:
        guards.append(object())
        return guards[-1]

    shared = object()

    async def main() -> None:
        await parallel([Words("a"), Words("b")], budget=one_guard_per_task)
        await parallel([Words("c")], budget=shared)
        await parallel([Words("d")])

    on_backends(main)
    assert forwarded[:2] == guards or forwarded[:2] == guards[::-1]
    assert len(guards) == 2 and forwarded[2:] == [shared, "absent"]


def test_operation_events_and_stream_events_reach_on_event(on_backends: Any) -> None:
    seen: list[L0LifecycleEvent] = []

    async def main() -> Any:
        return await parallel([Words("a"), Words(ValueError("x"))], on_event=seen.append,
                              retry=None)

    on_backends(main)
    kinds = [event.type for event in seen]
    assert kinds[0] == "operation_start" and kinds[-1] == "operation_end"
    assert kinds.count("task_start") == 2 and kinds.count("task_end") == 2
    ends = {event.data["index"]: event.data["status"] for event in seen
            if event.type == "task_end"}
    assert ends == {0: "success", 1: "error"}
    stream_events = [event for event in seen if event.type == "session_start"]
    assert sorted(event.context["task_index"] for event in stream_events) == [0, 1]
    assert seen[-1].data["status"] == "partial"


def test_bad_input_is_named(on_backends: Any) -> None:
    async def main() -> Any:
        return await parallel([42, {"retry": None}])

    result = on_backends(main)
    assert result.statuses == ["error", "error"]
    assert "task 0 of parallel() is a int" in str(result.errors[0])
    assert "has no 'stream'" in str(result.errors[1])
    with pytest.raises(ValueError, match="concurrency must be a positive integer"):
        anyio.run(lambda: parallel([], concurrency=0))
    with pytest.raises(ValueError, match="batch_size"):
        anyio.run(lambda: batched([], 0))


def test_every_operation_forwards_its_budget(on_backends: Any,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from cascadeflow.l0 import Step, consensus, create_window, pipe, race

    forwarded: list[Any] = []
    real_l0 = l0_module.l0

    async def recording_l0(*args: Any, **options: Any) -> L0Result:
        forwarded.append(options.pop("budget", "absent"))
        return await real_l0(*args, **options)

    monkeypatch.setattr(l0_module, "l0", recording_l0)
    guard = object()
    window = create_window("abcdef", size=3, overlap=0, strategy="char")

    async def main() -> None:
        await race([Words("a")], budget=guard)
        await consensus([Words("a"), Words("a")], budget=guard)
        await pipe([Step("s", lambda text, ctx: Words(text))], "x", budget=guard)
        await window.process_all(lambda chunk: Words(chunk.content), budget=guard)
        async with create_pool(1, budget=guard) as pool:
            pool.submit(Words("p"))
            await pool.drain()

    on_backends(main)
    assert forwarded == [guard] * 7
