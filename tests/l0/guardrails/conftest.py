"""Drive a rule or an engine the way the runtime does: a check every few tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import pytest

from cascadeflow.l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    GuardrailRule,
    GuardrailViolation,
)


def stream_through(rule: GuardrailRule, tokens: Iterable[str], *, every: int = 1,
                   complete: bool = True) -> tuple[list[GuardrailViolation],
                                                   list[GuardrailViolation]]:
    """Feed ``tokens`` to ``rule``; return (violations while streaming, at completion)."""
    engine = GuardrailEngine([rule])
    engine.start()
    content = ""
    delta = ""
    streaming: list[GuardrailViolation] = []
    for count, token in enumerate(tokens, 1):
        content += token
        delta += token
        if count % every == 0:
            streaming.extend(engine.check_streaming(content, delta, count))
            delta = ""
    final = engine.check_complete(content, 0) if complete else []
    return streaming, final


def chars(text: str, size: int = 3) -> list[str]:
    """Split text into small 'tokens' so structure straddles check boundaries."""
    return [text[i:i + size] for i in range(0, len(text), size)]


def completed(rule: GuardrailRule, text: str) -> list[GuardrailViolation]:
    return rule.check(GuardrailContext(text, text, True, 0))


Drive = Callable[..., tuple[list[GuardrailViolation], list[GuardrailViolation]]]


@pytest.fixture
def drive() -> Drive:
    """``drive(rule, text_or_tokens, every=1)`` -> (streaming violations, final ones)."""
    def run(rule: GuardrailRule, text: str | Sequence[str], *, every: int = 1,
            complete: bool = True) -> tuple[list[GuardrailViolation], list[GuardrailViolation]]:
        tokens = chars(text) if isinstance(text, str) else text
        return stream_through(rule, tokens, every=every, complete=complete)
    return run


@pytest.fixture
def final() -> Callable[[GuardrailRule, str], list[GuardrailViolation]]:
    """``final(rule, text)``: the rule's violations on completed text, checked once."""
    return completed
