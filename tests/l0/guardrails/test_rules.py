"""Each built-in rule, on streaming and on completed content."""

from __future__ import annotations

import re

import pytest

from cascadeflow.l0.guardrails import (
    GuardrailContext,
    GuardrailEngine,
    custom_pattern_rule,
    json_rule,
    latex_rule,
    markdown_rule,
    pattern_rule,
    repetition_rule,
    stall_rule,
    strict_json_rule,
    zero_output_rule,
)


# -- json_rule ---------------------------------------------------------------------------
def test_json_rule_accepts_valid_json_streamed_in_small_pieces(drive):
    streaming, final = drive(json_rule(), '{"a": [1, {"b": "}]"}], "c": "x\\"]"}')
    assert streaming == [] and final == []


def test_json_rule_reports_a_misordered_closer_while_streaming(drive):
    streaming, _ = drive(json_rule(), '{"a": [1, 2} , "b": 3}', complete=False)
    assert len(streaming) == 1
    assert streaming[0].message == "misordered closer '}': expected ']'"
    assert streaming[0].position == 11
    assert streaming[0].severity == "error" and streaming[0].recoverable


def test_json_rule_reports_an_extra_closer_while_streaming(drive):
    streaming, _ = drive(json_rule(), '{"a": 1}}', complete=False)
    assert [v.position for v in streaming] == [8]


def test_json_rule_ignores_brackets_and_escaped_quotes_inside_strings(drive):
    streaming, final = drive(json_rule(), '["\\\\", "\\"}", "]]]"]', every=1)
    assert streaming == [] and final == []


def test_json_rule_reports_unclosed_brackets_at_completion_in_nesting_order(drive):
    streaming, final = drive(json_rule(), '{"a": [1, 2')
    assert streaming == []
    assert "expected ']}'" in final[0].message


def test_json_rule_reports_an_unterminated_string_at_completion(drive):
    _, final = drive(json_rule(), '{"a": "hel')
    assert final[0].message == "unterminated string at end of JSON output"


def test_json_rule_does_not_apply_to_prose(drive):
    assert drive(json_rule(), "Hello } world ]") == ([], [])


def test_json_rule_resumes_after_an_escape_split_across_checks(drive):
    streaming, final = drive(json_rule(), ['{"a": "x\\', '"', '"}'], every=1)
    assert streaming == [] and final == []


def test_json_rule_reset_forgets_the_previous_attempt():
    engine = GuardrailEngine([json_rule()])
    engine.start()
    assert engine.check_streaming('{"a": [', '{"a": [', 3) == []
    engine.start()
    assert engine.check_complete("[1, 2]", 4) == []


def test_strict_json_rule_requires_an_object_or_array(final):
    assert final(strict_json_rule(), '{"a": 1}') == []
    assert "object or an array" in final(strict_json_rule(), "42")[0].message
    assert "not valid JSON" in final(strict_json_rule(), '{"a": }')[0].message


def test_strict_json_rule_runs_only_at_completion():
    rule = strict_json_rule()
    assert rule.streaming is False
    assert rule.check(GuardrailContext("{", "{", False, 1)) == []


# -- markdown_rule -----------------------------------------------------------------------
def test_markdown_rule_reports_an_unclosed_fence_at_completion_only(drive):
    streaming, final = drive(markdown_rule(), "Intro\n```python\nprint(1)\n")
    assert streaming == []
    assert final[0].message == "code fence '```' opened and never closed"
    assert final[0].position == 6


def test_markdown_rule_accepts_closed_fences_and_ignores_tables_inside_them(drive):
    text = "```\n| a | b |\n| 1 |\n```\n~~~~\nx\n~~~~\n"
    assert drive(markdown_rule(), text) == ([], [])


def test_markdown_rule_warns_on_a_table_row_with_the_wrong_column_count(drive):
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 |\n| 4 | 5 | 6 |\n\nend"
    streaming, final = drive(markdown_rule(), text)
    assert [v.severity for v in streaming] == ["warning"]
    assert streaming[0].message == "table row has 1 column(s), the header has 2"
    assert final == []


def test_markdown_rule_counts_escaped_pipes_as_text(drive):
    assert drive(markdown_rule(), "| a \\| b | c |\n|---|---|\n| 1 | 2 |\n") == ([], [])


# -- latex_rule --------------------------------------------------------------------------
def test_latex_rule_reports_a_misordered_end_while_streaming(drive):
    text = "\\begin{align}\n\\begin{matrix}\n\\end{align}\n\\end{matrix}\n"
    streaming, _ = drive(latex_rule(), text, complete=False)
    assert streaming[0].message == "\\end{align} closes \\begin{matrix}"


def test_latex_rule_reports_unclosed_environments_and_math_at_completion(drive):
    streaming, final = drive(latex_rule(), "\\begin{equation}\nx\n\\[ y\n$$ z\n")
    assert streaming == []
    assert [v.message for v in final] == [
        "\\begin{equation} is never closed",
        "display math \\[ is never closed",
        "$$ math is never closed",
    ]


def test_latex_rule_accepts_balanced_math(drive):
    text = "Let $x$ be \\[ x^2 \\] and $$y$$.\n\\begin{a}\\begin{b}\\end{b}\\end{a}\n"
    assert drive(latex_rule(), text) == ([], [])


