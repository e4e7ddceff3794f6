"""The categories of unwanted output that :func:`pattern_rule` looks for, as regexes.

Each pattern is bounded in length (see ``LONGEST_MATCH``) so incremental scanning can
resume with a fixed overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cascadeflow.l0.guardrails._types import Severity

LONGEST_MATCH = 120


@dataclass(frozen=True, slots=True)
class PatternCategory:
    """One category: its regex alternatives, how bad it is, what to say about it, and the
    context in which a match does not count.

    Attributes:
        outside_code: matches inside inline code or fenced code blocks are ignored.
        outside_quotes: matches inside double quotes on their line are ignored (the text
            quotes the pattern rather than producing it).
        explained_by: words which, in the same paragraph as the match (the match itself
            left out), show the text is explaining the pattern, not producing it; compared
            case-insensitively, and a trailing ``*`` matches any ending (``"templat*"``).
        when_explained: what such a match becomes: ``"ignore"`` or ``"warning"``.
        reported_by: a regex of words which, earlier in the same sentence, make the match
            reported speech ("if the assistant says I cannot comply"): ignored.
        doubtful_in_tables: a match inside a Markdown table row is only a warning.

    Example:
        >>> from cascadeflow.l0.guardrails import PATTERN_CATEGORIES
        >>> PATTERN_CATEGORIES["placeholders"].doubtful_in_tables
        True
    """

    name: str
    patterns: tuple[str, ...]
    severity: Severity
    recoverable: bool
    message: str
    suggestion: str
    outside_code: bool = True
    outside_quotes: bool = False
    explained_by: tuple[str, ...] = ()
    when_explained: Literal["ignore", "warning"] = "ignore"
    reported_by: str | None = None
    doubtful_in_tables: bool = False


_AI = r"(?:an? )?(?:ai|a\.i\.|artificial intelligence|(?:large )?language model|llm|chatbot)"
_FIRST_PERSON = r"(?:i|i'm|i am|my|me)"

META_COMMENTARY = PatternCategory(
    "meta_commentary",
    (
        # Speaking as the assistant ("As an AI language model, ...", "As an AI I ..."), not
        # about someone else ("As an AI researcher once said", "As a language model grows").
        rf"\bas {_AI}(?: language model| assistant| model)?(?: (?:trained|developed|created"
        rf"|built|made) by"
        rf" [\w.-]{{1,20}}(?: [\w.-]{{1,20}})?)?(?:,| {_FIRST_PERSON}\b)",
        rf"\bi(?:'m| am) (?:just |only |merely )?{_AI}(?: language model| assistant| model)?\b",
        r"\bmy (?:knowledge cut-?off|training cut-?off|training data(?! (?:for|of|set|from)\b))",
        r"\bi (?:don't|do not) have (?:personal (?:opinions|experiences|feelings|preferences)|"
        r"access to real-time)\b",
    ),
    "error", True, "meta commentary about being an AI", "retry without meta commentary",
    outside_quotes=True,
)
REFUSAL = PatternCategory(
    "refusal",
    (
        r"\bi(?: cannot| can't| can not| won't| will not|'m unable to| am unable to"
        r"|'m not able to| am not able to| won't be able to| will not be able to)"
        r" (?:help(?! but\b| \w+ing\b)|assist|provide|comply|fulfill|fulfil"
        r"|complete|answer(?! for\b)|do that|generate|create|write)\b",
        r"\bi must (?:decline|refuse)\b",
        r"\bi(?:'m| am) (?:sorry|afraid),? (?:but )?i (?:can't|cannot|won't|am unable)\b",
    ),
    "error", True, "the model refused", "retry, rephrase the request, or fall back",
    outside_quotes=True,
    reported_by=r"\b(?:says?|said|saying|repl(?:y|ies|ied)|responds?|responded|answers?|"
                r"such as|e\.g\.|returns?|outputs?)\b",
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
    outside_quotes=True,
    # "Keep the <|im_start|> tokens out of user input": text about chat formats.
    explained_by=("token*", "tag", "tags", "marker*", "delimiter*", "chatml", "special",
                  "format", "formats", "template*", "syntax", "escape", "strip", "prompt",
                  "prompts", "tokenizer*"),
    when_explained="warning",
)
PLACEHOLDERS = PatternCategory(
    "placeholders",
    (
        r"\[(?:insert|your|placeholder|todo|fill in|tbd)\b[^\]\n]{0,60}\]",
        r"\[[^\]\n]{0,40}\b(?:name|date|time|location|company|address|e-?mail|phone"
        r"(?: number)?|title|position|recipient|amount|city|product|price|year|signature"
        r"|postal code|zip(?: code)?|url|website)\](?!\()",
        r"\{\{\s*\.?[\w.]{1,40}\s*\}\}",
        r"<(?:placeholder|insert[^>\n]{0,40}|your[ _-][^>\n]{0,40})>",
        r"\blorem ipsum\b",
    ),
    "error", True, "unfilled placeholder in the output", "retry, asking for concrete values",
    # "Use {{ user.name }} in the Jinja template", "the form shows [Your Name] as a hint"
    explained_by=("jinja", "jinja2", "templat*", "handlebars", "mustache", "liquid",
                  "django", "twig", "helm", "ansible", "vue", "angular", "syntax",
                  "interpolat*", "variable", "variables", "placeholder", "placeholders",
                  "render*", "print", "prints", "escape", "escaped", "escapes", "filter",
                  "filters", "pipe", "pipes", "form", "forms", "field", "fields", "hint",
                  "hints", "mockup", "mockups", "mock-up", "mock-ups", "replace", "replaced",
                  "replaces", "fill", "fills", "filled", "marker", "markers", "grep", "tag",
                  "tags", "merge", "doc", "docs", "documentation", "paste", "substitute",
                  "substituted", "substitutes", "wherever"),
    doubtful_in_tables=True,
)
HEDGING = PatternCategory(
    "hedging",
    (
        r"\s*(?:sure|certainly|of course|absolutely|great question|good question"
        r"|i'd be happy to help|i would be happy to help|i'd be glad to)\b[!,.]?",
    ),
    "warning", True, "the output opens with filler", "start with the answer itself",
    outside_code=False,
)

CATEGORIES: dict[str, PatternCategory] = {
    category.name: category
    for category in (META_COMMENTARY, REFUSAL, INSTRUCTION_LEAK, PLACEHOLDERS, HEDGING)
}
OPENING_ONLY = frozenset({"hedging"})  # only meaningful at the very start of the output
