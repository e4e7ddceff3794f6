"""The L0 monitor and the observer helpers, over real runs of the runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from cascadeflow.l0 import (
    CheckIntervals,
    L0LifecycleEvent,
    RetryConfig,
    add_event_hook,
    combine_events,
    create_monitor,
    event_hooks,
    filter_events,
    l0,
    remove_event_hook,
    run_is_sampled,
)
from cascadeflow.l0.guardrails import custom_pattern_rule
from tests.l0.conftest import HTTPError, Scripted, SleepRecorder

WORDS = ["Hello ", "brave ", "new ", "world"]


def slow_start(delay: float) -> object:
    async def stream() -> AsyncIterator[str]:
        await anyio.sleep(delay)
        for word in WORDS:
            yield word
    return stream


async def test_snapshot_counts_outcomes_retries_fallbacks_and_violations(
        sleeps: SleepRecorder) -> None:
    monitor = create_monitor()
    network = Scripted(["Hel", ConnectionResetError("reset")], WORDS)
    await (await l0(network, on_event=monitor.on_event, sleep=sleeps)).text()
    fallback = await l0(Scripted([HTTPError(500)]), fallback_streams=[Scripted(WORDS)],
                        retry=RetryConfig(max_retries=0), on_event=monitor.on_event,
                        sleep=sleeps)
    await fallback.text()
    failing = await l0(Scripted([ValueError("boom")]), retry=None, on_event=monitor.on_event)
    with pytest.raises(ValueError):
        await failing.text()
    warn = custom_pattern_rule([r"brave"], "brave seen", "warning", name="no-brave",
                               scan_every=1)
    await (await l0(Scripted(WORDS), guardrails=[warn], on_event=monitor.on_event,
                    check_intervals=CheckIntervals(guardrails=1))).text()

    snap = monitor.snapshot()
    assert (snap.runs, snap.completed, snap.failed, snap.in_flight) == (4, 3, 1, 0)
    assert snap.retries == {"network_error": 1}  # a network retry, not a model retry
    assert snap.fallbacks == 1
    assert snap.violations == {"no-brave": 1}
    assert snap.cost_usd is None  # no budget guard on these runs
    assert snap.tokens_per_second_p50 is not None and snap.tokens_per_second_p50 > 0


async def test_time_to_first_token_is_the_real_wait() -> None:
    monitor = create_monitor()
    for _ in range(3):
        await (await l0(slow_start(0.05), on_event=monitor.on_event)).text()
    snap = monitor.snapshot()
    assert snap.time_to_first_token_p50 is not None
    assert snap.time_to_first_token_p50 >= 0.05
    assert snap.time_to_first_token_p95 is not None
    assert snap.time_to_first_token_p95 >= snap.time_to_first_token_p50


async def test_sampling_keeps_or_drops_whole_runs() -> None:
    monitor = create_monitor(sample_rate=0.5)
    seen: list[L0LifecycleEvent] = []
    for _ in range(40):
        result = await l0(Scripted(WORDS), on_event=combine_events(monitor.on_event,
                                                                   seen.append))
        await result.text()
    stream_ids = {event.stream_id for event in seen}
    sampled = {sid for sid in stream_ids if run_is_sampled(sid, 0.5)}
    snap = monitor.snapshot()
    assert 0 < snap.runs < 40
    assert snap.runs == len(sampled)
    assert snap.completed == snap.runs and snap.in_flight == 0


async def test_an_attached_monitor_sees_every_run_and_detaches() -> None:
    monitor = create_monitor(attach=True)
    try:
        assert monitor.on_event in event_hooks()
        await (await l0(Scripted(WORDS))).text()
        await (await l0(Scripted(WORDS))).text()
    finally:
        monitor.detach()
    await (await l0(Scripted(WORDS))).text()
    assert monitor.snapshot().completed == 2
    assert monitor.on_event not in event_hooks()


async def test_a_hook_only_receives_the_types_it_asked_for() -> None:
    seen: list[str] = []

    def record(event: L0LifecycleEvent) -> None:
        seen.append(event.type)

    add_event_hook(record, types={"session_start", "session_end"})
    try:
        await (await l0(Scripted(WORDS * 10), check_intervals=CheckIntervals(checkpoint=2))
               ).text()
    finally:
        assert remove_event_hook(record)
    assert seen == ["session_start", "session_end"]
    with pytest.raises(ValueError, match="unknown lifecycle event type"):
        add_event_hook(record, types={"sesion_end"})


async def test_combine_events_calls_every_observer_even_after_one_raises(
        caplog: pytest.LogCaptureFixture) -> None:
    second: list[str] = []

    def broken(event: L0LifecycleEvent) -> None:
        raise RuntimeError("observer bug")

    result = await l0(Scripted(WORDS), on_event=combine_events(
        broken, filter_events({"retry", "complete"}, lambda e: second.append(e.type))))
    assert await result.text() == "Hello brave new world"
    assert second == ["complete"]
    assert sum("observer raised" in r.getMessage() for r in caplog.records) == 1


def test_bad_monitor_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        create_monitor(sample_rate=1.5)
    with pytest.raises(TypeError):
        combine_events("print")  # type: ignore[arg-type]
