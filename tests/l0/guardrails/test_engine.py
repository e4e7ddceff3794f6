"""The engine: batches, state per attempt, presets, and work proportional to new text."""

from __future__ import annotations

from cascadeflow.l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    GuardrailRule,
    GuardrailViolation,
    has_fatal,
    json_only,
    latex_only,
    markdown_only,
    minimal,
    needs_retry,
    recommended,
    strict,
)


class CountingRule:
    """Records how much text each check handed to it."""

    name = "counting"
    streaming = True
    severity = "warning"

    def __init__(self) -> None:
        self.resets = 0
        self.deltas: list[str] = []

    def reset(self) -> None:
        self.resets += 1

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        self.deltas.append(context.delta)
        return [GuardrailViolation(self.name, "seen", "warning")] if context.completed else []


def test_engine_calls_reset_on_start_and_collects_violations_per_attempt():
    rule = CountingRule()
    engine = GuardrailEngine([rule])
    engine.start()
    engine.check_complete("abc", 1)
    assert len(engine.violations) == 1
    engine.start()
    assert rule.resets == 2 and engine.violations == ()


def test_engine_passes_the_delta_and_runs_completion_only_rules_at_the_end():
    streaming = CountingRule()
    at_end = CountingRule()
    at_end.streaming = False  # type: ignore[misc]
    engine = GuardrailEngine([streaming, at_end])
    engine.start()
    engine.check_streaming("ab", "ab", 5)
    engine.check_streaming("abcd", "cd", 10)
    engine.check_complete("abcd", 10)
    assert streaming.deltas == ["ab", "cd", "abcd"]
    assert at_end.deltas == ["abcd"]


def test_user_rules_satisfy_the_protocol():
    assert isinstance(CountingRule(), GuardrailRule)


def test_batch_helpers_decide_the_runtime_reaction():
    fatal = GuardrailViolation("r", "m", "fatal")
    error = GuardrailViolation("r", "m", "error")
    warning = GuardrailViolation("r", "m", "warning")
    assert has_fatal([warning, fatal]) and not needs_retry([fatal, error])
    assert needs_retry([warning, error]) and not needs_retry([warning])


def test_presets_return_fresh_rules_each_call():
    first, second = recommended(), recommended()
    assert all(a is not b for a, b in zip(first, second, strict=True))
    assert [r.name for r in minimal()] == ["json", "zero-output"]
    assert [r.name for r in json_only()] == ["json", "strict-json", "zero-output"]
    assert [r.name for r in markdown_only()] == ["markdown", "zero-output"]
    assert [r.name for r in latex_only()] == ["latex", "zero-output"]
    assert "repetition" in [r.name for r in strict()]


def test_recommended_preset_finds_nothing_in_clean_text_and_flags_a_refusal():
    engine = GuardrailEngine(recommended())
    engine.start()
    content = ""
    for count, word in enumerate(("A clean answer with **bold** text. " * 40).split(" "), 1):
        content += word + " "
        if count % 5 == 0:
            assert engine.check_streaming(content, "", count) == []
    assert engine.check_complete(content, 0) == []
    engine.start()
    assert [v.rule for v in engine.check_complete("I cannot help with that.", 5)] == ["pattern"]


class SlicingContent(str):
    """A content string that records the widest slice any rule takes of it."""

    widest = 0

    def __getitem__(self, key):  # type: ignore[no-untyped-def, override]
        if isinstance(key, slice):
            start, stop, _ = key.indices(len(self))
            SlicingContent.widest = max(SlicingContent.widest, stop - start)
        return str.__getitem__(self, key)


def test_streaming_checks_never_copy_more_than_the_new_text_plus_a_bounded_window():
    engine = GuardrailEngine(strict())
    engine.start()
    content = ""
    for count in range(1, 4001):
        content += "word " if count % 50 else "end.\n"
        if count % 5 == 0:
            SlicingContent.widest = 0
            engine.check_streaming(SlicingContent(content), "", count)
            assert SlicingContent.widest <= 700  # a few windows, never the whole output
    assert len(content) > 19_000
