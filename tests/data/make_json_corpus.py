"""Writes broken_json.jsonl: broken JSON of the kinds models produce, with expected values.

Each case is ``{"name", "kind", "input", "expected", "correctable"}``. Broken inputs are made
from known documents by a small serializer of its own (quote style, key quoting, Python
literals, trailing or missing commas, comments, fences, prose, truncation), so every expected
value is the document the text was made from, independent of any repair code. Run it again
after editing: ``python tests/data/make_json_corpus.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BASES: dict[str, Any] = {
    "user": {"name": "Ada Lovelace", "age": 36, "email": "ada@example.com", "active": True},
    "url": {"homepage": "http://x.com/a//b", "docs": "https://docs.example.org/#intro",
            "note": "see /* not a comment */ here"},
    "nested": {"config": {"retries": 3, "backoff": [0.5, 1.0, 2.0], "enabled": False},
               "owner": None, "tags": ["a", "b"]},
    "items": [{"id": 1, "title": "Buy milk", "done": False},
              {"id": 2, "title": "Write report", "done": True}],
    "quotes": {"quote": "She said \"hi\" and left", "apostrophe": "it's fine",
               "mixed": "Don't say \"never\""},
    "braces": {"template": "use {name} and [list], or {}", "code": "if (a) { b[0] = 1; }"},
    "unicode": {"city": "Zürich", "greeting": "こんにちは", "emoji": "🎉 done"},
    "numbers": {"int": -42, "float": 3.14159, "exp": 1.5e-05, "zero": 0, "big": 12345678901234},
    "empty": {"list": [], "object": {}, "string": ""},
    "sentiment": {"label": "positive", "score": 0.93, "reasons": ["clear praise", "no issues"]},
    "extraction": {"people": [{"name": "Bob", "role": "CEO"}, {"name": "Eve", "role": "CTO"}],
                   "company": "Acme, Inc."},
    "escapes": {"path": "C:\\temp\\new", "tab": "a\tb", "slash": "a/b", "hash": "#1 pick"},
    "array_of_numbers": [1, 2, 3, 4.5, -6],
    "deep": {"a": {"b": {"c": {"d": [1, [2, [3, {"e": "deep"}]]]}}}},
    "commas": {"list": "a, b, c,", "end": "x,]", "obj": "k,}"},
}

IDENT_KEYS = {"user", "url", "nested", "items", "sentiment", "extraction", "numbers", "empty",
              "deep", "escapes", "commas"}


def string(value: str, quote: str) -> str:
    escaped = json.dumps(value, ensure_ascii=False)[1:-1]
    if quote == "'":
        escaped = escaped.replace('\\"', '"').replace("'", "\\'")
    return quote + escaped + quote


def emit(value: Any, style: dict[str, Any], indent: int = 0) -> str:
    """Serialize in a 'model' style; every style keeps the value the same."""
    pad = "  " * (indent + 1)
    end_pad = "  " * indent
    quote = style.get("quote", '"')
    if isinstance(value, bool):
        return ("True" if value else "False") if style.get("python") else json.dumps(value)
    if value is None:
        return "None" if style.get("python") else "null"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return string(value, quote)
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            shown = key if style.get("bare_keys") and key.isidentifier() else string(key, quote)
            parts.append(f"{shown}: {emit(item, style, indent + 1)}")
        opener, closer = "{", "}"
    else:
        parts = [emit(item, style, indent + 1) for item in value]
        opener, closer = "[", "]"
    if not parts:
        return opener + closer
    if style.get("comments"):
        parts = [f"// item {i}\n{pad}{p}" if i == 0 else f"{p} /* ok */"
                 for i, p in enumerate(parts)]
    separator = "\n" if style.get("missing_commas") else ",\n"
    body = (separator + pad).join(parts)
    trailing = "," if style.get("trailing") else ""
    return f"{opener}\n{pad}{body}{trailing}\n{end_pad}{closer}"


STYLES: dict[str, dict[str, Any]] = {
    "trailing_comma": {"trailing": True},
    "single_quotes": {"quote": "'"},
    "python_literals": {"python": True},
    "comments": {"comments": True},
    "unquoted_keys": {"bare_keys": True},
    "missing_commas": {"missing_commas": True},
    "single_quotes_python_trailing": {"quote": "'", "python": True, "trailing": True},
    "unquoted_keys_comments": {"bare_keys": True, "comments": True},
}

PROSE_BEFORE = "Sure! Here is the JSON you asked for:\n\n"
PROSE_AFTER = "\n\nLet me know if you need anything else."


def last_string_path(value: Any) -> list[Any] | None:
    """Path to the last leaf in serialization order, if that leaf is a string."""
    if isinstance(value, dict) and value:
        key = list(value)[-1]
        rest = last_string_path(value[key])
        return None if rest is None else [key, *rest]
    if isinstance(value, list) and value:
        rest = last_string_path(value[-1])
        return None if rest is None else [len(value) - 1, *rest]
    return [] if isinstance(value, str) and len(value) >= 4 else None


def replaced(value: Any, path: list[Any], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


def truncations(name: str, value: Any) -> list[dict[str, Any]]:
    full = json.dumps(value, ensure_ascii=False)
    closers = len(full) - len(full.rstrip("}]"))
    open_part = full[: len(full) - closers]
    cases = [{"name": f"{name}/truncated_closers", "kind": "truncated", "input": open_part,
              "expected": value}]
    if closers > 1:
        cases.append({"name": f"{name}/truncated_one_closer", "kind": "truncated",
                      "input": full[:-1], "expected": value})
    cases.append({"name": f"{name}/truncated_after_comma", "kind": "truncated",
                  "input": open_part + ", ", "expected": value})
    if isinstance(value, dict) and full.endswith("}") and closers == 1:
        cases.append({"name": f"{name}/truncated_in_next_key", "kind": "truncated",
                      "input": open_part + ', "sum', "expected": value})
    path = last_string_path(value)
    if path is not None:
        leaf = value
        for step in path:
            leaf = leaf[step]
        half = leaf[: len(leaf) // 2]
        escaped_leaf = json.dumps(leaf, ensure_ascii=False)[1:-1]
        before = open_part[: len(open_part) - len(escaped_leaf) - 1]
        text = before + json.dumps(half, ensure_ascii=False)[1:-1]
        cases.append({"name": f"{name}/truncated_in_string", "kind": "truncated",
                      "input": text, "expected": replaced(value, path, half)})
    return cases


# Hand-written cases: things a serializer does not produce.
HAND: list[dict[str, Any]] = [
    {"name": "misordered_closer_array_in_object", "kind": "misordered_closers",
     "input": '{"a": [1, 2}', "expected": {"a": [1, 2]}},
    {"name": "misordered_closer_nested", "kind": "misordered_closers",
     "input": '[{"a": 1, "b": [true]]', "expected": [{"a": 1, "b": [True]}]},
    {"name": "missing_inner_closer", "kind": "misordered_closers",
     "input": '{"list": [{"x": 1}, {"x": 2}}', "expected": {"list": [{"x": 1}, {"x": 2}]}},
    {"name": "extra_closer_at_end", "kind": "extra_text",
     "input": '{"a": 1}}', "expected": {"a": 1}},
    {"name": "raw_newline_in_string", "kind": "control_characters",
     "input": '{"poem": "roses are red\nviolets are blue"}',
     "expected": {"poem": "roses are red\nviolets are blue"}},
    {"name": "raw_tab_in_string", "kind": "control_characters",
     "input": '{"cols": "a\tb\tc"}', "expected": {"cols": "a\tb\tc"}},
    {"name": "raw_newline_truncated", "kind": "control_characters",
     "input": '{"text": "line one\nline', "expected": {"text": "line one\nline"}},
    {"name": "inner_quotes", "kind": "inner_quotes",
     "input": '{"msg": "He said "hello" to me"}', "expected": {"msg": 'He said "hello" to me'}},
    {"name": "inner_quotes_then_more", "kind": "inner_quotes",
     "input": '{"a": "the "best" one", "b": 2}', "expected": {"a": 'the "best" one', "b": 2}},
    {"name": "apostrophe_in_single_quoted", "kind": "single_quotes",
     "input": "{'text': 'it's here'}", "expected": {"text": "it's here"}},
    {"name": "url_with_line_comment", "kind": "comments",
     "input": '{"u": "http://x.com", // the site\n "n": 1}',
     "expected": {"u": "http://x.com", "n": 1}},
    {"name": "hash_comment", "kind": "comments",
     "input": '{\n  "a": 1, # first\n  "b": 2\n}', "expected": {"a": 1, "b": 2}},
    {"name": "block_comment_start", "kind": "comments",
     "input": '/* result */ {"ok": true}', "expected": {"ok": True}},
    {"name": "undefined_literal", "kind": "python_literals",
     "input": '{"a": undefined, "b": 1}', "expected": {"a": None, "b": 1}},
    {"name": "missing_comma_same_line", "kind": "missing_commas",
     "input": '{"a": 1 "b": 2 "c": [1 2 3]}', "expected": {"a": 1, "b": 2, "c": [1, 2, 3]}},
    {"name": "double_comma", "kind": "extra_commas",
     "input": '[1,, 2, 3]', "expected": [1, 2, 3]},
    {"name": "leading_comma", "kind": "extra_commas",
     "input": '{, "a": 1}', "expected": {"a": 1}},
    {"name": "unquoted_value", "kind": "unquoted_values",
     "input": '{"status": ok, "code": 200}', "expected": {"status": "ok", "code": 200}},
    {"name": "unquoted_keys_and_values", "kind": "unquoted_values",
     "input": "{name: John Smith, city: Paris}",
     "expected": {"name": "John Smith", "city": "Paris"}},
    {"name": "truncated_literal", "kind": "truncated",
     "input": '{"done": tr', "expected": {"done": True}},
    {"name": "truncated_number_dot", "kind": "truncated",
     "input": '{"x": 1.', "expected": {"x": 1}},
    {"name": "truncated_escape", "kind": "truncated",
     "input": '{"p": "C:\\', "expected": {"p": "C:"}},
    {"name": "truncated_unicode_escape", "kind": "truncated",
     "input": '{"s": "caf\\u00', "expected": {"s": "caf"}},
    {"name": "fence_unclosed", "kind": "fenced",
     "input": '```json\n{"a": [1, 2]}\n', "expected": {"a": [1, 2]}},
    {"name": "fence_no_language", "kind": "fenced",
     "input": '```\n[1, 2]\n```', "expected": [1, 2]},
    {"name": "fence_after_other_block", "kind": "fenced",
     "input": 'Run:\n```bash\nls\n```\nThen:\n```json\n{"ok": 1}\n```', "expected": {"ok": 1}},
    {"name": "two_objects_take_first", "kind": "extra_text",
     "input": '{"a": 1}\n{"b": 2}', "expected": {"a": 1}},
    {"name": "prose_with_bracket_note", "kind": "prose",
     "input": 'Answer [draft]: {"a": 1}', "expected": {"a": 1}},
    {"name": "python_dict_repr", "kind": "python_literals",
     "input": "{'a': None, 'b': [True, False], 'c': 'x'}",
     "expected": {"a": None, "b": [True, False], "c": "x"}},
    {"name": "nan_value", "kind": "python_literals",
     "input": '{"score": NaN, "x": 1,}', "expected": {"score": None, "x": 1}},
    {"name": "leading_plus_number", "kind": "numbers",
     "input": '{"delta": +5,}', "expected": {"delta": 5}},
    {"name": "leading_dot_number", "kind": "numbers",
     "input": '{"p": .5,}', "expected": {"p": 0.5}},
    {"name": "missing_value", "kind": "missing_values",
     "input": '{"a": , "b": 2}', "expected": {"a": None, "b": 2}},
]

NOT_CORRECTABLE = [
    "I'm sorry, but I can't help with that request.",
    "",
    "   \n  ",
    "The answer is forty-two.",
    "No data available.",
    "Error: rate limit exceeded",
    "```\nplain text only\n```",
    "<html><body>Bad gateway</body></html>",
    "As an AI language model, I do not have opinions.",
    "-",
]


def build() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for name, value in BASES.items():
        compact = json.dumps(value, ensure_ascii=False)
        pretty = json.dumps(value, ensure_ascii=False, indent=2)
        cases.append({"name": f"{name}/valid_compact", "kind": "valid", "input": compact,
                      "expected": value})
        cases.append({"name": f"{name}/valid_pretty", "kind": "valid", "input": pretty,
                      "expected": value})
        cases.append({"name": f"{name}/fenced", "kind": "fenced",
                      "input": f"```json\n{pretty}\n```", "expected": value})
        cases.append({"name": f"{name}/fenced_with_prose", "kind": "fenced",
                      "input": f"{PROSE_BEFORE}```json\n{pretty}\n```{PROSE_AFTER}",
                      "expected": value})
        cases.append({"name": f"{name}/prose_around", "kind": "prose",
                      "input": f"{PROSE_BEFORE}{compact}{PROSE_AFTER}", "expected": value})
        for style_name, style in STYLES.items():
            if style.get("bare_keys") and name not in IDENT_KEYS:
                continue
            cases.append({"name": f"{name}/{style_name}", "kind": style_name,
                          "input": emit(value, style), "expected": value})
        cases.extend(truncations(name, value))
    for case in HAND:
        cases.append({**case, "name": f"hand/{case['name']}"})
    for index, text in enumerate(NOT_CORRECTABLE):
        cases.append({"name": f"not_json/{index}", "kind": "not_correctable", "input": text,
                      "expected": None, "correctable": False})
    for case in cases:
        case.setdefault("correctable", True)
    return cases


if __name__ == "__main__":
    target = Path(__file__).with_name("broken_json.jsonl")
    rows = build()
    names = [row["name"] for row in rows]
    assert len(names) == len(set(names)), "case names must be unique"
    with target.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} cases to {target}")
