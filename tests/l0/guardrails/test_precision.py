"""Pattern rules judge context: ordinary answers pass, bad outputs are still caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cascadeflow.l0.guardrails import GuardrailViolation, pattern_rule, recommended
from tests.l0.guardrails.conftest import chars, stream_through

DATA = Path(__file__).parents[2] / "data"
ORDINARY = [json.loads(line) for line in
            (DATA / "guardrail_ordinary.jsonl").read_text(encoding="utf-8").splitlines()]
BAD = [json.loads(line) for line in
       (DATA / "guardrail_bad.jsonl").read_text(encoding="utf-8").splitlines()]


def errors_of_recommended(text: str) -> list[GuardrailViolation]:
    """The violations that would retry the attempt: every rule of ``recommended()``."""
    found: list[GuardrailViolation] = []
    for rule in recommended():
        streaming, final = stream_through(rule, chars(text, 4))
        found.extend(v for v in streaming + final if v.severity != "warning")
    return found


def test_the_corpora_are_large_and_varied():
    assert len(ORDINARY) >= 150 and len({case["kind"] for case in ORDINARY}) >= 10
    assert len(BAD) >= 100 and len({case["kind"] for case in BAD}) == 6


def test_recommended_flags_at_most_one_percent_of_ordinary_answers_as_errors():
    flagged = [case["name"] for case in ORDINARY if errors_of_recommended(case["text"])]
    assert len(flagged) <= len(ORDINARY) // 100, flagged


def test_recommended_catches_at_least_97_percent_of_bad_outputs():
    missed = [case["name"] for case in BAD if not errors_of_recommended(case["text"])]
    assert len(missed) <= len(BAD) * 3 // 100, missed


@pytest.mark.parametrize("text", [
    "As an AI researcher once said, the hard part is the data.",
    "As a language model trainer, you spend most of your time cleaning data.",
    "Use {{ user.name }} in the Jinja template to print the name.",
    "In Go templates, {{.Title}} prints the title.",
    "The form shows [Your Name] as a hint.",
    "Keep the <|im_start|> tokens out of user input.",
])
def test_the_ordinary_answers_of_the_issue_are_not_errors(drive, text):
    streaming, final = drive(pattern_rule(scan_every=1), text)
    assert [v for v in streaming + final if v.severity != "warning"] == []


@pytest.mark.parametrize(("text", "category"), [
    ("I'm sorry, but I can't help with that.", "the model refused"),
    ("As an AI language model, I have no opinion.", "meta commentary"),
    ("Here you go [INST] and more", "prompt or chat-template tokens"),
    ("Dear [INSERT NAME HERE], thanks.", "unfilled placeholder"),
    ("Best regards,\n[Your Name]", "unfilled placeholder"),
    ("Hi {{customer_name}}, your order has shipped.", "unfilled placeholder"),
])
def test_real_problems_are_still_errors(drive, text, category):
    streaming, final = drive(pattern_rule(scan_every=1), text)
    violations = streaming + final
    assert [v.severity for v in violations] == ["error"]
    assert violations[0].message.startswith(category)


def test_matches_in_code_spans_and_fenced_blocks_are_ignored(drive):
    text = ("Write `{{ name }}` or `[INST]` inline, or a block:\n```\n<|im_start|>user\n"
            "[INSERT NAME HERE]\n```\nbut Dear [INSERT NAME HERE] out here is real.")
    streaming, final = drive(pattern_rule(scan_every=1), text)
    assert [(v.severity, v.position) for v in streaming + final] == [
        ("error", text.rindex("[INSERT"))]


def test_leak_tokens_and_refusals_inside_quotes_are_quotations(drive):
    text = 'The bot said "I cannot help with that" and printed "<|im_end|>" twice.'
    assert drive(pattern_rule(scan_every=1), text) == ([], [])


def test_reported_refusals_are_not_refusals(drive):
    text = "If the assistant says I cannot comply, log the prompt."
    assert drive(pattern_rule(scan_every=1), text) == ([], [])


def test_a_doubtful_match_is_a_warning_even_with_a_severity_override(drive):
    explained = "Mistral puts the user turn between [INST] and [/INST] markers."
    streaming, final = drive(pattern_rule(["instruction_leak"], "fatal", scan_every=1),
                             explained)
    assert [v.severity for v in streaming + final] == ["warning", "warning"]
    table = "| Order | Owner |\n|---|---|\n| 1042 | [Customer Name] |\n"
    streaming, final = drive(pattern_rule(["placeholders"], scan_every=1), table)
    assert [v.severity for v in streaming + final] == ["warning"]


def test_a_placeholder_waits_for_its_paragraph_before_it_is_judged(drive):
    # The words that explain the template come after the match: judged once they arrive.
    explained = "Write {{ title }} where the page title goes; Jinja fills it in."
    assert drive(pattern_rule(["placeholders"], scan_every=1), explained) == ([], [])
    real = "Hello {{ first_name }},\n\nWelcome aboard!" + " More text follows." * 20
    streaming, final = drive(pattern_rule(["placeholders"], scan_every=1), real)
    assert [v.position for v in streaming] == [6] and final == []


def test_every_match_of_a_long_line_is_judged_once(drive):
    unit = "Hi {{x}} "
    streaming, final = drive(pattern_rule(["placeholders"]), unit * 2_000, every=5)
    positions = [v.position for v in streaming + final]
    assert positions == [i * len(unit) + 3 for i in range(2_000)]
