"""How the runtime reacts to guardrail violations and drift (engines faked by duck typing)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from cascadeflow.l0 import (
    CheckIntervals,
    L0DriftError,
    L0GuardrailError,
    RetryConfig,
    l0,
)
from tests.l0.conftest import Scripted, SleepRecorder


@dataclass
class Violation:
    rule: str
    message: str
    severity: str
    recoverable: bool = True
    position: int | None = None
    suggestion: str | None = None


@dataclass
class FakeEngine:
    """Flags the word ``bad`` with the configured severity; records every call."""

    severity: str = "error"
    recoverable: bool = True
    on_complete: bool = False
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    starts: int = 0

    def start(self) -> None:
        self.starts += 1

    def _check(self, content: str) -> list[Violation]:
        if "bad" not in content:
            return []
        return [Violation("no-bad", "said bad", self.severity, self.recoverable)]

    def check_streaming(self, content: str, delta: str, token_count: int) -> list[Violation]:
        self.calls.append((content, delta, token_count))
        return [] if self.on_complete else self._check(content)

    def check_complete(self, content: str, token_count: int) -> list[Violation]:
        return self._check(content)


@dataclass
class DriftResult:
    detected: bool
    types: list[str]
    confidence: float


class FakeDrift:
    def __init__(self) -> None:
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def check(self, content: str, delta: str) -> DriftResult:
        found = "???" in content
        return DriftResult(found, ["gibberish"] if found else [], 0.9 if found else 0.0)


GOOD = ["all", " good", " here"]
BAD = ["this", " is", " bad"]


async def test_guardrails_run_every_interval_with_the_delta(sleeps: SleepRecorder) -> None:
    engine = FakeEngine()
    result = await l0(Scripted(list("abcde")), guardrails=engine,
                      check_intervals=CheckIntervals(guardrails=2, checkpoint=100), sleep=sleeps)
    assert await result.text() == "abcde"
    assert engine.calls == [("ab", "ab", 2), ("abcd", "cd", 4)]
    assert engine.starts == 1


async def test_warning_is_only_reported(sleeps: SleepRecorder) -> None:
    seen: list[Any] = []
    result = await l0(Scripted(BAD), guardrails=FakeEngine(severity="warning"),
                      check_intervals=CheckIntervals(guardrails=1), sleep=sleeps,
                      on_event=seen.append)
    assert await result.text() == "this is bad"
    assert [v.severity for v in result.state.violations][:1] == ["warning"]
    assert "violation" in [e.type for e in seen]


async def test_recoverable_error_retries_as_a_counted_content_error(
        sleeps: SleepRecorder) -> None:
    factory = Scripted(BAD, GOOD)
    result = await l0(factory, guardrails=FakeEngine(), sleep=sleeps,
                      check_intervals=CheckIntervals(guardrails=1))
    assert await result.text() == "all good here"
    assert factory.calls == 2
    assert result.state.model_retry_count == 1
    assert result.telemetry.retries == {"guardrail_violation": 1}


async def test_recoverable_error_exhausted_raises_guardrail_error(sleeps: SleepRecorder) -> None:
    factory = Scripted(BAD)
    result = await l0(factory, guardrails=FakeEngine(), retry=RetryConfig(attempts=1),
                      sleep=sleeps)
    with pytest.raises(L0GuardrailError) as caught:
        await result.text()
    assert factory.calls == 2
    assert caught.value.violations[0].rule == "no-bad"


@pytest.mark.parametrize(("severity", "recoverable"), [("fatal", True), ("error", False)])
async def test_fatal_or_unrecoverable_stops_at_once(severity: str, recoverable: bool,
                                                    sleeps: SleepRecorder) -> None:
    primary, backup = Scripted(BAD), Scripted(GOOD)
    result = await l0(primary, fallback_streams=[backup], sleep=sleeps,
                      guardrails=FakeEngine(severity=severity, recoverable=recoverable),
                      check_intervals=CheckIntervals(guardrails=1))
    with pytest.raises(L0GuardrailError):
        await result.text()
    assert primary.calls == 1 and backup.calls == 0 and sleeps.delays == []


async def test_check_complete_runs_before_success(sleeps: SleepRecorder) -> None:
    factory = Scripted(BAD, GOOD)
    result = await l0(factory, guardrails=FakeEngine(on_complete=True), sleep=sleeps)
    assert await result.text() == "all good here"
    assert factory.calls == 2


async def test_drift_retries_and_then_raises_drift_error(sleeps: SleepRecorder) -> None:
    detector = FakeDrift()
    factory = Scripted(["what", " ???"])
    result = await l0(factory, drift=detector, retry=RetryConfig(attempts=1), sleep=sleeps,
                      check_intervals=CheckIntervals(drift=1))
    with pytest.raises(L0DriftError) as caught:
        await result.text()
    assert caught.value.types == ["gibberish"]
    assert factory.calls == 2 and detector.resets == 2
    assert result.state.drift_detected


async def test_drift_without_retry_on_drift_only_reports(sleeps: SleepRecorder) -> None:
    result = await l0(Scripted(["what", " ???"]), drift=FakeDrift(), retry_on_drift=False,
                      check_intervals=CheckIntervals(drift=1), sleep=sleeps)
    assert await result.text() == "what ???"
    assert result.state.drift_detected


async def test_real_guardrail_rules_drive_a_retry_then_a_fatal_stop(
        sleeps: SleepRecorder) -> None:
    from cascadeflow.l0.guardrails import custom_pattern_rule, zero_output_rule

    factory = Scripted(["   "], GOOD)
    result = await l0(factory, guardrails=[zero_output_rule()], sleep=sleeps)
    assert await result.text() == "all good here"
    assert factory.calls == 2 and result.state.violations

    fatal = Scripted(["leaked", " SECRET-123 ", "key"], GOOD)
    rule = custom_pattern_rule([r"SECRET-\d+"], severity="fatal", scan_every=1)
    with pytest.raises(L0GuardrailError):
        await (await l0(fatal, guardrails=[rule], sleep=sleeps,
                        check_intervals=CheckIntervals(guardrails=1))).text()
    assert fatal.calls == 1
