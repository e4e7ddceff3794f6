"""Ready-made rule sets. Each call returns fresh rule instances (rules keep stream state)."""

from __future__ import annotations

from cascadeflow.l0.guardrails._content_rules import (
    pattern_rule,
    repetition_rule,
    stall_rule,
    zero_output_rule,
)
from cascadeflow.l0.guardrails._json_rules import json_rule, strict_json_rule
from cascadeflow.l0.guardrails._markup_rules import latex_rule, markdown_rule
from cascadeflow.l0.guardrails._types import GuardrailRule


def minimal() -> list[GuardrailRule]:
    """JSON structure and zero output: the cheapest useful set.

    Example:
        >>> [rule.name for rule in minimal()]
        ['json', 'zero-output']
    """
    return [json_rule(), zero_output_rule()]


def recommended() -> list[GuardrailRule]:
    """JSON structure, Markdown, unwanted patterns and zero output: the default for text.

    Example:
        >>> [rule.name for rule in recommended()]
        ['json', 'markdown', 'pattern', 'zero-output']
    """
    return [json_rule(), markdown_rule(), pattern_rule(), zero_output_rule()]


def strict() -> list[GuardrailRule]:
    """``recommended`` plus LaTeX, repetition and stall checks.

    It does not require the output to be JSON; add :func:`strict_json_rule` (or use
    :func:`json_only`) for that.

    Example:
        >>> [rule.name for rule in strict()]
        ['json', 'markdown', 'latex', 'pattern', 'zero-output', 'repetition', 'stall']
    """
    return [json_rule(), markdown_rule(), latex_rule(), pattern_rule(), zero_output_rule(),
            repetition_rule(), stall_rule()]


def json_only() -> list[GuardrailRule]:
    """For JSON output: structure while streaming, a full parse at the end, zero output.

    Example:
        >>> [rule.name for rule in json_only()]
        ['json', 'strict-json', 'zero-output']
    """
    return [json_rule(), strict_json_rule(), zero_output_rule()]


def markdown_only() -> list[GuardrailRule]:
    """For Markdown output: fences and tables, zero output.

    Example:
        >>> [rule.name for rule in markdown_only()]
        ['markdown', 'zero-output']
    """
    return [markdown_rule(), zero_output_rule()]


def latex_only() -> list[GuardrailRule]:
    """For LaTeX output: environments and math delimiters, zero output.

    Example:
        >>> [rule.name for rule in latex_only()]
        ['latex', 'zero-output']
    """
    return [latex_rule(), zero_output_rule()]
