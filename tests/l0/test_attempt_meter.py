"""The attempt-meter seam: what ``l0(..., budget=meter)`` tells a meter and lets it decide."""

from __future__ import annotations

from typing import Any

import pytest

from cascadeflow.l0 import (
    AttemptEnd,
    AttemptMeter,
    AttemptStart,
    L0ExhaustedError,
    LifecycleEventType,
    RetryConfig,
    l0,
    structured,
)
from tests.l0.conftest import Scripted, SleepRecorder


class Refused(Exception):
    """What the recording meter raises to refuse or stop."""


class RecordingMeter:
    """Records every call; refuses the fallback indexes in ``refuse``; stops at ``stop_at``."""

    def __init__(self, *, refuse: frozenset[int] = frozenset(), stop_at: int | None = None,
                 price: float = 0.5) -> None:
        self.refuse = refuse
        self.stop_at = stop_at
        self.price = price
        self.starts: list[AttemptStart] = []
        self.ends: list[AttemptEnd] = []
        self.told: list[int] = []

    async def attempt_started(self, start: AttemptStart) -> int | None:
        if start.fallback_index in self.refuse:
            raise Refused(f"no room for fallback {start.fallback_index}")
        self.starts.append(start)
        return self.stop_at

    def tokens_delivered(self, start: AttemptStart, token_count: int,
                         model: str | None) -> int | None:
        self.told.append(token_count)
        raise Refused(f"stopped at {token_count}")

    async def attempt_ended(self, end: AttemptEnd) -> float | None:
        self.ends.append(end)
        return end.token_count * self.price


def tokens(count: int) -> list[str]:
    return [f"t{index} " for index in range(count)]


async def test_every_attempt_is_started_and_ended_once_with_its_outcome() -> None:
    factory = Scripted([*tokens(3), ConnectionError("reset")], tokens(4))
    meter = RecordingMeter()
    result = await l0(factory, budget=meter, sleep=SleepRecorder())
    assert await result.text() == "".join(tokens(4))
    assert [(s.attempt, s.fallback_index) for s in meter.starts] == [(1, 0), (2, 0)]
    assert [(e.attempt, e.outcome, e.token_count) for e in meter.ends] == [
        (1, "retried", 3), (2, "completed", 4)]
    assert meter.ends[0].error is not None and isinstance(meter.ends[0].error, ConnectionError)
    assert {e.stream_id for e in meter.ends} == {result.stream_id}
    assert result.telemetry.cost_usd == pytest.approx(3.5)


async def test_cost_usd_is_none_without_a_meter() -> None:
    result = await l0(Scripted(tokens(2)))
    await result.text()
    assert result.telemetry.cost_usd is None


async def test_a_refused_primary_moves_on_to_the_fallback_without_calling_its_factory() -> None:
    primary, backup = Scripted(tokens(2)), Scripted(tokens(5))
    meter = RecordingMeter(refuse=frozenset({0}))
    result = await l0(primary, fallback_streams=[backup], budget=meter)
    assert await result.text() == "".join(tokens(5))
    assert primary.calls == 0 and backup.calls == 1
    assert [e.outcome for e in meter.ends] == ["completed"]
    assert isinstance(result.errors[0], Refused)


async def test_a_refusal_with_no_fallback_left_is_raised_unchanged_and_never_retried() -> None:
    factory = Scripted(tokens(2))
    events: list[Any] = []
    meter = RecordingMeter(refuse=frozenset({0}))
    result = await l0(factory, budget=meter, retry=RetryConfig(attempts=5),
                      on_event=events.append)
    with pytest.raises(Refused):
        await result.text()
    assert factory.calls == 0 and meter.ends == []
    assert [e.data["refused"] for e in events if e.type == LifecycleEventType.BUDGET] == [True]


async def test_a_stop_withholds_the_token_that_triggered_it_and_is_not_retried() -> None:
    factory = Scripted(tokens(50))
    meter = RecordingMeter(stop_at=7)
    result = await l0(factory, budget=meter, retry=RetryConfig(attempts=5))
    received: list[str] = []
    with pytest.raises(Refused, match="stopped at 7"):
        async for event in result:
            if event.type == "token":
                received.append(event.value or "")
    assert received == tokens(6)
    assert result.state.content == "".join(tokens(6))
    assert factory.calls == 1
    assert [(e.outcome, e.token_count) for e in meter.ends] == [("budget", 6)]


async def test_a_consumer_that_stops_reading_ends_the_attempt_as_abandoned() -> None:
    meter = RecordingMeter()
    result = await l0(Scripted(tokens(100)), budget=meter)
    async with result:
        async for event in result:
            if event.type == "token" and event.value == "t9 ":
                break
    assert [(e.outcome, e.token_count) for e in meter.ends] == [("abandoned", 10)]


async def test_a_final_failure_ends_the_last_attempt_as_failed() -> None:
    meter = RecordingMeter()
    result = await l0(Scripted([*tokens(2), ConnectionError("down")]), budget=meter,
                      retry=RetryConfig(attempts=0, max_retries=1), sleep=SleepRecorder())
    with pytest.raises((ConnectionError, L0ExhaustedError)):
        await result.text()
    assert [e.outcome for e in meter.ends] == ["retried", "failed"]


async def test_structured_forwards_the_meter_to_every_run() -> None:
    from pydantic import BaseModel

    class Point(BaseModel):
        x: int

    meter = RecordingMeter()
    result = await structured(Point, Scripted(['{"x": ', '"nope"}'], ['{"x": 3}']),
                              budget=meter)
    assert result.data == Point(x=3)
    assert [e.outcome for e in meter.ends] == ["completed", "completed"]


def test_anything_that_is_not_a_meter_is_refused_with_a_clear_error() -> None:
    assert isinstance(RecordingMeter(), AttemptMeter)
    with pytest.raises(TypeError, match="AttemptMeter"):
        import asyncio

        asyncio.run(l0(Scripted(tokens(1)), budget=object()))  # type: ignore[arg-type]
