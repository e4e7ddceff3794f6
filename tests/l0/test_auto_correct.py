"""auto_correct_json and its helpers: the faults of the reference, the corpus, properties."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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

DATA = Path(__file__).parents[1] / "data"
CORPUS = [json.loads(line) for line in (DATA / "broken_json.jsonl").read_text().splitlines()]
MODEL_CORPUS = [json.loads(line) for line in
                (DATA / "broken_json_models.jsonl").read_text(encoding="utf-8").splitlines()]


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


@pytest.mark.parametrize("case", CORPUS + MODEL_CORPUS,
                         ids=[case["name"] for case in CORPUS + MODEL_CORPUS])
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
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
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


def test_model_corpus_is_large_and_describes_each_failure():
    assert len(MODEL_CORPUS) >= 200
    assert len({case["kind"] for case in MODEL_CORPUS}) >= 15
    assert all(case["failure"] and case["kind"] for case in MODEL_CORPUS)
    assert not {case["input"] for case in MODEL_CORPUS} & {case["input"] for case in CORPUS
                                                           if case["kind"] != "valid"}


def strictly_parsed(text: str) -> Any:
    def reject(name: str) -> None:
        raise ValueError(name)
    return json.loads(text, parse_constant=reject)


def assert_result_is_honest(text: str) -> None:
    result = auto_correct_json(text)
    if result.valid:
        strictly_parsed(result.text)
    else:
        assert result.text == text and result.error and not result.corrected


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_never_raises_on_any_text(text):
    assert_result_is_honest(text)


JSON_LOOKING = st.lists(st.sampled_from([
    "{", "}", "[", "]", "(", ")", '"', "'", ":", ",", " ", "\n", "//", "/*", "*/", "#",
    "0", "17", "2.5", "-", "+", ".", "e", "_", "\\", "\\u00", "true", "None", "NaN",
    "undefined", "key", "word", "...", "…", "```json\n", "```", '""', "\t", "\x00", "é",
]), max_size=60).map("".join)


@settings(max_examples=1500, deadline=None)
@given(JSON_LOOKING)
def test_never_raises_on_json_looking_text(text):
    assert_result_is_honest(text)


@settings(max_examples=300, deadline=None)
@given(JSON_LOOKING)
def test_several_values_as_a_list_never_raises_either(text):
    result = auto_correct_json(text, several_values="list")
    if result.valid:
        strictly_parsed(result.text)


def test_behaves_the_same_under_python_dash_o():
    inputs = ['{"n": 1, "tags": [1, 2, ...]}', "#\\e_-x\ntrue/**/)None \".key{1...[//",
              '{"value": 82_461_110}', "[.", '{"a": (1, 2)', "{'a', 'b'}", "-", "..."]
    script = ("import json, sys\n"
              "from cascadeflow.l0.auto_correct import auto_correct_json\n"
              "results = [auto_correct_json(t) for t in json.loads(sys.stdin.read())]\n"
              "print(json.dumps([[r.text, r.valid] for r in results]))\n")
    done = subprocess.run([sys.executable, "-O", "-c", script], input=json.dumps(inputs),
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    expected = [[auto_correct_json(t).text, auto_correct_json(t).valid] for t in inputs]
    assert json.loads(done.stdout) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ('{"n": 1, "tags": [1, 2, ...]}', {"n": 1, "tags": [1, 2]}),
    ('{"key1": ["value1", "value2"}, "key2": ["value3", "value4"]}',
     {"key1": ["value1", "value2"], "key2": ["value3", "value4"]}),
    ('["a" "b" "c" 1', ["a", "b", "c", 1]),
    ('{"coords": (1, 2), "ok": true}', {"coords": [1, 2], "ok": True}),
    ('{"value": 82_461_110}', {"value": 82461110}),
    ('{"rowId": 57eeeeb1-450b-482c, "n": 2}', {"rowId": "57eeeeb1-450b-482c", "n": 2}),
    ('{"a": 1/3, "b": 10-20, "c": 1.1.1, "d": 2notanumber}',
     {"a": "1/3", "b": "10-20", "c": "1.1.1", "d": "2notanumber"}),
    ('["key": "value"]', [{"key": "value"}]),
    ('{""key"": ""value"", "n": 1}', {"key": "value", "n": 1}),
    ('{"a": 1, stray words "b": 2}', {"a": 1, "b": 2}),
    ('{"a": "" /* ok */, "b": 1}', {"a": "", "b": 1}),
    ("{'red', 'green'}", ["red", "green"]),
    ('{"ids": ["a", "b", …]}', {"ids": ["a", "b"]}),
    ('{"a": [1, 2]], "b": 3}', {"a": [1, 2], "b": 3}),
    ('{"score": NaN, "max": Infinity}', {"score": None, "max": None}),
    ('{\u201cname\u201d: \u201cAda\u201d, \u201cn\u201d: 1}', {"name": "Ada", "n": 1}),
    ('{"name": "Ada, "age": 36}', {"name": "Ada", "age": 36}),
    ('{"value_1": true, SHOULD_NOT_EXIST "value_2": "data" AAAA }',
     {"value_1": True, "value_2": "data"}),
    ('{"group": (1), "pair": (1, 2), "one": (1,)}', {"group": 1, "pair": [1, 2], "one": [1]}),
    ("{\"note\": \"it\\'s here\", \"n\": 1,}", {"note": "it's here", "n": 1}),
    ('{"key": "value, value2"```', {"key": "value, value2"}),
])
def test_recovers_and_keeps_the_rest_of_the_document(text, expected):
    assert value_of(text) == expected


def test_several_top_level_values_give_the_first_or_a_list():
    text = '{"id": 1}\n{"id": 2}\n{"id": 3} and that is all'
    assert value_of(text) == {"id": 1}
    result = auto_correct_json(text, several_values="list")
    assert json.loads(result.text) == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert "collected_several_values" in result.corrections
    assert json.loads(auto_correct_json('{"a": 1', several_values="list").text) == {"a": 1}
    with pytest.raises(ValueError, match="several_values"):
        auto_correct_json("{}", several_values="all")  # type: ignore[arg-type]


def test_string_contents_are_kept_while_repairing():
    text = "{'url': 'http://x.com/a//b', 'note': 'wait... (really) 1_000', 'n': 1,}"
    assert value_of(text) == {"url": "http://x.com/a//b",
                              "note": "wait... (really) 1_000", "n": 1}
