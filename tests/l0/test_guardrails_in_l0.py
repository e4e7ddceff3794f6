"""The real guardrail rules and presets driven by the real ``l0()`` runtime.

``test_runtime_checks.py`` covers the runtime's reactions with fake engines; these tests
check that the rules of ``cascadeflow.l0.guardrails`` plug into it and behave end to end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from cascadeflow.l0 import (
    CheckIntervals,
    GuardrailEngine,
    GuardrailViolation,
    L0Event,
    L0GuardrailError,
    L0LifecycleEvent,
    L0Result,
    l0,
)
from cascadeflow.l0.guardrails import (
    custom_pattern_rule,
    pattern_rule,
    recommended,
    strict_json_rule,
)
from tests.l0.conftest import Scripted, SleepRecorder

ANSWER = (
    "## Caching\n\n"
    "Use a **read-through** cache in front of the database:\n\n"
    "| layer | latency |\n| --- | --- |\n| memory | 100 ns |\n| redis | 0.5 ms |\n\n"
    "```python\n"
    "def get(key):\n"
    "    return cache.get(key) or load(key)\n"
    "```\n\n"
    'The config is `{"ttl": 60, "sizes": [1, 2]}` and the math is $O(1)$ per lookup.\n'
)


def words(text: str) -> list[str]:
    """Split text into word-sized tokens that keep their spacing."""
    tokens, start = [], 0
    for index, char in enumerate(text):
        if char in " \n" and index > start:
            tokens.append(text[start:index + 1])
            start = index + 1
    if start < len(text):
        tokens.append(text[start:])
    return tokens


class CountingSource:
    """A factory whose stream counts how many tokens were pulled and whether it was closed."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pulled = 0
        self.closed = False

    def __call__(self) -> AsyncIterator[str]:
        return self._play()

    async def _play(self) -> AsyncIterator[str]:
        try:
            for token in self.tokens:
                self.pulled += 1
                yield token
        finally:
            self.closed = True


async def visible_text(result: L0Result) -> tuple[str, list[L0Event]]:
    """What a consumer shows: tokens appended, cut back at each replacement notice."""
    shown = ""
    notices: list[L0Event] = []
    async for event in result:
        if event.type == "token":
            shown += event.value or ""
        elif event.type == "error" and event.data is not None:
            notices.append(event)
            shown = shown[: event.data["discard_from"]]
    return shown, notices


async def test_fatal_rule_stops_a_long_stream_without_reading_the_rest(
        sleeps: SleepRecorder) -> None:
    tokens = [f"word{i} " for i in range(10_000)]
    tokens[200] = "sk-live-0123456789abcdef "
    source, backup = CountingSource(tokens), Scripted(["never", " used"])
    rule = custom_pattern_rule([r"sk-live-[0-9a-f]{16}"], "secret key in output",
                               severity="fatal", scan_every=1)
    result = await l0(source, fallback_streams=[backup], guardrails=[rule], sleep=sleeps,
                      check_intervals=CheckIntervals(guardrails=5))

    with pytest.raises(L0GuardrailError) as caught:
        await result.text()

    assert caught.value.violations[0].rule == "custom-pattern"
    assert caught.value.violations[0].severity == "fatal"
    assert 200 < source.pulled <= 210  # stopped at the next check after the secret
    assert source.closed
    assert backup.calls == 0 and sleeps.delays == []
    assert result.telemetry.attempts == 1


async def test_recoverable_violation_retries_and_the_clean_retry_wins(
        sleeps: SleepRecorder) -> None:
    refusal = words("I'm sorry, but I can't help with that request about caching today.")
    factory = Scripted(refusal, words(ANSWER))
    result = await l0(factory, guardrails=recommended(), sleep=sleeps)

    shown, notices = await visible_text(result)

    assert factory.calls == 2
    assert result.state.content == ANSWER
    assert shown == ANSWER
    assert [notice.data for notice in notices] == [
        {"action": "retry", "discard_from": 0, "attempt": 1}]
    assert isinstance(notices[0].error, L0GuardrailError)
    assert [v.rule for v in notices[0].error.violations] == ["pattern"]
    assert result.state.model_retry_count == 1
    assert result.telemetry.retries == {"guardrail_violation": 1}


async def test_violation_found_only_at_completion_retries(sleeps: SleepRecorder) -> None:
    factory = Scripted(['{"a": ', "1,", ' "b": '], ['{"a": ', "1}"])
    result = await l0(factory, guardrails=[strict_json_rule()], sleep=sleeps)

    assert await result.text() == '{"a": 1}'
    assert factory.calls == 2
    assert [v.rule for v in result.state.violations] == ["strict-json"]


async def test_warnings_only_produce_events(sleeps: SleepRecorder) -> None:
    events: list[L0LifecycleEvent] = []
    text = "Sure! " + ANSWER
    factory = Scripted(words(text))
    result = await l0(factory, guardrails=recommended(), sleep=sleeps, on_event=events.append)

    shown, notices = await visible_text(result)

    assert shown == text and result.state.content == text
    assert notices == [] and factory.calls == 1
    reported = [e.data["violation"] for e in events if e.type == "violation"]
    assert [(v.rule, v.severity) for v in reported] == [("pattern", "warning")]
    assert result.state.violations == reported
    assert "retry" not in [e.type for e in events]


async def test_recommended_preset_passes_a_normal_answer(sleeps: SleepRecorder) -> None:
    events: list[L0LifecycleEvent] = []
    factory = Scripted(words(ANSWER))
    engine = GuardrailEngine(recommended())
    result = await l0(factory, guardrails=engine, sleep=sleeps, on_event=events.append,
                      check_intervals=CheckIntervals(guardrails=1))

    assert await result.text() == ANSWER
    assert factory.calls == 1
    assert result.state.violations == [] and engine.violations == ()
    assert "violation" not in [e.type for e in events]
    assert result.state.completed


async def test_each_attempt_starts_the_rules_afresh(sleeps: SleepRecorder) -> None:
    # The first attempt leaves an open code fence; a rule that kept its state would
    # read the second attempt's opening fence as the closing one and flag its end.
    unclosed = words("Here:\n```python\nprint(1)\n")
    closed = words("Code:\n```python\nprint(2)\n```\nDone.")
    factory = Scripted(unclosed, closed)
    result = await l0(factory, guardrails=recommended(), sleep=sleeps,
                      check_intervals=CheckIntervals(guardrails=1))

    assert await result.text() == "".join(closed)
    assert factory.calls == 2
    assert [v.rule for v in result.state.violations] == ["markdown"]


async def test_a_custom_rule_object_works_with_l0(sleeps: SleepRecorder) -> None:
    class NoShouting:
        name, streaming, severity = "no-shouting", True, "error"

        def check(self, context: Any) -> list[GuardrailViolation]:
            if "!!!" in context.delta:
                return [GuardrailViolation(self.name, "shouting", "error")]
            return []

    factory = Scripted(["calm", " down", "!!!"], ["calm", " down."])
    result = await l0(factory, guardrails=[NoShouting(), pattern_rule()], sleep=sleeps,
                      check_intervals=CheckIntervals(guardrails=1))

    assert await result.text() == "calm down."
    assert factory.calls == 2
