"""The L0 runtime through its public API: retries, fallbacks, timeouts, abort, events."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
import trio

from cascadeflow.l0 import (
    AbortSignal,
    CheckIntervals,
    L0AbortedError,
    L0Event,
    L0ExhaustedError,
    L0LifecycleEvent,
    L0TimeoutError,
    RetryConfig,
    TimeoutConfig,
    consume_stream,
    get_text,
    l0,
)
from tests.l0.conftest import STALL, HTTPError, Scripted, SleepRecorder

WORDS = ["Hello", " brave", " new", " world"]


async def test_plain_strings_become_tokens_and_text() -> None:
    result = await l0(Scripted(WORDS))
    events = await consume_stream(result)
    assert [e.value for e in events if e.type == "token"] == WORDS
    assert events[-1].type == "complete"
    assert result.state.content == "Hello brave new world"
    assert result.state.completed and result.state.token_count == 4
    assert result.telemetry.attempts == 1 and result.telemetry.retries == {}


async def test_get_text_and_awaitable_factory() -> None:
    async def factory() -> Any:
        return Scripted(WORDS)()

    assert await get_text(await l0(factory)) == "Hello brave new world"


async def test_network_error_mid_stream_is_retried_without_counting(
        sleeps: SleepRecorder) -> None:
    factory = Scripted(["Hel", ConnectionResetError("reset by peer")], WORDS)
    result = await l0(factory, retry=RetryConfig(attempts=0), sleep=sleeps)
    assert await result.text() == "Hello brave new world"
    assert factory.calls == 2
    assert result.state.network_retry_count == 1
    assert result.state.model_retry_count == 0
    assert result.telemetry.retries == {"network_error": 1}
    assert sleeps.delays == [pytest.approx(sleeps.delays[0])] and 0.5 <= sleeps.delays[0] <= 1.0


async def test_429_with_retry_after_waits_that_long(sleeps: SleepRecorder) -> None:
    limited = HTTPError(429, "Too Many Requests", headers={"retry-after": "7"})
    factory = Scripted([limited], WORDS)
    result = await l0(factory, sleep=sleeps)
    assert await result.text() == "Hello brave new world"
    assert sleeps.delays == [7.0]
    assert result.telemetry.retries == {"rate_limit": 1}
    assert result.state.model_retry_count == 0


async def test_401_is_never_retried(sleeps: SleepRecorder) -> None:
    factory = Scripted([HTTPError(401, "invalid api key")], WORDS)
    result = await l0(factory, sleep=sleeps)
    with pytest.raises(HTTPError) as caught:
        await result.text()
    assert caught.value.status_code == 401
    assert factory.calls == 1 and sleeps.delays == []


@pytest.mark.parametrize("error", [ValueError("bad argument"), HTTPError(400, "bad request")])
async def test_value_error_and_400_are_not_retried(error: Exception,
                                                   sleeps: SleepRecorder) -> None:
    factory = Scripted([error], WORDS)
    with pytest.raises(type(error)):
        await (await l0(factory, sleep=sleeps)).text()
    assert factory.calls == 1


async def test_model_error_counts_until_attempts(sleeps: SleepRecorder) -> None:
    factory = Scripted(["partial", RuntimeError("model failed")])
    result = await l0(factory, retry=RetryConfig(attempts=2, base_delay=0.01), sleep=sleeps)
    with pytest.raises(L0ExhaustedError) as caught:
        await result.text()
    assert factory.calls == 3
    assert result.state.model_retry_count == 2
    assert len(caught.value.errors) == 3
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert result.telemetry.retries == {"model_error": 2}


async def test_max_retries_caps_everything(sleeps: SleepRecorder) -> None:
    factory = Scripted([ConnectionResetError("reset")])
    result = await l0(factory, retry=RetryConfig(attempts=10, max_retries=4), sleep=sleeps)
    with pytest.raises(L0ExhaustedError):
        await result.text()
    assert factory.calls == 5
    assert len(sleeps.delays) == 4


async def test_retry_none_means_no_retries(sleeps: SleepRecorder) -> None:
    factory = Scripted([ConnectionResetError("reset")], WORDS)
    with pytest.raises(ConnectionResetError):
        await (await l0(factory, retry=None, sleep=sleeps)).text()
    assert factory.calls == 1 and sleeps.delays == []


async def test_fallback_after_exhaustion_starts_clean(sleeps: SleepRecorder) -> None:
    primary = Scripted(["Primary partial", RuntimeError("model failed")])
    backup = Scripted(["Backup", " answer"])
    result = await l0(primary, fallback_streams=[backup],
                      retry=RetryConfig(attempts=1, base_delay=0.01), sleep=sleeps)
    events = await consume_stream(result)
    assert result.state.content == "Backup answer"
    assert result.state.fallback_index == 1
    assert primary.calls == 2 and backup.calls == 1
    assert result.telemetry.fallbacks == 1
    notices = [e for e in events if e.type == "error"]
    assert [n.data["action"] for n in notices if n.data] == ["retry", "fallback"]
    assert all(n.data and n.data["discard_from"] == 0 for n in notices)


async def test_adapter_error_event_triggers_a_retry(sleeps: SleepRecorder) -> None:
    broken = L0Event("error", error=ConnectionResetError("dropped"))
    factory = Scripted(["Hel", broken, "lo"], ["Hello"])
    result = await l0(factory, sleep=sleeps)
    assert await result.text() == "Hello"
    assert factory.calls == 2


async def test_initial_token_timeout_is_retried_then_raised(sleeps: SleepRecorder) -> None:
    factory = Scripted([STALL])
    result = await l0(factory, timeout=TimeoutConfig(initial_token=0.02, inter_token=None),
                      retry=RetryConfig(max_retries=1), sleep=sleeps)
    with pytest.raises(L0ExhaustedError) as caught:
        await result.text()
    assert factory.calls == 2
    assert all(isinstance(e, L0TimeoutError) and e.kind == "initial_token"
               for e in caught.value.errors)
    assert result.telemetry.retries == {"timeout": 1}


async def test_inter_token_timeout_recovers_on_retry(sleeps: SleepRecorder) -> None:
    factory = Scripted(["Hel", STALL], WORDS)
    result = await l0(factory, timeout=TimeoutConfig(initial_token=5.0, inter_token=0.02),
                      sleep=sleeps)
    assert await result.text() == "Hello brave new world"
    assert isinstance(result.errors[0], L0TimeoutError)
    assert result.errors[0].kind == "inter_token"
    assert result.state.network_retry_count == 1


async def test_timeouts_apply_by_default() -> None:
    result = await l0(Scripted(WORDS))
    assert result.options.timeout == TimeoutConfig(initial_token=30.0, inter_token=30.0)


async def test_abort_raises() -> None:
    result = await l0(Scripted(WORDS))
    seen = []
    with pytest.raises(L0AbortedError):
        async for event in result:
            seen.append(event)
            result.abort()
    assert len(seen) == 1
    assert result.state.aborted


async def test_abort_signal_interrupts_a_stalled_stream() -> None:
    signal = AbortSignal()
    result = await l0(Scripted(["Hi", STALL]), signal=signal, timeout=None)

    async def abort_soon() -> None:
        await asyncio.sleep(0.01)
        signal.abort()

    task = asyncio.ensure_future(abort_soon())
    with pytest.raises(L0AbortedError):
        await result.text()
    await task
    assert result.state.aborted and result.state.content == "Hi"


async def test_every_event_carries_stream_id_and_increasing_timestamps(
        sleeps: SleepRecorder) -> None:
    seen: list[L0LifecycleEvent] = []
    factory = Scripted(["a", ConnectionResetError("reset")], ["a", "b"] * 15)
    result = await l0(factory, on_event=seen.append, context={"request_id": "r1"},
                      sleep=sleeps)
    await result.text()
    types = [e.type for e in seen]
    assert types[:3] == ["session_start", "attempt_start", "first_token"]
    assert {"retry", "checkpoint", "complete", "error"} <= set(types)
    assert {e.stream_id for e in seen} == {result.stream_id}
    assert all(e.context == {"request_id": "r1"} for e in seen)
    stamps = [e.ts for e in seen]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    retry = next(e for e in seen if e.type == "retry")
    assert retry.data["reason"] == "network_error" and retry.data["delay"] == sleeps.delays[0]


async def test_callback_exceptions_are_swallowed(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    def observer(event: L0LifecycleEvent) -> None:
        calls.append(event.type)
        raise RuntimeError("observer bug")

    result = await l0(Scripted(WORDS), on_event=observer)
    assert await result.text() == "Hello brave new world"
    assert "complete" in calls
    assert sum("observer raised" in r.getMessage() for r in caplog.records) == 1


async def test_checkpoints_follow_check_intervals() -> None:
    result = await l0(Scripted(list("abcdefg")), check_intervals=CheckIntervals(checkpoint=3))
    await result.text()
    assert result.state.checkpoint == "abcdef"


def test_runs_under_trio() -> None:
    async def main() -> tuple[str, int]:
        factory = Scripted(["Hel", ConnectionResetError("reset")], WORDS)
        result = await l0(factory, sleep=SleepRecorder())
        return await result.text(), factory.calls

    assert trio.run(main) == ("Hello brave new world", 2)


def test_inter_token_timeout_under_trio() -> None:
    async def main() -> list[BaseException]:
        result = await l0(Scripted(["Hel", STALL], WORDS), sleep=SleepRecorder(),
                          timeout=TimeoutConfig(initial_token=5.0, inter_token=0.02))
        assert await result.text() == "Hello brave new world"
        return result.errors

    errors = trio.run(main)
    assert isinstance(errors[0], L0TimeoutError) and errors[0].kind == "inter_token"


async def test_a_slow_consumer_is_not_mistaken_for_a_stalled_stream() -> None:
    result = await l0(Scripted(WORDS), timeout=TimeoutConfig(initial_token=0.02,
                                                             inter_token=0.02))
    async for _ in result:
        await asyncio.sleep(0.06)  # the consumer's time never counts toward the deadline
    assert result.state.content == "Hello brave new world"
    assert result.errors == []


async def test_abort_interrupts_a_stalled_wait_and_leaves_the_task_usable() -> None:
    result = await l0(Scripted(["Hi", STALL]), timeout=None)

    async def abort_soon() -> None:
        await asyncio.sleep(0.01)
        result.abort()

    task = asyncio.ensure_future(abort_soon())
    with pytest.raises(L0AbortedError):
        await result.text()
    await task
    await asyncio.sleep(0)  # the consumer's task was not left cancelled


async def test_a_recovered_timeout_leaves_no_pending_cancellation(
        sleeps: SleepRecorder) -> None:
    result = await l0(Scripted([STALL], WORDS), sleep=sleeps,
                      timeout=TimeoutConfig(initial_token=0.02))
    assert await result.text() == "Hello brave new world"
    current = asyncio.current_task()
    assert current is not None
    cancelling = getattr(current, "cancelling", None)
    assert cancelling is None or cancelling() == 0
    await asyncio.sleep(0)


async def test_text_after_a_failed_iteration_raises_again(sleeps: SleepRecorder) -> None:
    result = await l0(Scripted(["partial", HTTPError(401)]), sleep=sleeps)
    with pytest.raises(HTTPError):
        async for _ in result:
            pass
    with pytest.raises(HTTPError):
        await result.text()


async def test_a_factory_returning_a_non_stream_fails_at_once(sleeps: SleepRecorder) -> None:
    with pytest.raises(TypeError, match="not an async iterable"):
        await (await l0(lambda: ["a", "b"], sleep=sleeps)).text()
    assert sleeps.delays == []
