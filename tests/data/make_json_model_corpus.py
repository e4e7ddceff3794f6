"""Writes broken_json_models.jsonl: a second broken-JSON corpus, independent of the first.

Each case is ``{"name", "kind", "failure", "input", "expected", "correctable"}``: ``failure``
describes the way a model went wrong, and ``expected`` is what the model meant, decided from
that description when the case was written, before any repairer ran on it. Truncations are
cut at every kind of token by a writer that tracks the partial document; the rule for a
cut is: containers opened are closed, a member whose key or value has not started is
dropped, a string keeps what was written, a number keeps the digits written, a literal cut
short is completed. Run it again after editing: ``python tests/data/make_json_model_corpus.py``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from make_json_model_cases import FORMS, NOT_CORRECTABLE, QUOTING, RECOVERY, SURROUNDINGS

# Documents of the kinds models are asked for; truncated at every kind of token.
DOCUMENTS: dict[str, Any] = {
    "invoice": {"invoice_id": "INV-2041", "total": 1249.5, "paid": False,
                "lines": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 10}]},
    "profile": {"username": "grace_h", "followers": 10342, "verified": True,
                "bio": "Rear admiral, compiler pioneer", "links": ["https://navy.mil/x"]},
    "classification": {"label": "spam", "confidence": 0.87, "reason": None,
                       "signals": ["all caps", "many links"]},
    "event": {"title": "Launch review", "start": "2025-03-04T09:00:00Z", "remote": True,
              "attendees": [{"name": "Lin", "role": "host"}]},
    "matrix": [[1, 2, 3], [-4, 5.25, 6], []],
    "search": {"query": "rust async", "results": [{"rank": 1, "url": "https://a.dev/1",
                                                    "snippet": "Tokio is a runtime"}],
               "next_page": None},
}


class TruncationWriter:
    """Writes a document token by token, recording each cut point and its expected value."""

    def __init__(self) -> None:
        self.text = ""
        self.root: Any = None
        self.cuts: list[tuple[str, str, Any]] = []  # (token kind, text so far, expected)

    def cut(self, kind: str, text: str, expected: Any) -> None:
        self.cuts.append((kind, text, copy.deepcopy(expected)))

    def attach(self, parent: Any, key: Any, value: Any) -> None:
        if parent is None:
            self.root = value
        elif isinstance(parent, list):
            parent.append(value)
        else:
            parent[key] = value

    def detach(self, parent: Any, key: Any) -> None:
        if parent is None:
            self.root = None
        elif isinstance(parent, list):
            parent.pop()
        else:
            del parent[key]

    def write(self, value: Any, parent: Any = None, key: Any = None) -> None:
        if isinstance(value, dict):
            self.write_object(value, parent, key)
        elif isinstance(value, list):
            self.write_array(value, parent, key)
        elif isinstance(value, str):
            body = json.dumps(value)[1:-1]
            half = value[: len(value) // 2]
            self.attach(parent, key, half)
            self.cut("inside_string", self.text + '"' + json.dumps(half)[1:-1], self.root)
            self.detach(parent, key)
            self.text += '"' + body + '"'
            self.attach(parent, key, value)
        elif isinstance(value, bool) or value is None:
            word = json.dumps(value)
            self.attach(parent, key, value)
            self.cut("inside_literal", self.text + word[:2], self.root)
            self.text += word
        else:
            self.write_number(value, parent, key)
        if parent is not None:
            self.cut("after_value", self.text, self.root)

    def write_number(self, value: float, parent: Any, key: Any) -> None:
        shown = json.dumps(value)
        if len(shown) > 1:
            prefix = shown[: len(shown) - 1].rstrip(".")
            if prefix not in ("", "-"):
                partial = float(prefix) if "." in prefix else int(prefix)
                self.attach(parent, key, partial)
                self.cut("inside_number", self.text + shown[: len(shown) - 1], self.root)
                self.detach(parent, key)
        self.text += shown
        self.attach(parent, key, value)

    def write_object(self, value: dict[str, Any], parent: Any, key: Any) -> None:
        built: dict[str, Any] = {}
        self.attach(parent, key, built)
        self.text += "{"
        self.cut("after_open_brace", self.text, self.root)
        for index, (name, item) in enumerate(value.items()):
            if index:
                self.text += ", "
                self.cut("after_comma", self.text, self.root)
            self.cut("inside_key", self.text + '"' + name[: len(name) // 2 + 1], self.root)
            self.text += json.dumps(name)
            self.cut("after_key", self.text, self.root)
            self.text += ": "
            self.cut("after_colon", self.text, self.root)
            self.write(item, built, name)
        self.text += "}"

    def write_array(self, value: list[Any], parent: Any, key: Any) -> None:
        built: list[Any] = []
        self.attach(parent, key, built)
        self.text += "["
        self.cut("after_open_bracket", self.text, self.root)
        for index, item in enumerate(value):
            if index:
                self.text += ", "
                self.cut("after_comma", self.text, self.root)
            self.write(item, built, None)
        self.text += "]"


def truncations() -> list[dict[str, Any]]:
    """For every document, two cuts per kind of token (a third and two thirds of the way)."""
    cases: list[dict[str, Any]] = []
    for name, document in DOCUMENTS.items():
        writer = TruncationWriter()
        writer.write(document)
        assert json.loads(writer.text) == document
        by_kind: dict[str, list[tuple[str, Any]]] = {}
        for kind, text, expected in writer.cuts:
            if text != writer.text:
                by_kind.setdefault(kind, []).append((text, expected))
        for kind, occurrences in sorted(by_kind.items()):
            picks = sorted({len(occurrences) // 3, len(occurrences) * 2 // 3})
            for pick in picks:
                text, expected = occurrences[pick]
                cases.append({"name": f"truncated/{name}/{kind}/{pick}", "kind": "truncated",
                              "failure": f"the stream stopped {kind.replace('_', ' ')}",
                              "input": text, "expected": expected})
    return cases


def build() -> list[dict[str, Any]]:
    cases = truncations()
    for group in (SURROUNDINGS, QUOTING, FORMS, RECOVERY):
        for kind, name, failure, text, expected in group:
            cases.append({"name": f"{kind}/{name}", "kind": kind, "failure": failure,
                          "input": text, "expected": expected, "correctable": True})
    for name, failure, text in NOT_CORRECTABLE:
        cases.append({"name": f"not_json/{name}", "kind": "not_correctable",
                      "failure": failure, "input": text, "expected": None,
                      "correctable": False})
    for name, document in DOCUMENTS.items():
        for style, text in (("compact", json.dumps(document)),
                            ("pretty", json.dumps(document, indent=4, ensure_ascii=False))):
            cases.append({"name": f"valid/{name}/{style}", "kind": "valid",
                          "failure": "none: valid JSON, to be returned untouched",
                          "input": text, "expected": document})
    for case in cases:
        case.setdefault("correctable", True)
    return cases


if __name__ == "__main__":
    target = Path(__file__).with_name("broken_json_models.jsonl")
    rows = build()
    names = [row["name"] for row in rows]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"case names must be unique: {duplicates}"
    with target.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} cases to {target}")
