"""The L0 event catalogue: every LifecycleEventType is emitted, typed and documented.

Scenarios drive the real runtime into every kind of step; the test fails when a type is
defined but never emitted, when an event's payload differs from its documented class, or
when a type is missing from the README's event table.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cascadeflow.l0 import (
    EVENT_PAYLOADS,
    AbortSignal,
    CheckIntervals,
    L0AbortedError,
    L0LifecycleEvent,
    LifecycleEventType,
    RetryConfig,
    Step,
    TimeoutConfig,
    consensus,
    create_window,
    l0,
    parallel,
    pipe,
    race,
)
from cascadeflow.l0.guardrails import custom_pattern_rule
from tests.l0.conftest import STALL, Scripted, ScriptedWithArgument, SleepRecorder

README = Path(__file__).resolve().parents[2] / "README.md"
WORDS = [f"w{i} " for i in range(25)]
DRIFTING = "Paris is lovely. As an AI language model, I do not have personal experiences."


class _Cut(Exception):
    """What the test meter raises."""


class _CutAt:
    """An attempt meter that refuses (``limit=0``) or stops the stream at ``limit`` tokens."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    async def attempt_started(self, start: Any) -> int | None:
        if self.limit == 0:
            raise _Cut("nothing left")
        return self.limit

    def tokens_delivered(self, start: Any, token_count: int, model: str | None) -> int | None:
        raise _Cut(f"stopped at {token_count}")

    async def attempt_ended(self, end: Any) -> float | None:
        return None


async def _run_scenarios() -> list[L0LifecycleEvent]:
    seen: list[L0LifecycleEvent] = []
    sleeps = SleepRecorder()
    intervals = CheckIntervals(checkpoint=5, guardrails=1, drift=2)
    # A network error, a retry that resumes from the checkpoint, then completion.
    resuming = ScriptedWithArgument([*WORDS[:12], ConnectionResetError("reset")], WORDS[12:])
    result = await l0(resuming, on_event=seen.append, sleep=sleeps, check_intervals=intervals,
                      continue_from_checkpoint=True)
    await result.text()
    # A stalled primary times out and the run falls back.
    result = await l0(Scripted([STALL]), fallback_streams=[Scripted(WORDS)],
                      timeout=TimeoutConfig(initial_token=0.02, inter_token=None),
                      retry=RetryConfig(max_retries=0), on_event=seen.append, sleep=sleeps)
    await result.text()
    # A warning-level guardrail violation and detected drift (reported, not retried).
    warn = custom_pattern_rule([r"w3\b"], "w3 seen", "warning", scan_every=1)
    result = await l0(Scripted([word + " " for word in DRIFTING.split(" ")] + WORDS),
                      guardrails=[warn], drift=True, retry_on_drift=False, sleep=sleeps,
                      check_intervals=intervals, on_event=seen.append)
    await result.text()
    # A budget meter that stops the stream at its third token, then one that refuses.
    result = await l0(Scripted(WORDS), budget=_CutAt(3), retry=None, on_event=seen.append)
    with pytest.raises(_Cut):
        await result.text()
    result = await l0(Scripted(WORDS), budget=_CutAt(0), retry=None, on_event=seen.append)
    with pytest.raises(_Cut):
        await result.text()
    # An abort.
    signal = AbortSignal()
    result = await l0(Scripted(WORDS), signal=signal, on_event=seen.append)
    with pytest.raises(L0AbortedError):
        async for event in result:
            if event.type == "token":
                signal.abort()
    return seen


async def _run_operation_scenarios() -> list[L0LifecycleEvent]:
    """Every operation over many streams once, each with its own ``on_event``."""
    seen: list[L0LifecycleEvent] = []
    await parallel([Scripted(WORDS[:3]), Scripted(WORDS[3:6])], on_event=seen.append)
    await race([Scripted([STALL]), Scripted(WORDS[:2])], on_event=seen.append)
    await consensus([Scripted(["42"]), Scripted(["42"]), Scripted(["43"])],
                    on_event=seen.append)
    await pipe([Step("first", lambda text, context: Scripted([text, "!"]))], "hi",
               on_event=seen.append)
    window = create_window("one two three four five six", size=10, overlap=0,
                           strategy="char")
    await window.process_all(lambda chunk: Scripted([chunk.content]), on_event=seen.append)
    return seen


def _documented_types() -> dict[str, str]:
    """Event type -> its row in the README's L0 event table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### L0 lifecycle events", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \|(.*)$", section, flags=re.MULTILINE)
    return dict(rows)


async def test_every_event_type_is_emitted_with_its_documented_payload() -> None:
    seen = await _run_scenarios() + await _run_operation_scenarios()
    emitted = {event.type for event in seen}
    defined = {kind.value for kind in LifecycleEventType}
    assert defined - emitted == set(), "defined but never emitted"
    assert emitted <= defined
    for event in seen:
        payload = EVENT_PAYLOADS[LifecycleEventType(event.type)]
        keys: frozenset[Any] = payload.__required_keys__ | payload.__optional_keys__
        assert set(event.data) == set(keys), f"{event.type} payload differs from {payload}"


async def test_every_emitted_type_is_documented_in_the_readme() -> None:
    documented = _documented_types()
    assert set(documented) == {kind.value for kind in LifecycleEventType}
    for kind, payload in EVENT_PAYLOADS.items():
        row = documented[kind.value]
        for key in payload.__required_keys__:
            assert f"`{key}`" in row, f"README row of {kind.value} does not name {key}"


async def test_session_end_is_the_single_last_event_of_every_run() -> None:
    seen = await _run_scenarios()
    runs: dict[str, list[str]] = {}
    for event in seen:
        runs.setdefault(event.stream_id, []).append(event.type)
    assert len(runs) == 6
    for types in runs.values():
        assert types[0] == "session_start" and types[-1] == "session_end"
        assert types.count("session_start") == types.count("session_end") == 1
    outcomes = [e.data["outcome"] for e in seen if e.type == "session_end"]
    assert outcomes == ["completed", "completed", "completed", "failed", "failed", "aborted"]


async def test_an_abandoned_run_ends_its_session_when_closed() -> None:
    seen: list[L0LifecycleEvent] = []
    result = await l0(Scripted(WORDS), on_event=seen.append)
    async with result:
        async for event in result:
            if event.type == "token":
                break
    end = seen[-1]
    assert end.type == "session_end"
    assert end.data["outcome"] == "abandoned" and end.data["error_type"] is None
    assert end.data["token_count"] == 1


async def test_a_failed_run_names_its_error_type(sleeps: SleepRecorder) -> None:
    seen: list[L0LifecycleEvent] = []
    result = await l0(Scripted(["a", ValueError("bad")]), retry=None, on_event=seen.append,
                      sleep=sleeps)
    with pytest.raises(ValueError):
        await result.text()
    end = seen[-1].data
    assert (end["outcome"], end["error_type"], end["attempts"]) == ("failed", "ValueError", 1)
