"""The categories of unwanted output that :func:`pattern_rule` looks for, as regexes.

Each pattern is bounded in length (see ``LONGEST_MATCH``) so incremental scanning can
resume with a fixed overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from cascadeflow.l0.guardrails._types import Severity

LONGEST_MATCH = 120


@dataclass(frozen=True, slots=True)
class PatternCategory:
    """One category: its regex alternatives, how bad it is, and what to say about it."""

    name: str
    patterns: tuple[str, ...]
    severity: Severity
    recoverable: bool
    message: str
    suggestion: str


_AI = r"(?:an? )?(?:ai|a\.i\.|artificial intelligence|(?:large )?language model|llm|chatbot)"

META_COMMENTARY = PatternCategory(
    "meta_commentary",
    (
        rf"\bas {_AI}(?: assistant| model)?\b",
        rf"\bi(?:'m| am) (?:just |only )?{_AI}(?: assistant| model)?\b",
        r"\bmy (?:training data|knowledge cutoff|training cut-?off)\b",
        r"\bi (?:don't|do not) have (?:personal (?:opinions|experiences|feelings)|"
        r"access to real-time)\b",
    ),
    "error", True, "meta commentary about being an AI", "retry without meta commentary",
)
REFUSAL = PatternCategory(
    "refusal",
    (
        r"\bi(?: cannot| can't| can not| won't| will not|'m unable to| am unable to"
        r"|'m not able to| am not able to) (?:help|assist|provide|comply|fulfill|fulfil"
        r"|complete|answer|do that|generate|create|write)\b",
        r"\bi must (?:decline|refuse)\b",
        r"\bi(?:'m| am) (?:sorry|afraid),? (?:but )?i (?:can't|cannot|won't|am unable)\b",
    ),
    "error", True, "the model refused", "retry, rephrase the request, or fall back",
)
INSTRUCTION_LEAK = PatternCategory(
    "instruction_leak",
    (
        r"\[/?INST\]",
        r"<</?SYS>>",
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id"
        r"|end_header_id)\|>",
        r"\[/?SYSTEM\]",
        r"\[/?AVAILABLE_TOOLS\]",
    ),
    "error", True, "prompt or chat-template tokens leaked into the output",
    "retry; check the prompt template",
)
PLACEHOLDERS = PatternCategory(
    "placeholders",
    (
        r"\[(?:insert|your|placeholder|todo|fill in|tbd)\b[^\]\n]{0,60}\]",
        r"\{\{\s*[\w.]{1,40}\s*\}\}",
        r"<(?:placeholder|insert[^>\n]{0,40}|your[ _][^>\n]{0,40})>",
        r"\blorem ipsum\b",
    ),
    "error", True, "unfilled placeholder in the output", "retry, asking for concrete values",
)
HEDGING = PatternCategory(
    "hedging",
    (
        r"\s*(?:sure|certainly|of course|absolutely|great question|good question"
        r"|i'd be happy to help|i would be happy to help|i'd be glad to)\b[!,.]?",
    ),
    "warning", True, "the output opens with filler", "start with the answer itself",
)

CATEGORIES: dict[str, PatternCategory] = {
    category.name: category
    for category in (META_COMMENTARY, REFUSAL, INSTRUCTION_LEAK, PLACEHOLDERS, HEDGING)
}
OPENING_ONLY = frozenset({"hedging"})  # only meaningful at the very start of the output