def test_latex_rule_leaves_dollar_prices_in_prose_alone(drive):
    assert drive(latex_rule(), "It costs $5 today.") == ([], [])


def test_latex_rule_warns_on_an_odd_dollar_in_latex_text(final):
    violations = final(latex_rule(), "Take $\\frac{1}{2} and \\alpha$ then $x")
    assert [v.severity for v in violations] == ["warning"]


# -- pattern_rule ------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "category_message"), [
    ("Well. As an AI language model, I think so.", "meta commentary"),
    ("Sorry, I can't help with that request.", "the model refused"),
    ("Answer: 4 <|im_end|> more", "prompt or chat-template tokens"),
    ("Dear [INSERT NAME HERE], welcome.", "unfilled placeholder"),
    ("Hello {{ user.name }}, welcome.", "unfilled placeholder"),
])
def test_pattern_rule_finds_each_category(drive, text, category_message):
    streaming, final = drive(pattern_rule(scan_every=1), text)
    violations = streaming + final
    assert len(violations) == 1
    assert violations[0].message.startswith(category_message)


def test_pattern_rule_reports_hedging_only_at_the_start_as_a_warning(drive):
    streaming, final = drive(pattern_rule(), "Sure! The answer is 4.\nI am sure of it.")
    assert [(v.severity, v.position) for v in streaming + final] == [("warning", 0)]


def test_pattern_rule_finds_a_match_split_across_deltas_exactly_once(drive):
    tokens = ["The result: as ", "an A", "I model ", "I would say yes. " * 30]
    streaming, final = drive(pattern_rule(scan_every=1), tokens)
    assert len(streaming + final) == 1
    assert streaming[0].position == 12


def test_pattern_rule_waits_for_the_word_boundary_before_matching(drive):
    # "as an ai" followed by "d" is "as an aid": not meta commentary
    assert drive(pattern_rule(scan_every=1), ["serve as an ai", "d to them."]) == ([], [])


def test_pattern_rule_batches_scans_but_completion_reads_the_rest():
    rule = pattern_rule(scan_every=256)
    text = "ok " * 10 + "I must decline."
    assert rule.check(GuardrailContext(text, text, False, 5)) == []
    assert len(rule.check(GuardrailContext(text, "", True, 5))) == 1


def test_pattern_rule_rejects_unknown_categories():
    with pytest.raises(ValueError, match="unknown pattern categories"):
        pattern_rule(["rudeness"])


def test_pattern_rule_severity_override(final):
    assert final(pattern_rule(["refusal"], "fatal"), "I must decline.")[0].severity == "fatal"


def test_custom_pattern_rule_reports_matches_with_its_message_and_severity(drive):
    rule = custom_pattern_rule([r"sk-[a-z0-9]{8}", re.compile("SECRET")], "key leaked", "fatal")
    streaming, final = drive(rule, "use sk-abcd1234 and secret and SECRET now", every=2)
    found = streaming + final
    assert [v.message for v in found] == ["key leaked: 'sk-abcd1234'", "key leaked: 'SECRET'"]
    assert {v.severity for v in found} == {"fatal"}


def test_custom_pattern_rule_needs_a_pattern():
    with pytest.raises(ValueError):
        custom_pattern_rule([])


# -- zero_output_rule --------------------------------------------------------------------
@pytest.mark.parametrize(("text", "message"), [
    ("", "empty output"),
    (" \n\t", "whitespace-only output"),
    ("...!!!", "noise-only output: '...!!!'"),
    ("aaaaaaa", "noise-only output: 'aaaaaaa'"),
])
def test_zero_output_rule_rejects_empty_and_noise(final, text, message):
    assert final(zero_output_rule(), text)[0].message == message


def test_zero_output_rule_accepts_real_output_and_waits_for_completion(final):
    assert final(zero_output_rule(), "42") == []
    assert zero_output_rule().check(GuardrailContext("", "", False, 0)) == []


# -- repetition_rule ---------------------------------------------------------------------
def test_repetition_rule_reports_a_sentence_said_three_times_while_streaming(drive):
    text = "The weather is lovely today. " * 3 + "Something else entirely here."
    streaming, _ = drive(repetition_rule(), text)
    assert len(streaming) == 1 and "repeated 3 times" in streaming[0].message


def test_repetition_rule_reports_a_looping_tail_once(drive):
    streaming, final = drive(repetition_rule(sentence_repeats=99), "again and more " * 60)
    assert len(streaming + final) == 1
    assert "repeat" in streaming[0].message


def test_repetition_rule_accepts_varied_text(drive):
    text = " ".join(f"Sentence number {i} says something new." for i in range(50))
    assert drive(repetition_rule(), text) == ([], [])


# -- stall_rule --------------------------------------------------------------------------
def test_stall_rule_warns_when_the_gap_between_checks_is_too_long():
    ticks = iter([0.0, 1.0, 8.0, 9.0])
    rule = stall_rule(5.0, clock=lambda: next(ticks))
    results = [rule.check(GuardrailContext("x" * n)) for n in (1, 2, 3, 4)]
    assert [len(r) for r in results] == [0, 0, 1, 0]
    assert results[2][0].severity == "warning"
