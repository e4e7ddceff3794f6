"""The real ``DriftDetector`` driven by the real ``l0()`` runtime: retry on drift, or report."""

from __future__ import annotations

import pytest

from cascadeflow.l0 import (
    CheckIntervals,
    DriftDetector,
    L0DriftError,
    L0LifecycleEvent,
    RetryConfig,
    l0,
)
from tests.l0.conftest import Scripted, SleepRecorder

CLEAN = ("Paris is the capital of France. It sits on the Seine and has about two "
         "million inhabitants.")
DRIFTING = ("Paris is the capital of France. As an AI language model, I do not have "
            "personal experiences of the city.")


def spaced(text: str) -> list[str]:
    """Word tokens, each keeping the space that follows it."""
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + words[-1:]


async def test_detected_drift_retries_and_the_clean_attempt_wins(sleeps: SleepRecorder) -> None:
    events: list[L0LifecycleEvent] = []
    factory = Scripted(spaced(DRIFTING), spaced(CLEAN))
    result = await l0(factory, drift=DriftDetector(), retry_on_drift=True, sleep=sleeps,
                      on_event=events.append, check_intervals=CheckIntervals(drift=2))

    assert await result.text() == CLEAN
    assert factory.calls == 2
    drift_events = [e for e in events if e.type == "drift"]
    assert len(drift_events) == 1
    assert drift_events[0].data["types"] == ["meta_commentary"]
    assert drift_events[0].data["confidence"] >= 0.6
    assert [e.data["reason"] for e in events if e.type == "retry"] == ["drift"]
    assert result.telemetry.retries == {"drift": 1}
    assert result.state.model_retry_count == 1  # a content error: counted
    assert isinstance(result.errors[0], L0DriftError)


async def test_drift_stops_the_attempt_before_the_rest_is_read(sleeps: SleepRecorder) -> None:
    tail = [f"filler{i} " for i in range(5_000)]
    factory = Scripted(spaced(DRIFTING) + tail, spaced(CLEAN))
    result = await l0(factory, drift=True, sleep=sleeps, check_intervals=CheckIntervals(drift=5))

    shown = ""
    async for event in result:
        if event.type == "token":
            shown += event.value or ""
        elif event.type == "error" and event.data is not None:
            assert event.data["action"] == "retry"
            assert "filler100 " not in shown  # the drifting attempt was cut short
            shown = shown[: event.data["discard_from"]]
    assert shown == CLEAN


async def test_without_retry_on_drift_the_stream_is_kept_and_drift_reported(
        sleeps: SleepRecorder) -> None:
    events: list[L0LifecycleEvent] = []
    factory = Scripted(spaced(DRIFTING), spaced(CLEAN))
    result = await l0(factory, drift=DriftDetector(), retry_on_drift=False, sleep=sleeps,
                      on_event=events.append, check_intervals=CheckIntervals(drift=2))

    assert await result.text() == DRIFTING
    assert factory.calls == 1
    assert result.state.drift_detected
    assert [e.data["types"] for e in events if e.type == "drift"] == [["meta_commentary"]]
    assert "retry" not in [e.type for e in events]


async def test_drift_on_every_attempt_ends_in_a_drift_error(sleeps: SleepRecorder) -> None:
    factory = Scripted(spaced(DRIFTING))
    result = await l0(factory, drift=DriftDetector(), retry=RetryConfig(attempts=2),
                      sleep=sleeps, check_intervals=CheckIntervals(drift=2))

    with pytest.raises(L0DriftError) as caught:
        await result.text()
    assert caught.value.types == ["meta_commentary"]
    assert factory.calls == 3


async def test_clean_text_passes_the_detector_untouched(sleeps: SleepRecorder) -> None:
    factory = Scripted(spaced(CLEAN))
    result = await l0(factory, drift=DriftDetector(), sleep=sleeps,
                      check_intervals=CheckIntervals(drift=1))

    assert await result.text() == CLEAN
    assert factory.calls == 1 and not result.state.drift_detected
