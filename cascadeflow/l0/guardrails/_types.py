"""The values guardrails exchange: the context a rule sees, the violation it reports, the rule.

Rules are objects satisfying :class:`GuardrailRule`; a rule that keeps incremental state
also implements ``reset()``, which the engine calls at the start of every attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Severity = Literal["warning", "error", "fatal"]
"""How the runtime reacts: ``warning`` is reported only, ``error`` retries when recoverable,
``fatal`` stops the stream at once with no retry."""


@dataclass(frozen=True, slots=True)
class GuardrailViolation:
    """One problem a rule found in the content.

    Attributes:
        rule: name of the rule that reported it.
        message: what is wrong, for people.
        severity: ``"warning"``, ``"error"`` or ``"fatal"``.
        recoverable: whether a retry may fix it (an ``error`` that is recoverable retries).
        position: character offset in the content where the problem is, when known.
        suggestion: what would fix it, when the rule knows.

    Example:
        >>> GuardrailViolation("json", "unexpected '}'", "error", position=12).severity
        'error'
    """

    rule: str
    message: str
    severity: Severity = "error"
    recoverable: bool = True
    position: int | None = None
    suggestion: str | None = None


@dataclass(slots=True)
class GuardrailContext:
    """What a rule sees at one check.

    Attributes:
        content: the whole text of the current attempt so far.
        delta: the text added since the previous check (the whole content at completion
            when no check ran before).
        completed: ``True`` at the final check, when the stream has ended.
        token_count: tokens received so far in this attempt.
        metadata: free-form values the caller passes through (model name, ...).

    Rules should do work proportional to ``delta`` (or to the part of ``content`` they have
    not seen yet), never rescan ``content`` on every check.

    Example:
        >>> GuardrailContext(content="Hello", delta="lo", token_count=2).completed
        False
    """

    content: str
    delta: str = ""
    completed: bool = False
    token_count: int = 0
    metadata: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class GuardrailRule(Protocol):
    """A check run on the content while it streams (``streaming=True``) and at completion.

    ``check`` returns the violations found in this check. Rules with incremental state may
    also define ``reset() -> None``; :class:`GuardrailEngine` calls it at the start of each
    attempt.

    Example:
        >>> class NoShouting:
        ...     name, streaming, severity = "no-shouting", True, "warning"
        ...     def check(self, context: GuardrailContext) -> list[GuardrailViolation]:
        ...         if "!!!" in context.delta:
        ...             return [GuardrailViolation(self.name, "shouting", "warning")]
        ...         return []
    """

    @property
    def name(self) -> str: ...

    @property
    def streaming(self) -> bool: ...

    @property
    def severity(self) -> Severity: ...

    def check(self, context: GuardrailContext) -> list[GuardrailViolation]: ...
