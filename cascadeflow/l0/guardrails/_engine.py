"""The guardrail engine: runs the rules on each check interval and at completion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cascadeflow.l0.guardrails._types import GuardrailContext, GuardrailRule, GuardrailViolation


class GuardrailEngine:
    """Runs guardrail rules over one stream attempt at a time.

    The runtime calls :meth:`start` when an attempt begins, :meth:`check_streaming` every
    few tokens with the text added since the previous call, and :meth:`check_complete` once
    when the stream ends. Streaming rules keep incremental state, so a check costs time
    proportional to the new text. Violations of each check come back as one batch; the
    engine also keeps every violation of the attempt in :attr:`violations`.

    What the runtime does with them: a ``fatal`` violation stops the stream at once with
    :class:`~cascadeflow.l0.L0GuardrailError` and no retry; a recoverable ``error``
    retries the attempt; warnings are only reported as events.

    Rule instances carry per-stream state: give each concurrent stream its own rules
    (the presets return fresh instances on every call).

    Example:
        >>> from cascadeflow.l0.guardrails import GuardrailEngine, json_rule
        >>> engine = GuardrailEngine([json_rule()])
        >>> engine.start()
        >>> engine.check_streaming('{"a": [1}', '{"a": [1}', 5)[0].rule
        'json'
    """

    __slots__ = ("_metadata", "_rules", "_streaming_rules", "_violations")

    def __init__(
        self, rules: Sequence[GuardrailRule], *, metadata: Mapping[str, Any] | None = None
    ) -> None:
        self._rules: tuple[GuardrailRule, ...] = tuple(rules)
        self._streaming_rules = tuple(rule for rule in self._rules if rule.streaming)
        self._metadata: Mapping[str, Any] = metadata or {}
        self._violations: list[GuardrailViolation] = []

    @property
    def rules(self) -> tuple[GuardrailRule, ...]:
        """The rules, in the order they run."""
        return self._rules

    @property
    def violations(self) -> tuple[GuardrailViolation, ...]:
        """Every violation found since :meth:`start`, in the order found."""
        return tuple(self._violations)

    def start(self) -> None:
        """Forget the previous attempt: reset every rule's incremental state."""
        self._violations.clear()
        for rule in self._rules:
            reset = getattr(rule, "reset", None)
            if reset is not None:
                reset()

    def check_streaming(
        self, content: str, delta: str, token_count: int
    ) -> list[GuardrailViolation]:
        """Run the streaming rules on the content so far; return this check's violations."""
        context = GuardrailContext(content, delta, False, token_count, self._metadata)
        found: list[GuardrailViolation] = []
        for rule in self._streaming_rules:
            violations = rule.check(context)
            if violations:
                found.extend(violations)
        if found:
            self._violations.extend(found)
        return found

    def check_complete(self, content: str, token_count: int) -> list[GuardrailViolation]:
        """Run every rule on the final content; return the violations found at completion."""
        context = GuardrailContext(content, content, True, token_count, self._metadata)
        found: list[GuardrailViolation] = []
        for rule in self._rules:
            found.extend(rule.check(context))
        self._violations.extend(found)
        return found


def has_fatal(violations: Sequence[GuardrailViolation]) -> bool:
    """Whether any violation is ``fatal`` (the stream must stop without retry).

    Example:
        >>> has_fatal([GuardrailViolation("r", "m", "fatal")])
        True
    """
    return any(violation.severity == "fatal" for violation in violations)


def needs_retry(violations: Sequence[GuardrailViolation]) -> bool:
    """Whether a violation is a recoverable ``error`` (and none is fatal): retry the attempt.

    Example:
        >>> needs_retry([GuardrailViolation("r", "m", "error", recoverable=True)])
        True
    """
    if has_fatal(violations):
        return False
    return any(v.severity == "error" and v.recoverable for v in violations)
