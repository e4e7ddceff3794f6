"""Guardrails: rules that check a stream's content while it streams and when it completes.

Pass rules to ``l0(..., guardrails=[...])``; the runtime drives a :class:`GuardrailEngine`
and turns violations into retries (recoverable errors), a stop (fatal) or events (warnings).

Example:
    >>> from cascadeflow.l0 import guardrails
    >>> rules = guardrails.recommended()
    >>> engine = guardrails.GuardrailEngine(rules)
"""

from __future__ import annotations

from cascadeflow.l0.guardrails._content_rules import (
    CustomPatternRule,
    PatternRule,
    RepetitionRule,
    StallRule,
    ZeroOutputRule,
    custom_pattern_rule,
    pattern_rule,
    repetition_rule,
    stall_rule,
    zero_output_rule,
)
from cascadeflow.l0.guardrails._engine import GuardrailEngine, has_fatal, needs_retry
from cascadeflow.l0.guardrails._json_rules import (
    JsonStructureRule,
    StrictJsonRule,
    json_rule,
    strict_json_rule,
)
from cascadeflow.l0.guardrails._markup_rules import (
    LatexRule,
    MarkdownRule,
    latex_rule,
    markdown_rule,
)
from cascadeflow.l0.guardrails._patterns import CATEGORIES as PATTERN_CATEGORIES
from cascadeflow.l0.guardrails._presets import (
    json_only,
    latex_only,
    markdown_only,
    minimal,
    recommended,
    strict,
)
from cascadeflow.l0.guardrails._types import (
    GuardrailContext,
    GuardrailRule,
    GuardrailViolation,
    Severity,
)

__all__ = [
    "PATTERN_CATEGORIES",
    "CustomPatternRule",
    "GuardrailContext",
    "GuardrailEngine",
    "GuardrailRule",
    "GuardrailViolation",
    "JsonStructureRule",
    "LatexRule",
    "MarkdownRule",
    "PatternRule",
    "RepetitionRule",
    "Severity",
    "StallRule",
    "StrictJsonRule",
    "ZeroOutputRule",
    "custom_pattern_rule",
    "has_fatal",
    "json_only",
    "json_rule",
    "latex_only",
    "latex_rule",
    "markdown_only",
    "markdown_rule",
    "minimal",
    "needs_retry",
    "pattern_rule",
    "recommended",
    "repetition_rule",
    "stall_rule",
    "strict",
    "strict_json_rule",
    "zero_output_rule",
]
