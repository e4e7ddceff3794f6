"""auto_correct_json and its helpers: the faults of the reference, the corpus, properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascadeflow.l0.auto_correct import (
    auto_correct_json,
    balance_braces,
    extract_json_from_markdown,
    remove_trailing_commas,
)

CORPUS = [json.loads(line) for line in
          (Path(__file__).parents[1] / "data" / "broken_json.jsonl").read_text().splitlines()]


def value_of(text: str) -> Any:
    result = auto_correct_json(text)
    assert result.valid, result.error
    return json.loads(result.text)


def test_valid_json_is_returned_untouched():
    text = '{ "a" : [1, 2.50, "x//y"] }'
    result = auto_correct_json(text)
    assert result.text is text and not result.corrected and result.corrections == ()


def test_closes_brackets_in_nesting_order():
    assert value_of('{"a": [1, 2') == {"a": [1, 2]}
    assert balance_braces('{"a": [1, {"b": 2') == '{"a": [1, {"b": 2}]}'


def test_closes_an_unterminated_string():
    assert value_of('{"a": "hel') == {"a": "hel"}
    assert balance_braces('["x\\') == '["x"]'


def test_keeps_double_slashes_inside_strings():
    text = '{"url": "http://x.com", // the site\n "n": 1 /* one */}'
    assert value_of(text) == {"url": "http://x.com", "n": 1}
    assert "removed_comments" in auto_correct_json(text).corrections


def test_escapes_raw_newlines_inside_strings():
    result = auto_correct_json('{"a": "line\nbreak"}')
    assert result.text == '{"a":"line\\nbreak"}'
    assert result.corrections == ("escaped_control_characters",)


def test_fixes_a_misordered_closer():
    assert value_of('{"a": [1, 2}') == {"a": [1, 2]}


@pytest.mark.parametrize(("text", "expected"), [
    ('```json\n{"a": 1,}\n```', {"a": 1}),
    ("Here you go: {'a': 'it\\'s', b: True, c: None} Enjoy!", {"a": "it's", "b": True,
                                                            "c": None}),
    ('{"a": 1 "b": 2}', {"a": 1, "b": 2}),
    ('[1,, 2,]', [1, 2]),
    ('{"msg": "He said "hi" there"}', {"msg": 'He said "hi" there'}),
    ('{"a": 1, "b', {"a": 1}),
    ('{"a": tr', {"a": True}),
])
def test_repairs_what_models_produce(text, expected):
    result = auto_correct_json(text)
    assert result.corrected and json.loads(result.text) == expected


@pytest.mark.parametrize("text", ["", "   ", "I'm sorry, I can't do that.", "-"])
def test_reports_text_without_json_as_not_correctable(text):
    result = auto_correct_json(text)
    assert (result.valid, result.corrected, result.text) == (False, False, text)
    assert result.error


def test_extract_json_from_markdown_prefers_the_json_block():
    text = "```bash\nls\n```\n```json\n[1]\n```"
    assert extract_json_from_markdown(text) == "[1]"
    assert extract_json_from_markdown('{"a": "```"}') == '{"a": "```"}'
    assert extract_json_from_markdown("```json\n{\"a\": 1") == '{"a": 1'


def test_remove_trailing_commas_leaves_strings_alone():
    assert remove_trailing_commas('{"a": ",]", "b": [1,],}') == '{"a": ",]", "b": [1]}'


@pytest.mark.parametrize("case", CORPUS, ids=[case["name"] for case in CORPUS])
def test_corpus_case(case):
    result = auto_correct_json(case["input"])
    if not case["correctable"]:
        assert not result.valid
        return
    assert result.valid, result.error
    assert json.loads(result.text) == case["expected"]
    if case["kind"] == "valid":
        assert result.text == case["input"]


def test_corpus_is_large_and_varied():
    assert len(CORPUS) >= 200
    assert len({case["kind"] for case in CORPUS}) >= 15


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(json_values, st.booleans())
def test_any_json_document_is_unchanged(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    result = auto_correct_json(text)
    assert result.text is text and not result.corrected and result.valid


@settings(max_examples=150, deadline=None)
@given(json_values, st.data())
def test_any_prefix_parses_or_is_reported_not_correctable(value, data):
    text = json.dumps(value, ensure_ascii=False)
    prefix = text[: data.draw(st.integers(0, len(text)))]
    result = auto_correct_json(prefix)
    if result.valid:
        repaired = json.loads(result.text)
        if isinstance(value, (dict, list)) and prefix:
            assert type(repaired) is type(value)  # the root kind survives truncation
    else:
        assert result.text == prefix and result.error
